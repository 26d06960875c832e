import type { DeliverySummary, LatencySummary } from "./accounting.js";
import type { Protocol } from "./wire.js";

export type QoS = 0 | 1 | 2;

/** Another process whose CPU is measured alongside the broker's (redis-server behind mqgate-redis). */
export interface SideProcess {
  name: string;
  pid: number;
}

interface CommonSpec {
  host: string;
  port: number;
  /** The broker process: its CPU and RSS are read from /proc. */
  brokerPid: number;
  side: SideProcess[];
  /** Whole measurement bound; a phase that does not finish in time ends the run as failed. */
  timeoutMs: number;
  /** A phase with no progress (no message, no acknowledgement) for this long ends as stalled. */
  stallMs: number;
  /** MQTT protocol level of every client: 4 (3.1.1) or 5. */
  protocol: Protocol;
}

/** N publishers → M subscribers; every subscriber receives every message. */
export interface ThroughputSpec extends CommonSpec {
  kind: "throughput";
  publishers: number;
  subscribers: number;
  /** Topic of publisher p: `topicPrefix` + p when `perPublisherTopic`, else `topicPrefix`. */
  topicPrefix: string;
  perPublisherTopic: boolean;
  filter: string;
  qos: QoS;
  payloadSize: number;
  warmupPerPublisher: number;
  measuredPerPublisher: number;
  /** Messages a publisher may have outstanding: sent but not acknowledged (QoS 1/2), or not yet received by every subscriber. */
  window: number;
  /** Subscribers connect with clean = false (their messages go through the broker's session store). */
  persistentSubscribers: boolean;
  /**
   * One packet per write, as device SDKs and MQTT.js send: every PUBLISH in its own write, every acknowledgement
   * written by itself as soon as its packet is read (false: a publisher writes what its window allows in one
   * write, a client acknowledges everything it read from one chunk in one write).
   */
  perPacket: boolean;
}

/** One publisher → one subscriber at a fixed rate; end-to-end latency of every message. */
export interface LatencySpec extends CommonSpec {
  kind: "latency";
  qos: QoS;
  payloadSize: number;
  ratePerSecond: number;
  warmupMs: number;
  durationMs: number;
  window: number;
}

/** N idle connections: connect rate, and broker memory per connection. */
export interface IdleSpec extends CommonSpec {
  kind: "idle";
  connections: number;
  /** CONNECTs in progress at once. */
  concurrency: number;
  keepalive: number;
  /** Wait after the last CONNACK before reading the broker's RSS. */
  settleMs: number;
}

/**
 * A fleet: `devices` connections, each publishing QoS 1 at `ratePerDevice` msg/s to `fleet/<n>/up` from a random
 * phase, each subscribed to `fleet/<n>/cmd`; one backend subscriber on `fleet/+/up`. One packet per write.
 */
export interface FleetSpec extends CommonSpec {
  kind: "fleet";
  devices: number;
  ratePerDevice: number;
  payloadSize: number;
  warmupMs: number;
  durationMs: number;
  /** CONNECTs (with their SUBSCRIBE) in progress at once. */
  concurrency: number;
  keepalive: number;
  /** Wait before reading the broker's idle RSS and its RSS with the fleet connected. */
  settleMs: number;
  /** The broker's GC log (bench/targets/gc-observer.mjs), or null for a broker that is not a Node.js process. */
  gcLog: string | null;
}

export type MeasurementSpec = ThroughputSpec | LatencySpec | IdleSpec | FleetSpec;

/** Garbage-collection pauses of a Node.js broker over the measured interval (perf_hooks "gc" entries). */
export interface GcSummary {
  count: number;
  /** Minor (scavenge) collections among `count`. */
  minor: number;
  totalMs: number;
  maxMs: number;
}

