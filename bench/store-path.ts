/**
 * The store's share of a persistent QoS 1 delivery, without a broker (`node bench/store-path.mjs [--messages N]
 * [--batch B] [--store redis|memory]`): a connected persistent session gets N messages, each enqueued as queued,
 * sent one batch later (the sent boundary, `outgoing.sent`) and deleted once "acknowledged" one batch after that, in
 * journal-sized batches (B messages per apply: B enqueues, then the previous batch's B sends and the batch before's
 * B deletes, as the journal sees them under fan-in). Reports this process's CPU and
 * redis-server's CPU (INFO cpu) per message, and redis-server's calls and µs per call (INFO commandstats).
 * For iterating on core/store/redis.ts and its scripts; the broker figure is `npm run bench -- --scenario
 * fan-in-persistent`. See docs/benchmarks.md, "The Redis path".
 */
import { Redis } from "ioredis";
import { startRedisServer } from "../scripts/lib/redis-server.js";
import { MemoryStore } from "../core/store/memory.js";
import { connectRedisStore } from "../core/store/transport-ioredis.js";
import type { Store, StoreOp } from "../core/store/types.js";

function arg(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? (argv[i + 1] as string) : dflt;
}

async function redisCpuMs(admin: Redis): Promise<number> {
  const info = await admin.info("cpu");
  const v = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, "m").exec(info)?.[1] ?? "0");
  return (v("used_cpu_sys") + v("used_cpu_user")) * 1000;
}

/**
 * Each message: enqueued as queued (packetId 0: the subscriber's in-flight window is full under fan-in), one batch
 * later sent (the session's sent boundary moves to it), one more batch later deleted (PUBACK): the three ops the
 * broker writes. Before the sent boundary (decision 021) the second op was an `outgoing.update` with the packet id.
 */
async function run(store: Store, messages: number, batch: number, payload: Buffer): Promise<void> {
  const { epoch } = await store.claimSession("bench-sub", { node: "n1", clean: false, username: null, now: Date.now() });
  let sending: number[] = [];
  let acking: number[] = [];
  const clientId = "bench-sub";
  for (let sent = 0; sent < messages + 2 * batch; sent += batch) {
    const ops: StoreOp[] = [];
    const fresh = Math.max(0, Math.min(batch, messages - sent));
    for (let i = 0; i < fresh; i++) {
      const msg = { topic: `bench/${(sent + i) % 4}`, payload, qos: 1 as const, retain: false };
      ops.push({ op: "enqueue", clientId, maxQueued: 1000, dropPolicy: "oldest", entry: { msg, qos: 1, retain: false, packetId: 0 } });
    }
    sending.forEach((seq) => ops.push({ op: "outgoing.sent", clientId, epoch, seq }));
    acking.forEach((seq) => ops.push({ op: "outgoing.delete", clientId, epoch, seq }));
    const res = await store.apply(ops);
    acking = sending;
    sending = res.slice(0, fresh).map((r) => (r.ok ? (r.seq as number) : 0));
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const messages = Number(arg(argv, "--messages", "100000"));
  const batch = Number(arg(argv, "--batch", "40"));
  const kind = arg(argv, "--store", "redis");
  const payload = Buffer.alloc(64, 0x61);
  if (kind === "memory") {
    const store = new MemoryStore();
    await run(store, 2000, batch, payload);
    const c0 = process.cpuUsage();
    await run(store, messages, batch, payload);
    const c = process.cpuUsage(c0);
    console.log(`memory: ${((c.user + c.system) / messages).toFixed(2)} µs CPU per message (batch ${batch})`);
    return 0;
  }
  const server = await startRedisServer();
  const admin = new Redis(server.url);
  try {
    const store = await connectRedisStore(server.url);
    await run(store, 2000, batch, payload); // warm up: scripts loaded, JIT
    await admin.config("RESETSTAT");
    const r0 = await redisCpuMs(admin);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(store, messages, batch, payload);
    const c = process.cpuUsage(c0);
    const ms = performance.now() - t0;
    const r = (await redisCpuMs(admin)) - r0;
    const stats = (await admin.info("commandstats")).split("\n").filter((l) => l.startsWith("cmdstat_")).map((l) => l.trim());
    console.log(`redis (batch ${batch}, ${messages} messages, ${Math.round(messages / (ms / 1000))} msg/s):`);
    console.log(`  client ${((c.user + c.system) / messages).toFixed(2)} µs CPU/msg, redis-server ${((r * 1000) / messages).toFixed(2)} µs CPU/msg`);
    for (const s of stats) console.log(`  ${s}`);
    await store.close();
    return 0;
  } finally {
    admin.disconnect();
    await server.stop();
  }
}
