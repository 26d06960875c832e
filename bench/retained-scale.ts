import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import mqtt from "mqtt";
import { connectRedisStore } from "../core/store/transport-ioredis.js";
import type { StoreOp } from "../core/store/types.js";
import { startLocalCluster } from "../scripts/lib/local-cluster.js";

/**
 * Retained messages at fleet scale (issue 19; `node bench/retained-scale.mjs [--retained 1000000] [--rounds 20]`,
 * under `flock /work/wt/bench.lock`). A local cluster of three broker processes on one redis-server; `retained`
 * messages of 200 bytes on `fleet/d<n>/m<k>` (ten metrics per device) written straight into the store. Then, on
 * every node, `rounds` times each: a SUBSCRIBE to `+/nomatch/+` (matches nothing) and to `+/d<n>/+` (matches ten),
 * timed from SUBSCRIBE to SUBACK and to the last retained message. Meanwhile redis-server's SLOWLOG records every
 * command slower than 0.5 ms: its longest entry is the longest single store call. Then one wide lookup, `+/+/m3`
 * (a tenth of the set), received in full by a reading client. Finally each node's RSS
 * (/proc/<pid>/status) against the size of the retained set.
 */

interface Args {
  retained: number;
  rounds: number;
  out: string | null;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, def: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? def : Number(argv[i + 1]);
  };
  const outIdx = argv.indexOf("--out");
  return { retained: get("retained", 1_000_000), rounds: get("rounds", 20), out: outIdx === -1 ? null : (argv[outIdx + 1] ?? null) };
}

const PAYLOAD = Buffer.alloc(200, 0x61);
const METRICS = 10;
const SEED_BATCH = 2000;
const SEED_PARALLEL = 4;

const device = (n: number): string => `d${String(n).padStart(7, "0")}`;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m === null ? NaN : Math.round(Number(m[1]) / 1024);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function summary(values: number[]): { p50: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const r = (v: number): number => Math.round(v * 100) / 100;
  return { p50: r(quantile(s, 0.5)), p99: r(quantile(s, 0.99)), max: r(s[s.length - 1] ?? NaN) };
}

async function seed(redisUrl: string, total: number): Promise<number> {
  const store = await connectRedisStore(redisUrl);
  const started = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const from = next;
      if (from >= total) return;
      next = Math.min(total, from + SEED_BATCH);
      const ops: StoreOp[] = [];
      for (let i = from; i < next; i++) {
        const topic = `fleet/${device(Math.floor(i / METRICS))}/m${i % METRICS}`;
        ops.push({ op: "retained.set", msg: { topic, payload: PAYLOAD, qos: 0, retain: true }, maxRetained: total + 1, now: started });
      }
      const res = await store.apply(ops);
      if (!res.every((r) => r.ok)) throw new Error("seeding refused a retained message");
      if (next % 100_000 < SEED_BATCH) console.error(`seeded ${next}`);
    }
  };
  await Promise.all(Array.from({ length: SEED_PARALLEL }, worker));
  await store.close();
  return Date.now() - started;
}

