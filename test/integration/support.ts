import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import type { IConnackPacket, IPublishPacket, Packet } from "mqtt-packet";
import { freePort } from "../../scripts/lib/ports.js";
import { RawClient } from "../helpers/raw-client.js";

// Shared by the integration tests: spawning the built broker, raw MQTT sessions, and a subscriber that plays
// the receiver side of QoS 1 and QoS 2 (method B: a packet id is remembered from PUBLISH until PUBREL).

export const root = new URL("../..", import.meta.url).pathname;
const run = promisify(execFile);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds; fails after `timeoutMs` with `detail()` in the message. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000, detail: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await sleep(5);
  }
}

/** `node scripts/build.mjs --if-stale`: dist/broker.mjs is what the process tests run. */
export async function buildBroker(): Promise<void> {
  await run(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: root, timeout: 60_000 });
}

export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly mqttPort: number;
  /** Its stderr so far (the ready line, fatal errors). */
  err(): string;
  /** SIGKILL (a crash) and wait until the process is gone. */
  crash(): Promise<void>;
}

const brokers = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of brokers) child.kill("SIGKILL");
});

/**
 * The environment of a broker process the tests spawn: this process's, without any MQGATE_* variable of the
 * developer's, plus MQTT on `mqttPort` of loopback only, no WebSocket, HTTP or $SYS, warnings and errors logged,
 * then `env`.
 */
export function brokerEnv(mqttPort: number, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MQGATE_")) childEnv[k] = v;
  return Object.assign(childEnv, {
    MQGATE_HOST: "127.0.0.1",
    MQGATE_MQTT_PORT: String(mqttPort),
    MQGATE_WS_PORT: "off",
    MQGATE_HTTP_PORT: "off",
    MQGATE_SYS_INTERVAL: "0",
    MQGATE_LOG_LEVEL: "warn",
    ...env,
  });
}

/** Spawns `node dist/broker.mjs` on a free loopback port with the Redis store at `redisUrl`; waits until ready. */
export async function spawnBroker(redisUrl: string, env: Record<string, string> = {}): Promise<BrokerProcess> {
  const mqttPort = await freePort();
  const childEnv = brokerEnv(mqttPort, { MQGATE_REDIS_URL: redisUrl, ...env });
  const child = spawn(process.execPath, ["dist/broker.mjs"], { cwd: root, env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
  brokers.add(child);
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-100_000)));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      brokers.delete(child);
      resolve();
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor("broker ready", () => err.includes("broker ready") || gone, 15_000, () => err);
  if (gone) throw new Error(`broker exited before it was ready:\n${err}`);
  return {
    child,
    mqttPort,
    err: () => err,
    async crash() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** CONNECT with `clientId` and the clean flag; returns the client and its CONNACK (whatever its code). */
export async function connectRaw(port: number, clientId: string, clean: boolean): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await RawClient.open(port);
  c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean, keepalive: 0, clientId });
  const connack = await c.expect("connack", 10_000);
  return { c, connack };
}

export async function subscribe(c: RawClient, filter: string, qos: 0 | 1 | 2, messageId = 1): Promise<void> {
  c.send({ cmd: "subscribe", messageId, subscriptions: [{ topic: filter, qos }] });
  const suback = await c.expect("suback", 5000);
  if (suback.granted[0] !== qos) throw new Error(`SUBSCRIBE ${filter} granted ${JSON.stringify(suback.granted)}`);
}

export function publishPacket(topic: string, payload: string, qos: 0 | 1 | 2, messageId?: number, opts: { dup?: boolean; retain?: boolean } = {}): Packet {
  return { cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: opts.retain ?? false, dup: opts.dup ?? false, ...(qos > 0 ? { messageId } : {}) } as Packet;
}

/** Reads every packet a RawClient receives, in order, until its socket closes (`done` resolves then). */
export function pump(c: RawClient, onPacket: (p: Packet) => void): { done: Promise<void> } {
  const done = (async () => {
    for (;;) {
      let p: Packet;
      try {
        p = await c.next(3_600_000);
      } catch {
        return; // closed
      }
      onPacket(p);
    }
  })();
  return { done };
}

