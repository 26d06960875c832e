import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import mqtt from "mqtt";
import { type LocalCluster, startLocalCluster } from "../scripts/lib/local-cluster.js";
import { summarizeLatencies } from "./accounting.js";

/**
 * Cross-node figures (`node bench/cross-node.mjs`): a local cluster of two broker processes on the Redis store,
 * with node queues in fauxqs (the SQS emulator). One publisher and one subscriber, either on the same node or on
 * different nodes (the message crosses a node link, or a node queue with `--links off`), measured interleaved (same, cross, same, cross, ...):
 * - latency at a fixed rate (p50/p99/max, publish to receipt, same clock);
 * - throughput: QoS 1 publishes with up to `window` unacknowledged, for a fixed time;
 * - take-over: time from a CONNECT on node B until the old connection on node A is closed.
 * Every message is sequence-numbered; lost, duplicated and reordered messages are counted.
 */

interface Args {
  rate: number;
  seconds: number;
  rounds: number;
  window: number;
  out: string | null;
  /** Publishers of a latency run; they share `rate` (a fleet: many devices, each at a fraction of the rate). */
  publishers: number;
  /** Node links (the fast lane) on or off (`--links off`: every forward by the node queue, as before decision 018). */
  links: boolean;
  /** `--persistent`: the latency runs' publishers keep persistent sessions (clean = 0: QoS 2 root records, S13). */
  persistent: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, def: number): number => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? def : Number(argv[i + 1]);
  };
  const outIdx = argv.indexOf("--out");
  const linksIdx = argv.indexOf("--links");
  return {
    rate: get("rate", 500),
    seconds: get("seconds", 6),
    rounds: get("rounds", 2),
    window: get("window", 64),
    publishers: get("publishers", 1),
    out: outIdx === -1 ? null : (argv[outIdx + 1] ?? null),
    links: linksIdx === -1 || argv[linksIdx + 1] !== "off",
    persistent: argv.includes("--persistent"),
  };
}

interface Accounting {
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  latencies: number[];
}

function track(sub: mqtt.MqttClient, prefix: string): { acc: Accounting } {
  const acc: Accounting = { received: 0, lost: 0, duplicates: 0, reordered: 0, latencies: [] };
  // Per publisher (the topic's last level): what it sent is numbered 0, 1, 2, ... in publish order.
  const seen = new Map<string, { seqs: Set<number>; last: number }>();
  sub.on("message", (topic, payload) => {
    if (!topic.startsWith(prefix)) return;
    const now = performance.timeOrigin + performance.now();
    const [seqText, sentText] = payload.toString().split(" ");
    const seq = Number(seqText);
    let pair = seen.get(topic);
    if (pair === undefined) seen.set(topic, (pair = { seqs: new Set(), last: -1 }));
    if (pair.seqs.has(seq)) {
      acc.duplicates++;
      return;
    }
    pair.seqs.add(seq);
    if (seq < pair.last) acc.reordered++;
    pair.last = Math.max(pair.last, seq);
    acc.received++;
    acc.latencies.push(now - Number(sentText));
  });
  return { acc };
}

async function client(port: number, clientId: string, clean = true): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ host: "127.0.0.1", port, clientId, reconnectPeriod: 0, clean });
  (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  return c;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Subscribes, then publishes probes until one arrives: the subscription reached the publisher's node. */
async function ready(pub: mqtt.MqttClient, sub: mqtt.MqttClient, topic: string): Promise<void> {
  let arrived = false;
  const onMessage = (t: string): void => {
    if (t === `${topic}/probe`) arrived = true;
  };
  sub.on("message", onMessage);
  await sub.subscribeAsync(`${topic}/#`, { qos: 2 });
  for (let i = 0; i < 200 && !arrived; i++) {
    await pub.publishAsync(`${topic}/probe`, "probe", { qos: 0 });
    await waitFor(() => arrived, 100);
  }
  sub.off("message", onMessage);
  if (!arrived) throw new Error(`subscription ${topic}/# never became visible to the publisher's node`);
}

/**
 * `args.publishers` publishers on the publisher's node share the offered rate (`args.rate` in all), each on its own
 * topic, with random phases; one subscriber on the other (or the same) node takes all of them.
 */
async function latencyRun(pubPort: number, subPort: number, qos: 0 | 1 | 2, args: Args, tag: string) {
  const topic = `bench/${tag}`;
  const sub = await client(subPort, `${tag}-sub`);
  const pubs = await Promise.all(Array.from({ length: args.publishers }, (_, i) => client(pubPort, `${tag}-pub${i}`, !args.persistent)));
  await ready(pubs[0] as mqtt.MqttClient, sub, topic);
  const { acc } = track(sub, `${topic}/m/`);
  const perPublisher = Math.max(1, Math.round((args.rate * args.seconds) / args.publishers));
  const interval = (1000 * args.publishers) / args.rate;
  const start = performance.now();
  await Promise.all(
    pubs.map(async (pub, p) => {
      const phase = Math.random() * interval;
      for (let seq = 0; seq < perPublisher; seq++) {
        const wait = start + phase + seq * interval - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        pub.publish(`${topic}/m/${p}`, `${seq} ${performance.timeOrigin + performance.now()}`, { qos });
      }
    }),
  );
  const total = perPublisher * args.publishers;
  await waitFor(() => acc.received + acc.duplicates >= total, 20_000);
  acc.lost = total - acc.received;
  await Promise.all([...pubs.map((p) => p.endAsync()), sub.endAsync()]);
  return { qos, sent: total, publishers: args.publishers, ...acc, latency: summarizeLatencies(acc.latencies) };
}

async function throughputRun(pubPort: number, subPort: number, args: Args, tag: string) {
  const topic = `bench/${tag}`;
  const sub = await client(subPort, `${tag}-sub`);
  const pub = await client(pubPort, `${tag}-pub`);
  await ready(pub, sub, topic);
  const { acc } = track(sub, `${topic}/m`);
  let seq = 0;
  let inflight = 0;
  const end = performance.now() + args.seconds * 1000;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (inflight < args.window && performance.now() < end) {
        inflight++;
        pub.publish(`${topic}/m`, `${seq++} ${performance.timeOrigin + performance.now()}`, { qos: 1 }, () => {
          inflight--;
          pump();
        });
      }
      if (performance.now() >= end && inflight === 0) resolve();
    };
    pump();
  });
  const sent = seq;
  await waitFor(() => acc.received + acc.duplicates >= sent, 30_000);
  acc.lost = sent - acc.received;
  await Promise.all([pub.endAsync(), sub.endAsync()]);
  return { sent, msgsPerSecond: sent / args.seconds, received: acc.received, lost: acc.lost, duplicates: acc.duplicates, reordered: acc.reordered };
}

