/** The scenarios, the quick and full presets, and the plan: which target runs what, in which order. */
import type { TargetId } from "./targets.js";
import { fleetSizing } from "./fleet.js";
import type { FleetSpec, IdleSpec, LatencySpec, MeasurementSpec, QoS, SideProcess, ThroughputSpec } from "./types.js";
import type { Protocol } from "./wire.js";

export const SCENARIO_IDS = ["fan-in", "fan-out", "fan-in-per-packet", "fan-out-per-packet", "latency", "idle", "fan-in-persistent", "fleet"] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export const SCENARIO_TITLES: Record<ScenarioId, string> = {
  "fan-in": "Fan-in: 4 publishers → 1 subscriber on `bench/#`",
  "fan-out": "Fan-out: 1 publisher → 10 subscribers",
  latency: "Latency: 1 publisher → 1 subscriber at a fixed rate",
  idle: "Idle connections",
  "fan-in-persistent": "Fan-in with a persistent subscriber session (clean = 0)",
  "fan-in-per-packet": "Fan-in, one packet per write: 4 publishers → 1 subscriber, each PUBLISH and each acknowledgement written by itself",
  "fan-out-per-packet": "Fan-out, one packet per write: 1 publisher → 10 subscribers, each PUBLISH and each acknowledgement written by itself",
  fleet: "Fleet: devices publishing QoS 1 at a fixed rate with random phases → 1 backend subscriber on `fleet/+/up`",
};

/** The variants of fan-in and fan-out whose load generator writes one packet per write, like real clients. */
export function isPerPacket(scenario: ScenarioId): boolean {
  return scenario === "fan-in-per-packet" || scenario === "fan-out-per-packet";
}

export interface Preset {
  name: "quick" | "full";
  reps: number;
  fanIn: { warmup: number; measured: number };
  fanOut: { warmup: number; measured: number };
  persistent: { warmup: number; measured: number };
  latency: { warmupMs: number; durationMs: number };
  idleConnections: number;
  /** Wait before reading the broker's RSS, before and after connecting the idle connections. */
  idleSettleMs: number;
  /** QoS levels of the persistent-session scenario (QoS 1 is the store figure). */
  persistentQos: readonly QoS[];
  /** The fleet scenario: warm-up (at least two rounds of publishes) and measured time. */
  fleet: { warmupMs: number; durationMs: number };
  timeoutMs: number;
  stallMs: number;
}

export const PRESETS: Record<"quick" | "full", Preset> = {
  quick: {
    name: "quick",
    reps: 1,
    fanIn: { warmup: 2_000, measured: 8_000 },
    fanOut: { warmup: 500, measured: 3_000 },
    persistent: { warmup: 1_000, measured: 4_000 },
    latency: { warmupMs: 300, durationMs: 1_000 },
    idleConnections: 2_000,
    idleSettleMs: 1_000,
    persistentQos: [1],
    fleet: { warmupMs: 2_000, durationMs: 5_000 },
    timeoutMs: 30_000,
    stallMs: 5_000,
  },
  full: {
    name: "full",
    reps: 5,
    fanIn: { warmup: 10_000, measured: 40_000 },
    fanOut: { warmup: 2_000, measured: 15_000 },
    persistent: { warmup: 5_000, measured: 20_000 },
    latency: { warmupMs: 1_000, durationMs: 5_000 },
    idleConnections: 10_000,
    idleSettleMs: 2_000,
    persistentQos: [1, 2],
    fleet: { warmupMs: 5_000, durationMs: 30_000 },
    timeoutMs: 120_000,
    stallMs: 10_000,
  },
};

export interface PlanOptions {
  preset: Preset;
  scenarios: readonly ScenarioId[];
  qos: readonly QoS[];
  /** Targets to run (already filtered to the available ones). */
  targets: readonly TargetId[];
  /** mqgate-redis everywhere (true), or only in the store rows (false: the quick default). */
  redisEverywhere: boolean;
  reps: number;
  /** Multiplies the message counts of the throughput scenarios. */
  scale: number;
  payloadSize: number;
  window: number;
  ratePerSecond: number;
  idleConnections: number;
  /** MQTT protocol level of the load generator's clients. */
  protocol: Protocol;
  /** QoS levels of the persistent-session scenario. */
  persistentQos: readonly QoS[];
  /** The fleet scenario: devices, msg/s per device, measured seconds (null = the preset's). */
  devices: number;
  deviceRate: number;
  fleetSeconds: number | null;
}

export interface Row {
  scenario: ScenarioId;
  /** null for the idle scenario. */
  qos: QoS | null;
}

export interface PlannedRun extends Row {
  rep: number;
  target: TargetId;
}

/** Rows measured for the store figure (issue 3): the memory store against the Redis store. */
export function isStoreRow(row: Row): boolean {
  return row.qos === 1 && (row.scenario === "fan-in" || row.scenario === "fan-in-persistent");
}

