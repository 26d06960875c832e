import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import mqtt from "mqtt";
import { generate, parser as createParser, type Packet, type QoS } from "mqtt-packet";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/ports.js";
import { RawClient } from "../helpers/raw-client.js";
import { brokerEnv } from "../integration/support.js";

/*
 * Issue 12, "One SUBSCRIBE packet can take a gigabyte": 200 retained messages of 10 KB, and a client that never
 * reads its socket sends one SUBSCRIBE whose filters all match every one of them. Retained delivery streams from the
 * store under the slow-consumer bound (broker/retained.ts), so the broker's memory stays flat. The broker runs as a
 * real process (dist/broker.mjs, built by the global setup); its RSS is read from /proc/<pid>/status.
 */

const root = new URL("../..", import.meta.url).pathname;
const RETAINED = 200;
const PAYLOAD = 10 * 1024;
const TOPIC_BASE = "a/b/c/d/e/f/g/h";
const RSS_BUDGET = 64 * 1024 * 1024;
const ATTACK_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** 300 distinct filters, each matching every `a/b/c/d/e/f/g/h/<n>`: each level literal or `+`, ending in `+` or `#`. */
function distinctFilters(): string[] {
  const levels = TOPIC_BASE.split("/");
  const out: string[] = ["#"];
  for (let mask = 0; out.length < 300; mask++) {
    const prefix = levels.map((l, i) => ((mask >> i) & 1 ? "+" : l)).join("/");
    out.push(`${prefix}/+`, `${prefix}/#`);
  }
  return out.slice(0, 300);
}

interface Broker {
  child: ChildProcess;
  port: number;
}

async function spawnBroker(): Promise<Broker> {
  const port = await freePort();
  const env = brokerEnv(port, {
    // The default limit of 100 filters per SUBSCRIBE closes this attacker at once (bounded-work.test.ts shows it);
    // raised here so that the retained stream itself is what bounds the work.
    MQGATE_LIMITS__MAX_FILTERS_PER_PACKET: "1000",
  });
  const child = spawn(process.execPath, ["dist/broker.mjs"], { cwd: root, env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  const deadline = Date.now() + 15_000;
  while (!err.includes("broker ready")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`broker did not start:\n${err}`);
    await sleep(20);
  }
  return { child, port };
}

async function seedRetained(port: number): Promise<void> {
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: "seeder", reconnectPeriod: 0 });
  const payload = Buffer.alloc(PAYLOAD, 0x61);
  for (let i = 0; i < RETAINED; i++) await pub.publishAsync(`${TOPIC_BASE}/${i}`, payload, { qos: 1, retain: true });
  await pub.endAsync();
}

/** A client that connects, then never reads its socket again, and sends one SUBSCRIBE. */
async function attack(port: number, filters: string[], qos: QoS): Promise<Socket> {
  const sock = connect({ port, host: "127.0.0.1" });
  sock.on("error", () => {});
  await once(sock, "connect");
  sock.write(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "attacker", clean: true, keepalive: 0 }));
  const [connack] = (await once(sock, "data")) as [Buffer];
  expect(connack[0]).toBe(0x20);
  expect(connack[3]).toBe(0);
  sock.pause();
  sock.write(generate({ cmd: "subscribe", messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos })) }));
  return sock;
}

/** Counts PUBLISH packets once the attacker reads (and acknowledges) again, until `want` arrived. */
async function readPublishes(sock: Socket, want: number, timeoutMs: number): Promise<number> {
  const parser = createParser({ protocolVersion: 4 });
  let count = 0;
  parser.on("packet", (p: Packet) => {
    if (p.cmd !== "publish") return;
    count++;
    if (p.qos === 1) sock.write(generate({ cmd: "puback", messageId: p.messageId as number }));
  });
  sock.on("data", (chunk: Buffer) => parser.parse(chunk));
  sock.resume();
  const deadline = Date.now() + timeoutMs;
  while (count < want && Date.now() < deadline) await sleep(20);
  return count;
}

describe("security: retained amplification (one SUBSCRIBE, a client that never reads)", () => {
  let broker: Broker;

  beforeEach(async () => {
    broker = await spawnBroker();
    await seedRetained(broker.port);
  }, 30_000);

  afterEach(async () => {
    broker.child.kill("SIGKILL");
    if (broker.child.exitCode === null) await once(broker.child, "exit");
  });

  const cases: [string, () => string[], QoS][] = [
    ["'#' repeated 300 times, QoS 0", () => Array.from({ length: 300 }, () => "#"), 0],
    ["300 distinct filters that all match everything, QoS 0", distinctFilters, 0],
    ["300 distinct filters that all match everything, QoS 1 (never acknowledged)", distinctFilters, 1],
  ];

  for (const [name, filters, qos] of cases) {
    it(`${name}: RSS grows by less than 64 MB, other clients are served, the attacker still gets its messages`, async () => {
      const pid = broker.child.pid as number;
      expect(new Set(filters()).size).toBe(name.startsWith("'#'") ? 1 : 300);
      await sleep(300);
      const before = rssBytes(pid);
      const sock = await attack(broker.port, filters(), qos);
      let peak = before;
      const end = Date.now() + ATTACK_MS;
      while (Date.now() < end) {
        peak = Math.max(peak, rssBytes(pid));
        await sleep(50);
      }
      console.log(`${name}: RSS ${(before / 2 ** 20).toFixed(1)} MB -> peak ${(peak / 2 ** 20).toFixed(1)} MB`);
      expect(peak - before, `RSS ${before} -> peak ${peak}`).toBeLessThan(RSS_BUDGET);

      // The broker still serves others: a new subscriber gets every retained message.
      const other = await RawClient.connected(broker.port, { clientId: "bystander" });
      expect(await other.subscribe(`${TOPIC_BASE}/+`, 0)).toEqual([0]);
      for (let i = 0; i < RETAINED; i++) expect((await other.expect("publish")).retain).toBe(true);
      other.destroy();

      // Not a refusal in disguise: once the attacker reads, retained messages flow to it.
      expect(await readPublishes(sock, RETAINED, 15_000)).toBeGreaterThanOrEqual(RETAINED);
      sock.destroy();
    }, 60_000);
  }
});
