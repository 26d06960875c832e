/**
 * The load generator: one process per measurement, started by the runner, never inside the broker's process.
 * Reads a MeasurementSpec (JSON, argv[2]), drives the broker over raw sockets, reads the broker's CPU and RSS
 * from /proc at the edges of the measured interval, and sends a MeasurementResult back over IPC.
 */
import { DeliveryAccounting, summarizeLatencies } from "./accounting.js";
import { BenchClient } from "./client.js";
import { runFleet } from "./fleet-loadgen.js";
import { closeAll, CONNECT_TIMEOUT_MS, finishResult, Meter, type Measured, phaseError, sleep, watchPhase } from "./measure.js";
import { sampleProc } from "./proc.js";
import { failedMeasurement, type IdleSpec, type LatencySpec, type MeasurementResult, type MeasurementSpec, type ThroughputSpec } from "./types.js";
import { PublishTemplate } from "./wire.js";

class Publisher {
  sent = 0;
  completed = 0;
  limit = 0;
  scheduled = false;
  constructor(
    readonly index: number,
    readonly client: BenchClient,
    readonly template: PublishTemplate,
  ) {}
}

async function runThroughput(spec: ThroughputSpec): Promise<MeasurementResult> {
  const total = spec.warmupPerPublisher + spec.measuredPerPublisher;
  const acc = new DeliveryAccounting(spec.publishers, spec.subscribers, total);
  const clients: BenchClient[] = [];
  const subs: BenchClient[] = [];
  const pubs: Publisher[] = [];
  let arrivals = 0;
  let distinct = 0;
  let completions = 0;
  let closed: string | null = null;
  let phase: { poke: () => void } | null = null;
  const onClose = (id: string) => (err: Error | null) => {
    if (err !== null && closed === null) closed = `${id}: ${err.message}`;
  };
  const base = { host: spec.host, port: spec.port, keepalive: 0, timeoutMs: CONNECT_TIMEOUT_MS, ackPerPacket: spec.perPacket, protocol: spec.protocol };

  const schedule = (pub: Publisher) => {
    if (pub.scheduled || pub.sent >= pub.limit) return;
    pub.scheduled = true;
    setImmediate(pump, pub);
  };
  const pump = (pub: Publisher) => {
    pub.scheduled = false;
    if (pub.client.closed) return;
    let minArrived = Number.POSITIVE_INFINITY;
    for (let s = 0; s < spec.subscribers; s++) minArrived = Math.min(minArrived, acc.arrivals(pub.index, s));
    let room = Math.min(pub.limit - pub.sent, spec.window - (pub.sent - minArrived));
    if (spec.qos > 0) room = Math.min(room, spec.window - (pub.sent - pub.completed));
    if (room <= 0) return;
    const tpl = pub.template;
    if (spec.perPacket) {
      // One PUBLISH per write, each stamped when it is written.
      for (let i = 0; i < room; i++) {
        const seq = pub.sent++;
        const buf = Buffer.allocUnsafe(tpl.size);
        tpl.write(buf, 0, (seq % 65_535) + 1, pub.index, seq, performance.now());
        pub.client.write(buf);
      }
      return;
    }
    const buf = Buffer.allocUnsafe(room * tpl.size);
    const now = performance.now();
    let o = 0;
    for (let i = 0; i < room; i++) {
      const seq = pub.sent++;
      o = tpl.write(buf, o, (seq % 65_535) + 1, pub.index, seq, now);
    }
    pub.client.write(buf);
  };

  try {
    for (let s = 0; s < spec.subscribers; s++) {
      const id = `bench-sub-${s}`;
      const c = await BenchClient.open({ ...base, clientId: id, clean: !spec.persistentSubscribers });
      clients.push(c);
      subs.push(c);
      c.onClose = onClose(id);
      const granted = await c.subscribe(spec.filter, spec.qos);
      if (granted !== spec.qos) throw new Error(`${id}: granted QoS ${granted}, asked ${spec.qos}`);
      c.onMessage = (p, seq) => {
        arrivals++;
        const v = acc.record(p, s, seq);
        if (v === "ok" || v === "reordered") distinct++;
        const pub = pubs[p];
        if (pub !== undefined) schedule(pub);
        phase?.poke();
      };
    }
    for (let p = 0; p < spec.publishers; p++) {
      const id = `bench-pub-${p}`;
      const c = await BenchClient.open({ ...base, clientId: id, clean: true });
      clients.push(c);
      c.onClose = onClose(id);
      // MQTT 5: more unacknowledged QoS 1/2 publishes than the server's Receive Maximum end the connection (0x93).
      if (spec.qos > 0 && spec.window > c.receiveMaximum) throw new Error(`${id}: --window ${spec.window} is above the server's Receive Maximum ${c.receiveMaximum}`);
      const topic = spec.perPublisherTopic ? `${spec.topicPrefix}${p}` : spec.topicPrefix;
      const pub = new Publisher(p, c, new PublishTemplate(topic, spec.qos, spec.payloadSize, spec.protocol));
      pubs.push(pub);
      c.onComplete = () => {
        pub.completed++;
        completions++;
        schedule(pub);
        phase?.poke();
      };
    }
  } catch (err) {
    for (const c of clients) c.destroy();
    return failedMeasurement(`setup: ${(err as Error).message}`);
  }

  const runTo = async (limit: number, what: string): Promise<string | null> => {
    const expectDistinct = limit * spec.publishers * spec.subscribers;
    const isDone = () => distinct >= expectDistinct && (spec.qos === 0 || pubs.every((p) => p.completed >= limit));
    const w = watchPhase(isDone, () => arrivals + completions, () => closed, spec.stallMs, spec.timeoutMs);
    phase = w;
    for (const pub of pubs) {
      pub.limit = limit;
      schedule(pub);
    }
    const end = await w.promise;
    phase = null;
    return phaseError(end, `${what} (received ${distinct} of ${expectDistinct})`, closed);
  };

  const meter = new Meter(spec);
  let error = await runTo(spec.warmupPerPublisher, "warm-up");
  let measured: Measured | null = null;
  let delivered = 0;
  let published = 0;
  if (error === null) {
    const arrivals0 = arrivals;
    const sent0 = pubs.reduce((a, p) => a + p.sent, 0);
    meter.start();
    error = await runTo(total, "measurement");
    measured = await meter.stop();
    delivered = arrivals - arrivals0;
    published = pubs.reduce((a, p) => a + p.sent, 0) - sent0;
  }
  // Late duplicates would show up here.
  await sleep(100);
  const delivery = acc.summarize(pubs.map((p) => p.sent));
  await closeAll(clients);
  return finishResult(error, measured, published, delivered, delivery, null, null);
}

