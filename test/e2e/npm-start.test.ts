import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { connect as netConnect } from "node:net";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerNodeFlags } from "../../broker/node-flags.js";
import { freePort } from "../../scripts/lib/ports.js";

// The broker as a user runs it: `npm start` builds (if stale) and runs `node --max-semi-space-size=8 --v8-pool-size=1 dist/broker.mjs`
// (broker/node-flags.ts), configured by MQGATE_* variables; standard MQTT tools (Debian mosquitto-clients) and the
// mqtt npm client talk to it.

const root = new URL("../..", import.meta.url).pathname;
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children = new Set<ChildProcess>();

function which(cmd: string): string | null {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), "/usr/bin"]) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {
      // next
    }
  }
  return null;
}
function mosquitto(cmd: "mosquitto_sub" | "mosquitto_pub"): string {
  const path = which(cmd);
  if (path === null) throw new Error(`${cmd} not found: these tests need the Debian mosquitto-clients package (apt-get install mosquitto-clients)`);
  return path;
}

interface Proc {
  readonly child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited and its output is all read. */
  readonly exited: Promise<number | string>;
}
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-200_000)));
  // "close", not "exit": "exit" can come before the last of stdout is read (seen on Node 24: mosquitto_sub
  // exited after its third message, whose line had not arrived yet).
  const exited = new Promise<number | string>((resolve) =>
    child.once("close", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  return { child, out: () => out, err: () => err, exited };
}
async function within<T>(what: string, p: Promise<T>, ms: number, detail: () => string = () => ""): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms\n${detail()}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
async function until(what: string, cond: () => boolean, ms: number, detail: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms\n${detail()}`);
    await sleep(20);
  }
}

interface Broker {
  readonly proc: Proc;
  readonly mqttPort: number;
  readonly wsPort: number;
}
/** Spawns what `npm start` runs after building, on free ports, and waits for its "broker ready" line. */
async function startBroker(extraEnv: Record<string, string> = {}): Promise<Broker> {
  const [mqttPort, wsPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MQGATE_")) env[k] = v;
  Object.assign(env, {
    MQGATE_MQTT_PORT: String(mqttPort),
    MQGATE_WS_PORT: String(wsPort),
    MQGATE_HTTP_PORT: "off",
    MQGATE_SYS_INTERVAL: "0",
    // Loopback only: the test machine's other interfaces get no open broker.
    MQGATE_HOST: "127.0.0.1",
    ...extraEnv,
  });
  const proc = start(process.execPath, [...brokerNodeFlags(env), "dist/broker.mjs"], env);
  const ready = until("broker ready", () => proc.err().includes("broker ready"), 10_000, () => proc.err());
  const died = proc.exited.then((code) => {
    throw new Error(`broker exited (${code}) before ready:\n${proc.err()}`);
  });
  await Promise.race([ready, died]);
  died.catch(() => {});
  return { proc, mqttPort, wsPort };
}

/** mosquitto_sub with debug output: resolves once its SUBACK arrived; `payloads()` are the printed messages. */
async function mosquittoSub(port: number, topic: string, qos: number, count: number) {
  // Line-buffered stdout (coreutils stdbuf): mosquitto_sub's debug lines are otherwise held in a pipe buffer.
  const stdbuf = which("stdbuf");
  if (stdbuf === null) throw new Error("stdbuf not found (coreutils)");
  const proc = start(stdbuf, ["-oL", mosquitto("mosquitto_sub"), "-d", "-h", "127.0.0.1", "-p", String(port), "-C", String(count), "-q", String(qos), "-t", topic, "-i", `e2e-sub-${qos}-${process.pid}`]);
  await until("mosquitto_sub SUBACK", () => proc.out().includes("received SUBACK"), 5000, () => proc.out() + proc.err());
  const payloads = () =>
    proc
      .out()
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("Client ") && !l.startsWith("Subscribed"));
  return { proc, payloads };
}
async function mosquittoPub(port: number, topic: string, qos: number, message: string): Promise<void> {
  await run(mosquitto("mosquitto_pub"), ["-h", "127.0.0.1", "-p", String(port), "-q", String(qos), "-t", topic, "-m", message], { timeout: 5000 });
}
const QOS = [0, 1, 2] as const;

describe("npm start: the built broker with real clients", () => {
  let b: Broker;
  const clients: MqttClient[] = [];
  const connect = async (url: string, clientId: string) => {
    const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    await run(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: root, timeout: 25_000 });
    b = await startBroker();
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const child of children) child.kill("SIGKILL");
  });

  it("mosquitto-clients is installed (apt-get install mosquitto-clients)", () => {
    expect(mosquitto("mosquitto_sub")).toMatch(/mosquitto_sub$/);
    expect(mosquitto("mosquitto_pub")).toMatch(/mosquitto_pub$/);
  });

  for (const q of QOS) {
    it(`mosquitto_pub -q ${q} to mosquitto_sub -q ${q}: three payloads in order`, async () => {
      const sub = await mosquittoSub(b.mqttPort, `t/q${q}`, q, 3);
      for (const m of ["one", "two", "three"]) await mosquittoPub(b.mqttPort, `t/q${q}`, q, `${m}-${q}`);
      const code = await within("mosquitto_sub -C 3 exit", sub.proc.exited, 5000, () => sub.proc.out() + sub.proc.err());
      expect(code).toBe(0);
      expect(sub.payloads()).toEqual([`one-${q}`, `two-${q}`, `three-${q}`]);
      // The debug output shows the delivery QoS: q0 / q1 / q2.
      expect(sub.proc.out().match(/received PUBLISH \(d\d, q(\d)/g)?.map((s) => s.slice(-1))).toEqual([`${q}`, `${q}`, `${q}`]);
    });
  }

  for (const q of QOS) {
    it(`QoS ${q} both ways between the mqtt npm client and mosquitto_pub/mosquitto_sub`, async () => {
      const client = await connect(`mqtt://127.0.0.1:${b.mqttPort}`, `e2e-npm-${q}`);
      await client.subscribeAsync(`npm/in/${q}`, { qos: q });
      const got = new Promise<[string, number]>((resolve) => client.once("message", (_t, payload, packet) => resolve([payload.toString(), packet.qos])));
      await mosquittoPub(b.mqttPort, `npm/in/${q}`, q, `from-mosquitto-${q}`);
      expect(await within("mqtt client message", got, 5000)).toEqual([`from-mosquitto-${q}`, q]);

      const sub = await mosquittoSub(b.mqttPort, `npm/out/${q}`, q, 1);
      await client.publishAsync(`npm/out/${q}`, `from-npm-${q}`, { qos: q });
      expect(await within("mosquitto_sub -C 1 exit", sub.proc.exited, 5000, () => sub.proc.out())).toBe(0);
      expect(sub.payloads()).toEqual([`from-npm-${q}`]);
      await client.endAsync();
    });
  }

  it("MQTT over WebSocket (/mqtt): QoS 0/1/2 with a TCP client and with mosquitto_pub", async () => {
    const ws = await connect(`ws://127.0.0.1:${b.wsPort}/mqtt`, "e2e-ws");
    const tcp = await connect(`mqtt://127.0.0.1:${b.mqttPort}`, "e2e-tcp");
    const wsGot: string[] = [];
    const tcpGot: string[] = [];
    ws.on("message", (t, p, packet) => wsGot.push(`${t} ${p.toString()} q${packet.qos}`));
    tcp.on("message", (t, p, packet) => tcpGot.push(`${t} ${p.toString()} q${packet.qos}`));
    await ws.subscribeAsync("ws/in/#", { qos: 2 });
    await tcp.subscribeAsync("ws/out/#", { qos: 2 });
    for (const q of QOS) {
      await tcp.publishAsync(`ws/in/${q}`, `tcp-${q}`, { qos: q });
      await mosquittoPub(b.mqttPort, `ws/in/${q}`, q, `mosq-${q}`);
      await ws.publishAsync(`ws/out/${q}`, `ws-${q}`, { qos: q });
    }
    await until("WebSocket deliveries", () => wsGot.length >= 6 && tcpGot.length >= 3, 5000, () => JSON.stringify({ wsGot, tcpGot }));
    expect(wsGot).toEqual(QOS.flatMap((q) => [`ws/in/${q} tcp-${q} q${q}`, `ws/in/${q} mosq-${q} q${q}`]));
    expect(tcpGot).toEqual(QOS.map((q) => `ws/out/${q} ws-${q} q${q}`));
    await ws.endAsync();
    await tcp.endAsync();
  });

  it("SIGTERM: the process closes its clients and exits with code 0 within the drain time", async () => {
    const drainMs = 4000;
    const own = await startBroker({ MQGATE_DRAIN_MS: String(drainMs) });
    const client = await connect(`mqtt://127.0.0.1:${own.mqttPort}`, "e2e-sigterm");
    const clientClosed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const sentAt = Date.now();
    own.proc.child.kill("SIGTERM");
    const code = await within("broker exit after SIGTERM", own.proc.exited, drainMs + 2000, () => own.proc.err());
    expect(code).toBe(0);
    expect(Date.now() - sentAt).toBeLessThan(drainMs + 2000);
    await within("mqtt client sees the close", clientClosed, 2000);
    // The listener is gone with the process.
    const refused = await new Promise<boolean>((resolve) => {
      const s = netConnect({ port: own.mqttPort, host: "127.0.0.1" }, () => {
        s.destroy();
        resolve(false);
      });
      s.once("error", () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it("at log level debug it logs the configuration it runs with, secrets masked", async () => {
    const apiKey = "e2e-api-key-that-must-not-be-logged";
    const own = await startBroker({ MQGATE_LOG_LEVEL: "debug", MQGATE_API_KEY: apiKey, MQGATE_MAX_INFLIGHT: "17" });
    try {
      await until("the configuration log line", () => own.proc.out().includes('"msg":"configuration"'), 5000, () => own.proc.out());
      const line = own.proc
        .out()
        .split("\n")
        .find((l) => l.includes('"msg":"configuration"'));
      const logged = (JSON.parse(line ?? "{}") as { config?: { apiKey?: string; limits?: { maxInflight?: number }; mqtt?: { port?: number } } }).config;
      expect(logged?.apiKey).toBe("[redacted]");
      expect(logged?.limits?.maxInflight).toBe(17);
      expect(logged?.mqtt?.port).toBe(own.mqttPort);
      expect(own.proc.out() + own.proc.err()).not.toContain(apiKey);
    } finally {
      own.proc.child.kill("SIGTERM");
      await own.proc.exited;
    }
  });

  it("an invalid MQGATE_MQTT_PORT=abc stops the process with a non-zero code naming the variable", async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MQGATE_")) env[k] = v;
    const proc = start(process.execPath, ["dist/broker.mjs"], { ...env, MQGATE_MQTT_PORT: "abc", MQGATE_WS_PORT: "off", MQGATE_HTTP_PORT: "off" });
    const code = await within("exit on invalid configuration", proc.exited, 10_000, () => proc.err());
    expect(code).not.toBe(0);
    expect(typeof code).toBe("number");
    expect(proc.err()).toContain("MQGATE_MQTT_PORT");
    expect(proc.err()).toContain("'abc'");
    expect(proc.err()).not.toContain("broker ready");
  });
});
