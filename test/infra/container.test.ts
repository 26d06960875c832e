import { type ChildProcess, execFile, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../core/auth/index.js";
import { brokerNodeOptionsValue, installedJemalloc, withBrokerEnv } from "../../broker/node-flags.js";
import {
  ACL_DIR,
  APP_DIR,
  BROKER_COMMAND,
  brokerEnvironment,
  brokerHealthCheck,
  DRAIN_MS,
  HEALTHCHECK_SCRIPT,
  STACK_SCRIPT,
  stopTimeoutSeconds,
} from "../../infra/plan/broker.js";
import { type Fauxqs, startFauxqs } from "../helpers/fauxqs.js";
import { startRedisServer, type RedisServer } from "../helpers/redis-server.js";
import { positionOf } from "../helpers/text-position.js";

// The broker as the container runs it (docker cannot run here): the image's files laid out in a directory of their
// own, far from the repository's node_modules, `CMD` as the working directory's command, the task's environment
// from infra/plan/broker.ts plus the secret (a real redis-server standing in for Upstash). Only what a test machine
// needs differs: listeners on loopback and free ports, the app directory's location.

const root = new URL("../..", import.meta.url).pathname;
const run = promisify(execFile);
const USER = "device-1";
const PASSWORD = "correct horse battery staple";

interface Running {
  child: ChildProcess;
  stderr(): string;
  /** The JSON log (pino). */
  stdout(): string;
  exited: Promise<number | string>;
  mqttPort: number;
  wsPort: number;
}

/** The image's filesystem: /app/dist/broker.mjs(.map) and stack.mjs, /app/healthcheck.mjs, /app/config/<acl file>. */
function layOutImage(app: string, aclName: string, acl: string): void {
  mkdirSync(join(app, "dist"), { recursive: true });
  for (const f of ["broker.mjs", "broker.mjs.map", "stack.mjs"]) copyFileSync(join(root, "dist", f), join(app, "dist", f));
  copyFileSync(join(root, "infra/broker-healthcheck.mjs"), join(app, HEALTHCHECK_SCRIPT.slice(APP_DIR.length + 1)));
  mkdirSync(join(app, ACL_DIR.slice(APP_DIR.length + 1)), { recursive: true });
  writeFileSync(join(app, ACL_DIR.slice(APP_DIR.length + 1), aclName), acl);
}

/** `/app/...` paths of the task's environment, moved to where the test laid the image out. */
function relocate(env: Record<string, string>, app: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith(`${APP_DIR}/`) ? join(app, v.slice(APP_DIR.length + 1)) : v]));
}

