/**
 * Memory per connected device (issue 17): starts dist/broker.mjs (memory store, free loopback port, heap probe on),
 * connects N raw-socket devices (MQTT 3.1.1 CONNECT, SUBSCRIBE QoS 1 to `fleet/<id>/down`), and reads the broker's
 * heap (after a full GC, broker/heap-probe.ts) and RSS before and after. Deterministic: counts bytes, never time.
 * With `messages` > 0 the devices are active first: each publishes that many QoS 1 messages, one at a time, to its
 * own topic, receives each back (QoS 1) and acknowledges it, so what traffic leaves behind per connection is counted.
 * Also used by test/security/connection-memory.test.ts to bound the heap per idle connection.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { generate, type Packet } from "mqtt-packet";
import { FrameReader, PacketType, writeAckBuffer } from "./wire.js";
import { freePort } from "../scripts/lib/ports.js";
import { brokerNodeFlags, withBrokerEnv } from "../broker/node-flags.js";
import { ProbedChild } from "./probed-child.js";
import { cleanEnv, mqgateBenchEnv } from "./targets.js";

export interface ConnMemoryOptions {
  /** The checkout whose dist/broker.mjs runs. */
  root: string;
  connections: number;
  /** Persistent sessions (clean = 0) instead of clean ones. */
  persistent?: boolean;
  /** Extra node flags for the broker (e.g. `--max-semi-space-size=1`, to see what young-generation growth adds). */
  nodeFlags?: string[];
  /** QoS 1 round trips per device before the measurement (0: idle devices). */
  messages?: number;
  /**
   * QoS 1 round trips per device measured for allocation (after `messages` warm-up rounds): the broker runs with
   * `--trace-gc-nvp` and the bytes V8 reports as allocated between two forced full GCs are divided by the messages
   * delivered. Counts bytes, not time.
   */
  allocRounds?: number;
  /**
   * A directory for two V8 heap snapshots of the broker, taken after the baseline's and the measurement's full GCs
   * (`--heapsnapshot-signal`): `node bench/heap-diff.mjs` lists what one more device keeps, by constructor.
   */
  snapshots?: string;
  /**
   * Seconds to wait after the round trips before the measurement: long enough, and the broker's idle sweep
   * (broker/idle-trim.ts) has let the devices' idle outboxes go, so the figure shows what traffic leaves for good.
   */
  settleSeconds?: number;
}

export interface ConnMemoryResult {
  connections: number;
  heapBefore: number;
  heapAfter: number;
  /** V8 heap committed (heapTotal), which RSS follows: the young generation grows under load and stays grown. */
  heapTotalBefore: number;
  heapTotalAfter: number;
  rssBefore: number;
  rssAfter: number;
  /** (after - before) / connections, in bytes. */
  heapPerConnection: number;
  rssPerConnection: number;
  /** With `allocRounds`: bytes the broker allocated per QoS 1 message (one PUBLISH in, one delivery out, both acks). */
  allocatedPerMessage?: number;
}

/** Devices connected before the baseline is taken. */
const WARMUP = 100;

/** Opens a device: CONNECT, CONNACK, SUBSCRIBE to its own topic, SUBACK. Resolves with the idle socket. */
function device(port: number, id: string, persistent: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let got = Buffer.alloc(0);
    let stage = 0;
    socket.once("error", reject);
    socket.on("connect", () => {
      const connectPacket = { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: !persistent, keepalive: 60, clientId: id } as Packet;
      const subscribe = { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: `fleet/${id}/down`, qos: 1 }] } as Packet;
      socket.write(Buffer.concat([generate(connectPacket), generate(subscribe)]));
    });
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      // CONNACK is 4 bytes (0x20), SUBACK 5 (0x90) for one filter.
      if (stage === 0 && got.length >= 4) {
        if (got[0] !== 0x20 || got[3] !== 0) reject(new Error(`${id}: refused (${got.subarray(0, 4).toString("hex")})`));
        got = got.subarray(4);
        stage = 1;
      }
      if (stage === 1 && got.length >= 5) {
        if (got[0] !== 0x90 || got[4] === 0x80) reject(new Error(`${id}: subscribe refused`));
        stage = 2;
        socket.removeAllListeners("data");
        resolve(socket);
      }
    });
  });
}

