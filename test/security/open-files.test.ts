import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { afterEach, beforeAll, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/ports.js";
import { brokerEnv, buildBroker, waitFor } from "../integration/support.js";
import { RawClient } from "../helpers/raw-client.js";

/*
 * The open-files limit: a process can hold only so many sockets, and an attacker (or a fleet reconnecting at once)
 * can open more. Connections beyond the limit are dropped at accept (libuv keeps a spare descriptor to accept and
 * close them; an accept it cannot complete is logged, test/unit/handle-stream.test.ts), the broker keeps the
 * clients it has, and it accepts again as soon as descriptors are free. Run against the built broker with
 * `ulimit -n 64`.
 */

const root = new URL("../..", import.meta.url).pathname;
const LIMIT = 64;
const children: ChildProcess[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  await buildBroker();
}, 90_000);

afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

async function spawnLimited(): Promise<{ child: ChildProcess; port: number; err: () => string }> {
  const port = await freePort();
  const env = brokerEnv(port, { MQGATE_METRICS_PORT: "off" });
  const child = spawn("sh", ["-c", `ulimit -n ${LIMIT} && exec "$0" dist/broker.mjs`, process.execPath], { cwd: root, env, stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-50_000)));
  await waitFor("broker ready", () => err.includes("broker ready") || child.exitCode !== null, 15_000, () => err);
  expect(child.exitCode, err).toBeNull();
  return { child, port, err: () => err };
}

/** Opens a socket; resolves with it once connected (the kernel completes the handshake before the broker accepts). */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" }, () => resolve(s));
    s.once("error", reject);
    sockets.push(s);
  });
}

it("connections beyond the open-files limit are dropped; connected clients stay, and new ones get in once descriptors are free", async () => {
  const broker = await spawnLimited();
  // Some clients connected before the flood.
  const early: RawClient[] = [];
  for (let i = 0; i < 5; i++) early.push(await RawClient.connected(broker.port, { clientId: `early-${i}` }));

  // Three times the limit: the kernel completes every handshake; the broker cannot hold them all.
  const flood = await Promise.all(Array.from({ length: LIMIT * 3 }, () => open(broker.port)));
  const closedByBroker = new Set<Socket>();
  for (const s of flood) {
    s.on("error", () => {});
    s.on("close", () => closedByBroker.add(s));
  }
  await waitFor("the broker to drop what it cannot hold", () => closedByBroker.size >= LIMIT, 10_000);
  expect(broker.child.exitCode, broker.err()).toBeNull();

  // The clients from before still work: a message goes from one to another.
  const [a, b] = early as [RawClient, RawClient];
  b.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "fd/t", qos: 1 }] });
  await b.expect("suback");
  a.send({ cmd: "publish", topic: "fd/t", payload: Buffer.from("still here"), qos: 1, messageId: 2, retain: false, dup: false });
  await a.expect("puback");
  expect((await b.expect("publish")).payload.toString()).toBe("still here");

  // Descriptors free again: a new client connects.
  for (const s of flood) s.destroy();
  let late: RawClient | null = null;
  for (let attempt = 0; late === null && attempt < 50; attempt++) {
    late = await RawClient.connected(broker.port, { clientId: "late" }).catch(() => null);
    if (late === null) await new Promise((r) => setTimeout(r, 100));
  }
  expect(late, broker.err()).not.toBeNull();
  expect(broker.child.exitCode, broker.err()).toBeNull();
  for (const c of [...early, late as RawClient]) c.socket.destroy();
}, 60_000);