/** What the subscriber does with an inbound QoS 1/2 PUBLISH. */
export type AckPolicy =
  /** PUBACK, or PUBREC then PUBCOMP on PUBREL. */
  | "ack"
  /** Nothing: the message stays in flight at the broker. */
  | "none"
  /** QoS 2: PUBREC; on PUBREL forget the id (method B) but never send PUBCOMP (as if the PUBCOMP got lost). */
  | "rec-only";

export interface Receipt {
  seq: number;
  qos: number;
  dup: boolean;
  retain: boolean;
  packetId: number;
  /** Phase of the test when it arrived (0 before the crash, 1 after). */
  phase: number;
  /** False when this was a re-sent QoS 2 PUBLISH whose id was still remembered: not delivered again. */
  delivered: boolean;
}

/**
 * A persistent subscriber on a raw connection. Payloads are `<seq>`. Every PUBLISH is recorded; QoS 2 follows
 * method B, so the application sees each QoS 2 message once even when the broker re-sends it.
 */
export class Subscriber {
  readonly receipts: Receipt[] = [];
  /** Packet ids of PUBRELs received, with the phase. */
  readonly pubrels: { packetId: number; phase: number }[] = [];
  /** Every packet in arrival order (cmd and packet id), to check what came first after a reconnect. */
  readonly log: { cmd: string; packetId: number; dup: boolean; phase: number }[] = [];
  /** Inbound QoS 2 ids received and not yet released by PUBREL (method B). */
  readonly unreleased = new Set<number>();
  private readonly noComp = new Set<number>();
  phase = 0;
  c: RawClient | null = null;
  done: Promise<void> = Promise.resolve();

  constructor(private policy: (seq: number, qos: number) => AckPolicy) {}

  attach(c: RawClient, phase: number, policy?: (seq: number, qos: number) => AckPolicy): void {
    this.c = c;
    this.phase = phase;
    // A PUBCOMP withheld before a crash is sent when the broker repeats the PUBREL on the new connection.
    this.noComp.clear();
    if (policy !== undefined) this.policy = policy;
    this.done = pump(c, (p) => this.onPacket(c, p)).done;
  }

  /** Application-level deliveries (first receipt of each QoS 2 message; every QoS 0/1 receipt). */
  get delivered(): Receipt[] {
    return this.receipts.filter((r) => r.delivered);
  }

  private onPacket(c: RawClient, p: Packet): void {
    if (p.cmd === "publish") {
      this.onPublish(c, p);
      return;
    }
    const packetId = "messageId" in p && typeof p.messageId === "number" ? p.messageId : 0;
    this.log.push({ cmd: p.cmd, packetId, dup: false, phase: this.phase });
    if (p.cmd === "pubrel") {
      this.pubrels.push({ packetId, phase: this.phase });
      this.unreleased.delete(packetId);
      if (!this.noComp.delete(packetId)) c.send({ cmd: "pubcomp", messageId: packetId });
    }
  }

  private onPublish(c: RawClient, p: IPublishPacket): void {
    const packetId = p.messageId ?? 0;
    const seq = Number(p.payload.toString());
    const repeat = p.qos === 2 && this.unreleased.has(packetId);
    this.log.push({ cmd: "publish", packetId, dup: p.dup, phase: this.phase });
    this.receipts.push({ seq, qos: p.qos, dup: p.dup, retain: p.retain, packetId, phase: this.phase, delivered: !repeat });
    if (p.qos === 0) return;
    const policy = this.policy(seq, p.qos);
    if (policy === "none") {
      if (p.qos === 2) this.unreleased.add(packetId);
      return;
    }
    if (p.qos === 1) {
      c.send({ cmd: "puback", messageId: packetId });
      return;
    }
    this.unreleased.add(packetId);
    if (policy === "rec-only") this.noComp.add(packetId);
    else this.noComp.delete(packetId);
    c.send({ cmd: "pubrec", messageId: packetId });
  }
}

/** Asserts that `xs` is strictly increasing; returns a message naming the first violation, or null. */
export function firstDisorder(xs: readonly number[]): string | null {
  for (let i = 1; i < xs.length; i++) {
    if ((xs[i] as number) <= (xs[i - 1] as number)) return `position ${i}: ${xs[i - 1]} then ${xs[i]} in [${xs.join(",")}]`;
  }
  return null;
}