/**
 * One QoS 1 round trip per call for every device, all devices at once: PUBLISH QoS 1 (64-byte payload) to its own
 * `fleet/<id>/down`, then wait for the broker's PUBACK and for the message coming back, which is acknowledged.
 */
async function roundTrips(devices: { socket: Socket; id: string }[], rounds: number): Promise<void> {
  const payload = Buffer.alloc(64, 0x61);
  const readers = devices.map(({ socket }) => {
    const state = { acked: false, delivered: false, done: null as (() => void) | null };
    const reader = new FrameReader((first, buf, start) => {
      const type = first >> 4;
      if (type === PacketType.Puback) state.acked = true;
      if (type === PacketType.Publish) {
        const topicLength = buf.readUInt16BE(start);
        socket.write(writeAckBuffer(PacketType.Puback, buf.readUInt16BE(start + 2 + topicLength)));
        state.delivered = true;
      }
      if (state.acked && state.delivered) state.done?.();
    });
    socket.on("data", (chunk: Buffer) => reader.push(chunk));
    return state;
  });
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      devices.map(({ socket, id }, k) => {
        const state = readers[k] as (typeof readers)[number];
        state.acked = state.delivered = false;
        const done = new Promise<void>((resolve) => (state.done = resolve));
        socket.write(generate({ cmd: "publish", topic: `fleet/${id}/down`, payload, qos: 1, messageId: (round % 65535) + 1, retain: false, dup: false }));
        return done;
      }),
    );
  }
  for (const { socket } of devices) socket.removeAllListeners("data");
}

/** The signal that makes the broker write a heap snapshot (one the broker itself leaves alone). */
const SNAPSHOT_SIGNAL = "SIGWINCH";

/** A heap snapshot of the broker into `dir`: done once a new file there has stopped growing for a second. */
async function snapshot(child: ChildProcess, dir: string): Promise<void> {
  const files = (): string[] => readdirSync(dir).filter((f) => f.endsWith(".heapsnapshot"));
  const seen = new Set(files());
  child.kill(SNAPSHOT_SIGNAL);
  let size = -1;
  for (let waited = 0; waited < 120_000; waited += 1000) {
    await sleep(1000);
    const made = files().find((f) => !seen.has(f));
    if (made === undefined) continue;
    const now = statSync(join(dir, made)).size;
    if (now > 0 && now === size) return;
    size = now;
  }
  throw new Error(`no heap snapshot in ${dir}`);
}