export interface FleetOutcome {
  devices: number;
  ratePerDevice: number;
  /** devices × ratePerDevice. */
  offeredPerSec: number;
  /** Time to connect and subscribe every device. */
  connectMs: number;
  /**
   * The broker with only the backend subscriber connected, after the connection path's warm-up and before any
   * message went through it. Absent in results older than decision 061 (their `rssIdleBytes` is this reading).
   */
  rssColdBytes?: number;
  rssFileColdBytes?: number;
  /**
   * The idle baseline: the same, after the message path's warm-up too (bench/fleet-warm.ts, decision 061), so what
   * a broker pays once is not counted per device.
   */
  rssIdleBytes: number;
  /** The broker with every device connected and subscribed, before any publish. */
  rssConnectedBytes: number;
  /** (RSS at the end of the measured interval − idle RSS) / devices. */
  rssPerDeviceBytes: number;
  /**
   * The mapped-file part of RSS (RssFile) at the idle reading and at the end: for a Node.js broker mostly pages of
   * the node binary's own code, such as V8's optimizing compiler once it first runs. Absent in older results.
   */
  rssFileIdleBytes?: number;
  rssFileEndBytes?: number;
  /** How late the load generator wrote publishes against their schedule, ms (its own lag, not the broker's). */
  sendLagP99Ms: number;
  sendLagMaxMs: number;
  /**
   * Hypervisor steal over the measured interval (bench/steal.ts): ms of CPU time the host took from the machine's
   * vCPUs, and in how many of the load generator's 100 ms samples it was counted. Absent in older results; NaN
   * where /proc/stat cannot be read.
   */
  stealMs?: number;
  stealWindows?: number;
  /** The worst latency of the messages whose flight no steal window overlapped, ms, and their share of all. */
  maxAwayFromStealMs?: number;
  awayFromStealShare?: number;
}

export interface ProcDelta {
  name: string;
  cpuMs: number;
  /** `cpuMs` split into user space and the kernel (utime, stime); absent in older results. */
  userMs?: number;
  systemMs?: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** Read and write system calls over the measured interval (/proc/<pid>/io); absent in older results. */
  readCalls?: number;
  writeCalls?: number;
}

export interface IdleOutcome {
  requested: number;
  connected: number;
  failed: number;
  firstError: string | null;
  connectMs: number;
  connectsPerSec: number;
  rssPerConnBytes: number;
  cpuUsPerConnect: number;
  /** Connections the broker closed during the settle time. */
  droppedWhileIdle: number;
}

export interface MeasurementResult {
  ok: boolean;
  /** Why the measurement failed (timeout, stall, connect error, lost messages …); null when ok. */
  error: string | null;
  /** Length of the measured interval, ms. */
  elapsedMs: number;
  /** Messages published in the measured interval. */
  published: number;
  /** Messages delivered to subscribers in the measured interval (duplicates included). */
  delivered: number;
  deliveredPerSec: number;
  broker: ProcDelta;
  side: ProcDelta[];
  /** Broker CPU (utime + stime) per delivered message, µs. */
  cpuUsPerMsg: number;
  /** Side processes' CPU (redis-server) per delivered message, µs. */
  sideCpuUsPerMsg: number;
  /** The load generator's own CPU over the measured interval, % of one core. */
  loadgenCpuPct: number;
  /** CPU cores that other processes on the machine kept busy during the measurement (0 on a quiet machine). */
  backgroundCores: number;
  /** Whole run, warm-up included. */
  delivery: DeliverySummary | null;
  /** End-to-end latencies of the measured messages, µs. */
  latency: LatencySummary | null;
  idle: IdleOutcome | null;
  /** Node.js brokers only (absent in results written before the fleet scenario). */
  gc?: GcSummary | null;
  fleet?: FleetOutcome | null;
  /**
   * mqgate only: messages the broker says it dropped during the run (its drop counter by reason, read after the
   * measurement; null when unreadable, absent for other brokers and in older results).
   */
  brokerDrops?: Record<string, number> | null;
}

/** The result of a measurement that produced no numbers (the load generator or a target failed). */
export function failedMeasurement(error: string): MeasurementResult {
  const none: ProcDelta = { name: "broker", cpuMs: Number.NaN, rssBeforeBytes: Number.NaN, rssAfterBytes: Number.NaN };
  return {
    ok: false,
    error,
    elapsedMs: Number.NaN,
    published: 0,
    delivered: 0,
    deliveredPerSec: Number.NaN,
    broker: none,
    side: [],
    cpuUsPerMsg: Number.NaN,
    sideCpuUsPerMsg: Number.NaN,
    loadgenCpuPct: Number.NaN,
    backgroundCores: Number.NaN,
    delivery: null,
    latency: null,
    idle: null,
  };
}
