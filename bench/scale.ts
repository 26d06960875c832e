import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { connectRedisStore } from "../core/store/transport-ioredis.js";
import { type LocalNode, startLocalCluster } from "../scripts/lib/local-cluster.js";

/**
 * Routes, not sessions, at fleet scale (issue 13, decision 017; `node bench/scale.mjs [--sessions 100000]
 * [--sample 20]`, under `flock /work/wt/bench.lock`; not in CI). A local cluster of three broker processes on one
 * redis-server. `sessions` persistent sessions, each subscribed to its own filter `scale/<id>/cmd` and to the
 * shared `scale/all`, are created through node-1 and left offline (in node-1's custody). Reports the heap of
 * node-2 and node-3 (which serve none of them) after a full GC, their memory outside the heap and their RSS,
 * before and after; then checks that a sample of the sessions gets a message published on node-2 to its own
 * filter and one published on node-3 to the shared filter, reconnecting through node-3.
 */

interface Args {
  sessions: number;
  sample: number;
  concurrency: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, def: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? def : Number(argv[i + 1]);
  };
  return { sessions: get("sessions", 100_000), sample: get("sample", 20), concurrency: get("concurrency", 200) };
}

const id = (n: number): string => `s${String(n).padStart(7, "0")}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rssMb(node: LocalNode): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.child.pid}/status`, "utf8"));
  return m === null ? NaN : Math.round(Number(m[1]) / 1024);
}

const tenths = (n: number): number => Math.round(n * 10) / 10;
const mb = (bytes: number): number => tenths(bytes / 1024 / 1024);

/**
 * Full GC in the broker (MQGATE_DEBUG_HEAP=1, broker/heap-probe.ts), then its JavaScript heap and its memory
 * outside the heap (`external`: buffers and typed arrays, where the exact routes live since decision 043) in MB.
 */
async function memoryMb(node: LocalNode): Promise<{ heap: number; external: number }> {
  const pattern = /mqgate heap (\d+) total \d+ external (\d+)/g;
  const count = [...node.output().matchAll(pattern)].length;
  node.child.kill("SIGUSR2");
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = [...node.output().matchAll(pattern)];
    const last = all[all.length - 1];
    if (all.length > count && last !== undefined) return { heap: mb(Number(last[1])), external: mb(Number(last[2])) };
    if (Date.now() > deadline) throw new Error(`no heap figure from ${node.nodeId}`);
    await sleep(50);
  }
}

async function createSessions(node: LocalNode, args: Args): Promise<number> {
  const started = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const n = next++;
      if (n >= args.sessions) return;
      const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.mqttPort, clientId: id(n), clean: false, reconnectPeriod: 0, connectTimeout: 60_000 });
      await c.subscribeAsync({ [`scale/${id(n)}/cmd`]: { qos: 1 }, "scale/all": { qos: 1 } });
      await c.endAsync();
      if ((n + 1) % 10_000 === 0) console.error(`created ${n + 1} sessions (${Math.round((n + 1) / ((Date.now() - started) / 1000))}/s)`);
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  return Date.now() - started;
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  // Production-like lease (the local default TTL of 3 s is too short for a node busy accepting hundreds of CONNECTs
  // per second on a shared 2-core machine: it would be declared dead and its sessions adopted).
  const cluster = await startLocalCluster({ nodes: 3, heartbeatMs: 2000, nodeTtlMs: 15_000, env: { MQGATE_DEBUG_HEAP: "1", MQGATE_MAX_CONNECTIONS: "1000000", MQGATE_MAX_CONNECTIONS_PER_ADDRESS: "0", MQGATE_CONNECTION_RATE_PER_ADDRESS: "0" } });
  try {
    const [n1, n2, n3] = cluster.nodes as [LocalNode, LocalNode, LocalNode];
    await sleep(2000);
    const before = { n2: await memoryMb(n2), n3: await memoryMb(n3), rss2: rssMb(n2), rss3: rssMb(n3) };
    console.error(`before: node-2 ${JSON.stringify(before.n2)} MB, node-3 ${JSON.stringify(before.n3)} MB`);
    const createMs = await createSessions(n1, args);
    // Every route of node-1 in the store (one per session plus the shared one), then time for the others to apply it.
    const store = await connectRedisStore(cluster.redis.url);
    const routesDeadline = Date.now() + 120_000;
    while (((await store.routeDigests()).digests["node-1"]?.count ?? 0) < args.sessions + 1 && Date.now() < routesDeadline) await sleep(200);
    const routeCount = (await store.routeDigests()).digests["node-1"]?.count ?? 0;
    await sleep(5000);
    const after = { n2: await memoryMb(n2), n3: await memoryMb(n3), n1: await memoryMb(n1), rss1: rssMb(n1), rss2: rssMb(n2), rss3: rssMb(n3) };

    // A sample: its own filter from node-2, the shared one from node-3; read back through node-3.
    const step = Math.max(1, Math.floor(args.sessions / args.sample));
    const sample = Array.from({ length: Math.min(args.sample, args.sessions) }, (_, i) => id(i * step));
    const p2 = await mqtt.connectAsync({ host: "127.0.0.1", port: n2.mqttPort, clientId: "scale-pub-2", reconnectPeriod: 0 });
    const p3 = await mqtt.connectAsync({ host: "127.0.0.1", port: n3.mqttPort, clientId: "scale-pub-3", reconnectPeriod: 0 });
    for (const s of sample) await p2.publishAsync(`scale/${s}/cmd`, `own-${s}`, { qos: 1 });
    const sharedAt = Date.now();
    await p3.publishAsync("scale/all", "shared", { qos: 1 });
    await p2.endAsync();
    await p3.endAsync();
    // The shared message is queued for every session on node-1: wait until the last one has it.
    const last = id(args.sessions - 1);
    while (((await store.getSession(last))?.outgoing.length ?? 0) < 1 && Date.now() - sharedAt < 300_000) await sleep(200);
    const fanOutMs = Date.now() - sharedAt;
    let ok = 0;
    for (const s of sample) {
      const got: string[] = [];
      const c = mqtt.connect({ host: "127.0.0.1", port: n3.mqttPort, clientId: s, clean: false, reconnectPeriod: 0 });
      c.on("message", (_t, p) => got.push(p.toString()));
      const deadline = Date.now() + 10_000;
      while (got.length < 2 && Date.now() < deadline) await sleep(20);
      await c.endAsync();
      if (got.includes(`own-${s}`) && got.includes("shared")) ok++;
      else console.error(`${s} got ${JSON.stringify(got)}`);
    }
    await store.close();
    const result = {
      sessions: args.sessions,
      createSeconds: Math.round(createMs / 100) / 10,
      routesOfNode1InStore: routeCount,
      memoryMb: { before, after },
      heapGrowthMb: { node2: tenths(after.n2.heap - before.n2.heap), node3: tenths(after.n3.heap - before.n3.heap) },
      externalGrowthMb: { node2: tenths(after.n2.external - before.n2.external), node3: tenths(after.n3.external - before.n3.external) },
      sharedFanOutSeconds: Math.round(fanOutMs / 100) / 10,
      sample: { checked: sample.length, gotBoth: ok },
    };
    console.log(JSON.stringify(result, null, 2));
    return ok === sample.length ? 0 : 1;
  } finally {
    await cluster.stop();
  }
}