/** Runs one measurement; the broker is stopped afterwards. */
export async function measureConnMemory(opts: ConnMemoryOptions): Promise<ConnMemoryResult> {
  const port = await freePort();
  // The benchmark's settings (bench/targets.ts), the heap probe, and room for every device.
  const env = withBrokerEnv(cleanEnv({ ...mqgateBenchEnv(port), MQGATE_DEBUG_HEAP: "1", MQGATE_MAX_CONNECTIONS: "1000000" }));
  const alloc = (opts.allocRounds ?? 0) > 0;
  // The broker's own flags (broker/node-flags.ts) first: the run's, given after them, override them.
  const snap = opts.snapshots === undefined ? [] : [`--heapsnapshot-signal=${SNAPSHOT_SIGNAL}`, `--diagnostic-dir=${opts.snapshots}`];
  const flags = ["--expose-gc", ...brokerNodeFlags(env), ...(alloc ? ["--trace-gc-nvp"] : []), ...snap, ...(opts.nodeFlags ?? [])];
  const child = spawn(process.execPath, [...flags, "dist/broker.mjs"], { cwd: opts.root, env, stdio: ["ignore", alloc ? "pipe" : "ignore", "pipe"] });
  const broker = new ProbedChild(child);
  const sockets: Socket[] = [];
  try {
    await broker.until("ready line", () => broker.output().includes("broker ready"));
    // Some devices first, so one-off allocations (code compiled and optimised, first trie nodes, pools) are in the
    // baseline: what the figure counts is what one more device costs.
    sockets.push(...(await Promise.all(Array.from({ length: WARMUP }, (_, k) => device(port, `warmup${k}`, opts.persistent === true)))));
    const before = await broker.settled();
    if (opts.snapshots !== undefined) await snapshot(child, opts.snapshots);
    const batch = 100;
    for (let i = 0; i < opts.connections; i += batch) {
      const n = Math.min(batch, opts.connections - i);
      const ids = Array.from({ length: n }, (_, k) => `dev${String(i + k).padStart(6, "0")}`);
      sockets.push(...(await Promise.all(ids.map((id) => device(port, id, opts.persistent === true)))));
    }
    if ((opts.messages ?? 0) > 0) {
      const active = sockets.slice(WARMUP).map((socket, k) => ({ socket, id: `dev${String(k).padStart(6, "0")}` }));
      await roundTrips(active, opts.messages ?? 0);
    }
    if ((opts.settleSeconds ?? 0) > 0) await sleep((opts.settleSeconds as number) * 1000);
    const after = await broker.settled();
    if (opts.snapshots !== undefined) await snapshot(child, opts.snapshots);
    let allocatedPerMessage: number | undefined;
    if (alloc) {
      const active = sockets.slice(WARMUP).map((socket, k) => ({ socket, id: `dev${String(k).padStart(6, "0")}` }));
      const start = broker.allocated();
      await roundTrips(active, opts.allocRounds ?? 0);
      await broker.settled();
      allocatedPerMessage = Math.round((broker.allocated() - start) / (active.length * (opts.allocRounds ?? 0)));
    }
    return {
      connections: opts.connections,
      heapBefore: before.heap,
      heapAfter: after.heap,
      heapTotalBefore: before.heapTotal,
      heapTotalAfter: after.heapTotal,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapPerConnection: Math.round((after.heap - before.heap) / opts.connections),
      rssPerConnection: Math.round((after.rss - before.rss) / opts.connections),
      ...(allocatedPerMessage === undefined ? {} : { allocatedPerMessage }),
    };
  } finally {
    for (const s of sockets) s.destroy();
    child.kill("SIGKILL");
  }
}

/**
 * `node bench/conn-memory.mjs [--connections 2000] [--persistent] [--messages N] [--alloc-rounds N] [--root DIR]
 * [--snapshots DIR] [--settle-seconds N] [--max-semi-space-size=N] [--min-semi-space-size=N] [--max-old-space-size=N]`:
 * prints the figures as JSON (the V8 flags go to the broker; `--root`: another checkout's build, for a before/after).
 */
export async function main(argv: string[], root: string): Promise<number> {
  const at = argv.indexOf("--connections");
  const connections = at >= 0 ? Number(argv[at + 1]) : 2000;
  const flags = argv.filter((a) => a.startsWith("--max-semi-space-size") || a.startsWith("--min-semi-space-size") || a.startsWith("--max-old-space-size"));
  const messagesAt = argv.indexOf("--messages");
  const rootAt = argv.indexOf("--root");
  const allocAt = argv.indexOf("--alloc-rounds");
  const snapAt = argv.indexOf("--snapshots");
  const settleAt = argv.indexOf("--settle-seconds");
  const result = await measureConnMemory({
    root: rootAt >= 0 ? (argv[rootAt + 1] as string) : root,
    connections,
    persistent: argv.includes("--persistent"),
    nodeFlags: flags,
    messages: messagesAt >= 0 ? Number(argv[messagesAt + 1]) : 0,
    allocRounds: allocAt >= 0 ? Number(argv[allocAt + 1]) : 0,
    ...(snapAt >= 0 ? { snapshots: argv[snapAt + 1] as string } : {}),
    ...(settleAt >= 0 ? { settleSeconds: Number(argv[settleAt + 1]) } : {}),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