export function rowsFor(scenarios: readonly ScenarioId[], qos: readonly QoS[], persistentQos: readonly QoS[] = [1, 2]): Row[] {
  const rows: Row[] = [];
  for (const scenario of SCENARIO_IDS) {
    if (!scenarios.includes(scenario)) continue;
    if (scenario === "idle") rows.push({ scenario, qos: null });
    // The fleet is QoS 1 by definition (issue 17), whatever --qos says.
    else if (scenario === "fleet") rows.push({ scenario, qos: 1 });
    else if (scenario === "fan-in-persistent") {
      // A persistent session only matters at QoS 1/2; QoS 1 is the store figure.
      for (const q of qos) if (q > 0 && persistentQos.includes(q)) rows.push({ scenario, qos: q });
    } else for (const q of qos) rows.push({ scenario, qos: q });
  }
  return rows;
}

/** `list` rotated left by `by` (so every target takes every position across repetitions). */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const n = list.length;
  if (n === 0) return [];
  const k = ((by % n) + n) % n;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * The order of the measurements: repetitions outermost, then rows, then the targets of the row, rotated by
 * the repetition: A B C, then B C A … so targets are interleaved and none always runs first.
 */
export function plan(opts: PlanOptions): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const rows = rowsFor(opts.scenarios, opts.qos, opts.persistentQos);
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const row of rows) {
      const targets = opts.targets.filter((t) => t !== "mqgate-redis" || opts.redisEverywhere || isStoreRow(row));
      for (const target of rotate(targets, rep)) runs.push({ ...row, rep, target });
    }
  }
  return runs;
}

/** The load generator's spec for one run. */
export function specFor(
  run: Row,
  opts: PlanOptions,
  where: { host: string; port: number; brokerPid: number; side: SideProcess[]; gcLog?: string | null },
): MeasurementSpec {
  const p = opts.preset;
  const { gcLog = null, ...address } = where;
  const common = { ...address, timeoutMs: p.timeoutMs, stallMs: p.stallMs, protocol: opts.protocol };
  const scaled = (n: number) => Math.max(1, Math.round(n * opts.scale));
  switch (run.scenario) {
    case "fan-in":
    case "fan-in-per-packet":
    case "fan-in-persistent": {
      const counts = run.scenario === "fan-in-persistent" ? p.persistent : p.fanIn;
      const spec: ThroughputSpec = {
        ...common,
        kind: "throughput",
        publishers: 4,
        subscribers: 1,
        topicPrefix: "bench/in/",
        perPublisherTopic: true,
        filter: "bench/#",
        qos: run.qos ?? 0,
        payloadSize: opts.payloadSize,
        warmupPerPublisher: scaled(counts.warmup),
        measuredPerPublisher: scaled(counts.measured),
        window: opts.window,
        persistentSubscribers: run.scenario === "fan-in-persistent",
        perPacket: isPerPacket(run.scenario),
      };
      return spec;
    }
    case "fan-out":
    case "fan-out-per-packet": {
      const spec: ThroughputSpec = {
        ...common,
        kind: "throughput",
        publishers: 1,
        subscribers: 10,
        topicPrefix: "bench/out",
        perPublisherTopic: false,
        filter: "bench/out",
        qos: run.qos ?? 0,
        payloadSize: opts.payloadSize,
        warmupPerPublisher: scaled(p.fanOut.warmup),
        measuredPerPublisher: scaled(p.fanOut.measured),
        window: opts.window,
        persistentSubscribers: false,
        perPacket: isPerPacket(run.scenario),
      };
      return spec;
    }
    case "latency": {
      const spec: LatencySpec = {
        ...common,
        kind: "latency",
        qos: run.qos ?? 0,
        payloadSize: opts.payloadSize,
        ratePerSecond: opts.ratePerSecond,
        warmupMs: p.latency.warmupMs,
        durationMs: p.latency.durationMs,
        // One second of messages: never reached unless the broker stalls.
        window: Math.max(opts.window, opts.ratePerSecond),
      };
      return spec;
    }
    case "idle": {
      const spec: IdleSpec = {
        ...common,
        kind: "idle",
        connections: opts.idleConnections,
        concurrency: 100,
        keepalive: 60,
        settleMs: p.idleSettleMs,
      };
      return spec;
    }
    case "fleet": {
      const durationMs = (opts.fleetSeconds ?? p.fleet.durationMs / 1000) * 1000;
      const size = fleetSizing(opts.devices, opts.deviceRate, p.fleet.warmupMs, durationMs);
      const spec: FleetSpec = {
        ...common,
        // The run itself lasts warm-up + measured time; the time limit comes on top of that.
        timeoutMs: p.timeoutMs + size.warmupMs + size.durationMs,
        kind: "fleet",
        devices: opts.devices,
        ratePerDevice: opts.deviceRate,
        payloadSize: opts.payloadSize,
        warmupMs: size.warmupMs,
        durationMs: size.durationMs,
        concurrency: 100,
        keepalive: 60,
        settleMs: p.idleSettleMs,
        gcLog,
      };
      return spec;
    }
  }
}