function startContainer(app: string, env: Record<string, string>): Promise<Running> {
  const [cmd, ...argv] = BROKER_COMMAND;
  expect(cmd).toBe("node");
  // A container's environment holds nothing of the developer's shell: PATH and what the image and task set. The
  // image's process settings (broker/node-flags.ts), with jemalloc from where this machine has it (decision 059).
  const image = withBrokerEnv({ NODE_ENV: "production", NODE_OPTIONS: brokerNodeOptionsValue() }, installedJemalloc());
  const child = spawn(process.execPath, argv, { cwd: app, env: { PATH: process.env.PATH ?? "", ...image, ...env } });
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker not ready within 15 s:\n${stderr}`)), 15_000);
    void exited.then((code) => reject(new Error(`broker exited (${code}) before ready:\n${stderr}`)));
    child.stderr.on("data", () => {
      const ready = /broker ready .*tcp:\/\/[^\s]+:(\d+)\s+ws:\/\/[^\s]+:(\d+)/.exec(stderr);
      if (ready === null) return;
      clearTimeout(timer);
      resolve({ child, stderr: () => stderr, stdout: () => stdout, exited, mqttPort: Number(ready[1]), wsPort: Number(ready[2]) });
    });
  });
}

async function healthcheck(app: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  const [, script] = brokerHealthCheck().command;
  try {
    const { stdout } = await run(process.execPath, [join(app, script!.slice(APP_DIR.length + 1))], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 10_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, out: e.stdout ?? "" };
  }
}

describe("the bundled broker, started the way the container starts it", () => {
  let redis: RedisServer;
  let sqs: Fauxqs | undefined;
  let app: string;
  let broker: Running;
  const clients: MqttClient[] = [];
  const servers: Server[] = [];

  beforeAll(async () => {
    await run(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: root, timeout: 60_000 });
    redis = await startRedisServer();
    sqs = await startFauxqs();
    app = join(mkdtempSync(join(tmpdir(), "mqgate-image-")), "app");
    const acl = [
      "anonymous: false",
      "users:",
      `  - username: ${USER}`,
      `    password: "${await hashPassword(PASSWORD)}"`,
      "rules:",
      '  - users: ["*"]',
      "    allow:",
      '      publish: ["devices/%u/#"]',
      '      subscribe: ["devices/#"]',
    ].join("\n");
    layOutImage(app, "mqgate.acl.yaml", acl);
    const taskEnv = brokerEnvironment({ auth: "acl", aclFile: "mqgate.acl.yaml", queuePrefix: "mqgate-prod" });
    broker = await startContainer(app, {
      ...relocate(taskEnv, app),
      MQGATE_REDIS_URL: redis.url, // the SSM secret
      MQGATE_CLUSTER__LINK_SECRET: "l".repeat(48), // the generated SSM secret
      MQGATE_CLUSTER__LINK_PORT: "0", // 7946 may be taken on this machine
      MQGATE_SQS_ENDPOINT: sqs.endpoint, // stands in for AWS's SQS endpoint: the task joins the cluster through it
      MQGATE_HOST: "127.0.0.1",
      MQGATE_MQTT_PORT: "0",
      MQGATE_WS_PORT: "0",
    });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const s of servers) s.close();
    if (broker !== undefined && broker.child.exitCode === null) broker.child.kill("SIGKILL");
    await redis?.stop();
    await sqs?.stop();
    if (app !== undefined) rmSync(dirname(app), { recursive: true, force: true });
  });

  const connect = async (url: string, opts: mqtt.IClientOptions = {}) => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, username: USER, password: PASSWORD, ...opts });
    clients.push(c);
    return c;
  };

  it("the image directory has no node_modules to fall back on: the bundle is self-contained", () => {
    for (let dir = app; dir !== dirname(dir); dir = dirname(dir)) expect(existsSync(join(dir, "node_modules")), dir).toBe(false);
    expect(app.startsWith(root)).toBe(false);
  });

  it("serves MQTT over TCP and WebSocket (/mqtt) with the ACL and the Redis store", async () => {
    expect(broker.stdout()).not.toMatch(/allow-all/);
    // The broker's own HTTP listener (the local REST adapter, with a development admin key) stays off.
    expect(broker.stderr()).not.toMatch(/REST API|API key/);
    expect(broker.stdout()).toMatch(/"store":"redis"/);
    const sub = await connect(`ws://127.0.0.1:${broker.wsPort}/mqtt`, { clientId: "image-sub", clean: false });
    const got = new Promise<string>((resolve) => sub.once("message", (topic, payload) => resolve(`${topic} ${payload.toString()}`)));
    await sub.subscribeAsync("devices/#", { qos: 1 });
    const pub = await connect(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: "image-pub" });
    await pub.publishAsync(`devices/${USER}/temp`, "21.5", { qos: 1 });
    expect(await got).toBe(`devices/${USER}/temp 21.5`);
  });

  it("runs on jemalloc with the image's environment (decision 059)", () => {
    const maps = readFileSync(`/proc/${broker.child.pid as number}/maps`, "utf8");
    expect(maps).toContain("libjemalloc.so.2");
  });

  it("maps a stack trace of its own bundle back to the sources with the tool and map it ships (decision 058)", async () => {
    // Names are kept: a trace names the function without the map (positionOf throws when it is not there).
    const { line, column } = positionOf(readFileSync(join(app, "dist", "broker.mjs"), "utf8"), "function decodeHot5(");
    const trace = `Error: x\n    at decodeHot5 (file://${APP_DIR}/dist/broker.mjs:${line}:${column})\n`;
    const tool = join(app, STACK_SCRIPT.slice(APP_DIR.length + 1));
    const mapped = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, [tool], { cwd: app, env: { PATH: process.env.PATH ?? "" } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      child.stdin?.end(trace);
    });
    expect(mapped).toMatch(/at decodeHot5 \(broker\/codec5\.ts:\d+:\d+\)/);
  });

  it("refuses clients the ACL does not know", async () => {
    await expect(connect(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: "stranger", username: USER, password: "wrong" })).rejects.toThrow(
      /Bad username or password|Not authorized/i,
    );
  });

  it("the image's health check passes against it, and fails when nothing (or nothing alive) listens", async () => {
    const env = { MQGATE_HOST: "127.0.0.1" };
    // Let log lines of earlier tests (a refused CONNECT) arrive through the pipe before the window opens.
    await new Promise((r) => setTimeout(r, 500));
    const logged = broker.stdout().length;
    const ok = await healthcheck(app, { ...env, MQGATE_MQTT_PORT: String(broker.mqttPort) });
    expect(ok).toMatchObject({ code: 0, out: expect.stringMatching(/closed the connection/) });
    // No credentials needed, and no refused client in the log every 30 s: the probe never sends CONNECT.
    await new Promise((r) => setTimeout(r, 100));
    const log = broker.stdout().slice(logged);
    expect(log).toMatch(/"level":30,[^\n]*"msg":"connection closed before session start"/);
    expect(log).not.toMatch(/connect refused/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect((await healthcheck(app, { ...env, MQGATE_MQTT_PORT: String(closedPort) })).code).toBe(1);

    // A broker at maxConnections drops new sockets at once, possibly with a reset: alive, not a reason to replace it.
    const full = createServer((sock) => sock.resetAndDestroy());
    servers.push(full);
    await new Promise<void>((r) => full.listen(0, "127.0.0.1", r));
    expect((await healthcheck(app, { ...env, MQGATE_MQTT_PORT: String((full.address() as { port: number }).port) })).code).toBe(0);

    // Accepts TCP, never answers: what a broker with a stuck event loop looks like from outside.
    const silent = createServer(() => {});
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const started = Date.now();
    const stuck = await healthcheck(app, { ...env, MQGATE_MQTT_PORT: String((silent.address() as { port: number }).port) });
    expect(stuck).toMatchObject({ code: 1, out: expect.stringMatching(/no reaction/) });
    expect(Date.now() - started).toBeLessThan(brokerHealthCheck().timeoutSeconds * 1000);
  });

  it("SIGTERM: exits 0 well within ECS's stop timeout", async () => {
    const sent = Date.now();
    broker.child.kill("SIGTERM");
    expect(await broker.exited).toBe(0);
    expect(Date.now() - sent).toBeLessThan(Math.min(DRAIN_MS, stopTimeoutSeconds() * 1000));
    expect(broker.stdout()).toMatch(/"msg":"stopped"/);
  });
});