/** SUBSCRIBE `filter`; resolves with ms to SUBACK and to the `want`-th retained message (and how many came within 300 ms more). */
async function timeSubscribe(client: mqtt.MqttClient, filter: string, want: number): Promise<{ suback: number; all: number; got: number }> {
  let got = 0;
  let allAt = NaN;
  const t0 = performance.now();
  const onMessage = (topic: string, _p: Buffer, packet: mqtt.IPublishPacket): void => {
    if (!packet.retain || topic === "") return;
    got++;
    if (got === want) allAt = performance.now() - t0;
  };
  client.on("message", onMessage);
  await client.subscribeAsync(filter, { qos: 0 });
  const suback = performance.now() - t0;
  if (want === 0) allAt = suback;
  const deadline = performance.now() + 2000;
  while (got < want && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => setTimeout(r, 300));
  client.off("message", onMessage);
  await client.unsubscribeAsync(filter);
  return { suback, all: allAt, got };
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const dir = mkdtempSync(join(tmpdir(), "mqgate-retained-scale-"));
  const configFile = join(dir, "mqgate.yaml");
  writeFileSync(configFile, `limits:\n  maxRetained: ${args.retained + 1000}\n  maxRetainedBytes: ${(args.retained + 1000) * 1024}\n`);
  const cluster = await startLocalCluster({ nodes: 3, env: { MQGATE_CONFIG: configFile } });
  const redis = new Redis(cluster.redis.url);
  try {
    console.error(`cluster up: ${cluster.nodes.map((n) => n.nodeId).join(", ")}; seeding ${args.retained} retained messages`);
    const seedMs = await seed(cluster.redis.url, args.retained);
    const redisMemory = /used_memory:(\d+)/.exec(String(await redis.info("memory")))?.[1];
    const rssBefore = cluster.nodes.map((n) => rssMb(n.child.pid as number));
    await redis.config("SET", "slowlog-log-slower-than", "500");
    await redis.config("SET", "slowlog-max-len", "100000");
    await redis.slowlog("RESET");

    const devices = Math.floor(args.retained / METRICS);
    const nomatch: { suback: number; all: number }[] = [];
    const ten: { suback: number; all: number }[] = [];
    let incomplete = 0;
    for (const node of cluster.nodes) {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${node.mqttPort}`, { clientId: `bench-${node.nodeId}`, reconnectPeriod: 0 });
      for (let r = 0; r < args.rounds; r++) {
        const a = await timeSubscribe(client, "+/nomatch/+", 0);
        if (a.got !== 0) incomplete++;
        nomatch.push(a);
        const d = device(Math.floor(((r * 7919 + node.mqttPort) % devices + devices) % devices));
        const b = await timeSubscribe(client, `+/${d}/+`, METRICS);
        if (b.got !== METRICS) incomplete++;
        ten.push(b);
      }
      await client.endAsync();
    }
    // A wide lookup on one node: `+/+/m3` matches a tenth of the set; it streams in bounded store steps.
    const wide = await mqtt.connectAsync(`mqtt://127.0.0.1:${(cluster.nodes[0] as (typeof cluster.nodes)[number]).mqttPort}`, { clientId: "bench-wide", reconnectPeriod: 0 });
    const wideWant = Math.ceil(args.retained / METRICS);
    let wideGot = 0;
    const wideStart = performance.now();
    wide.on("message", () => wideGot++);
    await wide.subscribeAsync("+/+/m3", { qos: 0 });
    const wideDeadline = performance.now() + 300_000;
    while (wideGot < wideWant && performance.now() < wideDeadline) await new Promise((r) => setTimeout(r, 10));
    const wideMs = performance.now() - wideStart;
    await wide.endAsync();
    const slow = (await redis.slowlog("GET", "100000")) as [number, number, number, string[]][];
    const longest = slow.reduce<[number, string[]]>((m, e) => (e[2] > m[0] ? [e[2], e[3]] : m), [0, []]);
    const rssAfter = cluster.nodes.map((n) => rssMb(n.child.pid as number));
    const result = {
      retained: args.retained,
      payloadBytes: PAYLOAD.length,
      retainedSetMb: Math.round((args.retained * (PAYLOAD.length + "fleet/d0000000/m0".length)) / 2 ** 20),
      redisUsedMemoryMb: redisMemory === undefined ? null : Math.round(Number(redisMemory) / 2 ** 20),
      seedSeconds: Math.round(seedMs / 100) / 10,
      rounds: args.rounds * cluster.nodes.length,
      nomatch: { subackMs: summary(nomatch.map((x) => x.suback)) },
      tenMatches: { subackMs: summary(ten.map((x) => x.suback)), allMessagesMs: summary(ten.map((x) => x.all)) },
      incompleteLookups: incomplete,
      wide: { filter: "+/+/m3", matches: wideWant, received: wideGot, seconds: Math.round(wideMs / 100) / 10 },
      slowlog: {
        thresholdMs: 0.5,
        entries: slow.length,
        longestMs: Math.round(longest[0] / 10) / 100,
        longestCommand: longest[1].slice(0, 2).map((s) => s.slice(0, 40)),
      },
      nodeRssMb: { before: rssBefore, after: rssAfter },
    };
    console.log(JSON.stringify(result, null, 2));
    if (args.out !== null) writeFileSync(resolve(args.out), `${JSON.stringify(result, null, 2)}\n`);
    return incomplete === 0 && wideGot === wideWant ? 0 : 1;
  } finally {
    redis.disconnect();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