async function runLatency(spec: LatencySpec): Promise<MeasurementResult> {
  const warmupCount = Math.round((spec.ratePerSecond * spec.warmupMs) / 1000);
  const measuredCount = Math.round((spec.ratePerSecond * spec.durationMs) / 1000);
  const total = warmupCount + measuredCount;
  const acc = new DeliveryAccounting(1, 1, total);
  const latencies = new Float64Array(measuredCount);
  let nLatencies = 0;
  let arrivals = 0;
  let distinct = 0;
  let completed = 0;
  let sent = 0;
  let closed: string | null = null;
  let phase: { poke: () => void } | null = null;
  const clients: BenchClient[] = [];
  const base = { host: spec.host, port: spec.port, keepalive: 0, timeoutMs: CONNECT_TIMEOUT_MS, protocol: spec.protocol };
  let pubClient: BenchClient;
  try {
    const sub = await BenchClient.open({ ...base, clientId: "bench-lat-sub", clean: true });
    clients.push(sub);
    sub.onClose = (err) => {
      if (err !== null) closed ??= `subscriber: ${err.message}`;
    };
    const granted = await sub.subscribe("bench/lat", spec.qos);
    if (granted !== spec.qos) throw new Error(`granted QoS ${granted}, asked ${spec.qos}`);
    sub.onMessage = (_p, seq, sentAt, receivedAt) => {
      arrivals++;
      const v = acc.record(0, 0, seq);
      if (v === "ok" || v === "reordered") {
        distinct++;
        if (seq >= warmupCount && nLatencies < measuredCount) latencies[nLatencies++] = (receivedAt - sentAt) * 1000;
      }
      phase?.poke();
    };
    pubClient = await BenchClient.open({ ...base, clientId: "bench-lat-pub", clean: true });
    clients.push(pubClient);
    pubClient.onClose = (err) => {
      if (err !== null) closed ??= `publisher: ${err.message}`;
    };
    pubClient.onComplete = () => {
      completed++;
      phase?.poke();
    };
  } catch (err) {
    for (const c of clients) c.destroy();
    return failedMeasurement(`setup: ${(err as Error).message}`);
  }
  const tpl = new PublishTemplate("bench/lat", spec.qos, spec.payloadSize, spec.protocol);
  const pub = pubClient;

  /** Sends seqs up to `limit` paced at the rate, starting now; resolves when all are delivered (and acknowledged). */
  const paced = async (limit: number, what: string): Promise<string | null> => {
    const first = sent;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | null = null;
    const tick = () => {
      timer = null;
      if (pub.closed) return;
      const now = performance.now();
      const due = Math.min(limit, first + Math.floor(((now - t0) * spec.ratePerSecond) / 1000) + 1);
      let n = due - sent;
      n = Math.min(n, spec.window - (sent - arrivals));
      if (spec.qos > 0) n = Math.min(n, spec.window - (sent - completed));
      if (n > 0) {
        const buf = Buffer.allocUnsafe(n * tpl.size);
        let o = 0;
        for (let i = 0; i < n; i++) {
          const seq = sent++;
          o = tpl.write(buf, o, (seq % 65_535) + 1, 0, seq, now);
        }
        pub.write(buf);
      }
      if (sent < limit) timer = setTimeout(tick, 1);
    };
    const isDone = () => distinct >= limit && (spec.qos === 0 || completed >= limit);
    const w = watchPhase(isDone, () => arrivals + completed + sent, () => closed, spec.stallMs, spec.timeoutMs);
    phase = w;
    tick();
    const end = await w.promise;
    phase = null;
    if (timer !== null) clearTimeout(timer);
    return phaseError(end, `${what} (received ${distinct} of ${limit})`, closed);
  };

  const meter = new Meter(spec);
  let error = await paced(warmupCount, "warm-up");
  let measured: Measured | null = null;
  let delivered = 0;
  let published = 0;
  if (error === null) {
    const arrivals0 = arrivals;
    const sent0 = sent;
    meter.start();
    error = await paced(total, "measurement");
    measured = await meter.stop();
    delivered = arrivals - arrivals0;
    published = sent - sent0;
  }
  await sleep(100);
  const delivery = acc.summarize([sent]);
  await closeAll(clients);
  const latency = nLatencies > 0 ? summarizeLatencies(latencies.subarray(0, nLatencies)) : null;
  return finishResult(error, measured, published, delivered, delivery, latency, null);
}