async function takeoverRun(cluster: LocalCluster, tag: string): Promise<number> {
  const [a, b] = cluster.nodes;
  const old = await mqtt.connectAsync({ host: "127.0.0.1", port: a!.mqttPort, clientId: tag, clean: false, reconnectPeriod: 0 });
  let closedAt = 0;
  old.on("close", () => (closedAt ||= performance.now()));
  const start = performance.now();
  const fresh = await mqtt.connectAsync({ host: "127.0.0.1", port: b!.mqttPort, clientId: tag, clean: false, reconnectPeriod: 0 });
  await waitFor(() => closedAt > 0, 10_000);
  await fresh.endAsync();
  return closedAt > 0 ? closedAt - start : Number.NaN;
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const cluster = await startLocalCluster({ nodes: 2, env: { ...(args.links ? {} : { MQGATE_CLUSTER__LINKS: "false" }), ...(process.env.BENCH_NODE_ENV ? JSON.parse(process.env.BENCH_NODE_ENV) : {}) } });
  const [a, b] = cluster.nodes as [LocalCluster["nodes"][number], LocalCluster["nodes"][number]];
  const results: Record<string, unknown[]> = {};
  const add = (key: string, value: unknown): void => {
    (results[key] ??= []).push(value);
  };
  try {
    // Warm-up, not recorded: SQS clients connect, queue URLs are looked up, the JIT (brokers, SDK, emulator) settles.
    for (const qos of [0, 1] as const) await latencyRun(a.mqttPort, b.mqttPort, qos, { ...args, seconds: 5 }, `warmup-${qos}`);
    for (let round = 0; round < args.rounds; round++) {
      for (const qos of [0, 1, 2] as const) {
        for (const placement of ["same", "cross"] as const) {
          const r = await latencyRun(a.mqttPort, placement === "same" ? a.mqttPort : b.mqttPort, qos, args, `lat-${placement}-${qos}-${round}`);
          add(`latency ${placement} qos${qos}`, r);
          process.stderr.write(
            `round ${round} latency ${placement} QoS ${qos}: p50 ${r.latency.p50.toFixed(2)} ms p99 ${r.latency.p99.toFixed(2)} ms max ${r.latency.max.toFixed(1)} ms lost ${r.lost} dup ${r.duplicates} reordered ${r.reordered}\n`,
          );
        }
      }
      for (const placement of ["same", "cross"] as const) {
        const r = await throughputRun(a.mqttPort, placement === "same" ? a.mqttPort : b.mqttPort, args, `tput-${placement}-${round}`);
        add(`throughput ${placement} qos1`, r);
        process.stderr.write(`round ${round} throughput ${placement} QoS 1: ${r.msgsPerSecond.toFixed(0)} msg/s lost ${r.lost} dup ${r.duplicates} reordered ${r.reordered}\n`);
      }
      const t = await takeoverRun(cluster, `takeover-${round}`);
      add("takeover ms", t);
      process.stderr.write(`round ${round} take-over: old connection closed after ${t.toFixed(1)} ms\n`);
    }
  } finally {
    await cluster.stop();
  }
  const json = JSON.stringify({ when: new Date().toISOString(), args, results }, null, 2);
  if (args.out !== null) writeFileSync(resolve(args.out), json);
  else process.stdout.write(`${json}\n`);
  return 0;
}