async function runIdle(spec: IdleSpec): Promise<MeasurementResult> {
  const base = { host: spec.host, port: spec.port, keepalive: spec.keepalive, timeoutMs: CONNECT_TIMEOUT_MS, protocol: spec.protocol };
  // Warm the broker's connection path once, so the first-connection costs (code compiled, pools created) are
  // not charged to the idle connections.
  const warm: BenchClient[] = [];
  try {
    for (let i = 0; i < 20; i++) warm.push(await BenchClient.open({ ...base, clientId: `bench-warm-${i}`, clean: true }));
  } catch (err) {
    for (const c of warm) c.destroy();
    return failedMeasurement(`warm-up connect: ${(err as Error).message}`);
  }
  await closeAll(warm);
  await sleep(spec.settleMs);

  const meter = new Meter(spec);
  const clients: (BenchClient | null)[] = new Array<BenchClient | null>(spec.connections).fill(null);
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  let dropped = 0;
  const deadline = performance.now() + spec.timeoutMs;
  const worker = async () => {
    while (next < spec.connections && performance.now() < deadline) {
      const i = next++;
      try {
        const c = await BenchClient.open({ ...base, clientId: `bench-idle-${i}`, clean: true });
        c.onClose = (err) => {
          if (err !== null) dropped++;
        };
        clients[i] = c;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  meter.start();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.connections) }, worker));
  const connectMs = performance.now() - t0;
  const connectPhase = await meter.stop();
  const connected = clients.filter((c) => c !== null).length;
  await sleep(spec.settleMs);
  const after = sampleProc(spec.brokerPid);
  const rssPerConnBytes = connected > 0 ? (after.rssBytes - connectPhase.broker.rssBeforeBytes) / connected : Number.NaN;
  const stillOpen = clients.filter((c) => c !== null && !c.closed).length;
  for (const c of clients) c?.destroy();

  let error: string | null = null;
  if (failed > 0 || connected < spec.connections) error = `${spec.connections - connected} of ${spec.connections} connections failed (first: ${firstError ?? "timeout"})`;
  else if (dropped > 0 || stillOpen < connected) error = `${connected - stillOpen} idle connections were closed by the broker`;
  const idle = {
    requested: spec.connections,
    connected,
    failed,
    firstError,
    connectMs,
    connectsPerSec: connected / (connectMs / 1000),
    rssPerConnBytes,
    cpuUsPerConnect: connected > 0 ? (connectPhase.broker.cpuMs * 1000) / connected : Number.NaN,
    droppedWhileIdle: connected - stillOpen,
  };
  return {
    ok: error === null,
    error,
    elapsedMs: connectMs,
    published: 0,
    delivered: 0,
    deliveredPerSec: Number.NaN,
    broker: { ...connectPhase.broker, rssAfterBytes: after.rssBytes },
    side: connectPhase.side,
    cpuUsPerMsg: Number.NaN,
    sideCpuUsPerMsg: Number.NaN,
    loadgenCpuPct: connectPhase.loadgenCpuPct,
    backgroundCores: connectPhase.backgroundCores,
    delivery: null,
    latency: null,
    idle,
  };
}

export function runMeasurement(spec: MeasurementSpec): Promise<MeasurementResult> {
  switch (spec.kind) {
    case "throughput":
      return runThroughput(spec);
    case "latency":
      return runLatency(spec);
    case "idle":
      return runIdle(spec);
    case "fleet":
      return runFleet(spec);
  }
}

function reply(result: MeasurementResult): void {
  if (process.send) process.send(result, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }
}

const arg = process.argv[2];
if (arg !== undefined) {
  const spec = JSON.parse(arg) as MeasurementSpec;
  // Hard bound on the whole process, whatever happens to the phases.
  setTimeout(() => reply(failedMeasurement(`load generator gave up after ${spec.timeoutMs * 2 + 30_000} ms`)), spec.timeoutMs * 2 + 30_000);
  runMeasurement(spec).then(reply, (err: unknown) => reply(failedMeasurement(`load generator failed: ${(err as Error).stack ?? String(err)}`)));
}
