/**
 * Pure logic of the fleet scenario (no I/O, unit-tested in test/unit/bench-fleet.test.ts): the publish schedule
 * with random phases, the sizes that follow from devices × rate × time, the option checks, and the summary of a
 * broker's GC log. The sockets side is bench/fleet-loadgen.ts.
 */
import type { GcSummary } from "./types.js";

/** Device ids travel in the payload stamp as a uint16 (bench/wire.ts). */
export const MAX_DEVICES = 65_000;
/**
 * Open files the runner keeps for itself, the broker's listeners and its other files, above one per device. An idle
 * broker holds 23 (its listeners, libuv's event loop files, stdio and the GC log), Mosquitto 7. With 96 a machine
 * whose hard limit is 20,000 runs 19,900 devices, the nearest it comes to issue 17's row of 20,000; with the 1,024 it
 * kept before, 18,900.
 */
export const SPARE_FILES = 96;

/**
 * When every device publishes: device d sends its k-th message (seq k) at phase[d] + k × interval ms after the
 * start, phase[d] uniform in [0, interval). Walked in time order by `due`, so one timer drives the whole fleet.
 */
export class FleetSchedule {
  readonly intervalMs: number;
  readonly phases: Float64Array;
  /** Device ids sorted by phase: the order in which they send within every round. */
  readonly order: Uint32Array;
  private cursor = 0;
  private round = 0;

  constructor(
    readonly devices: number,
    ratePerDevice: number,
    random: () => number = Math.random,
  ) {
    if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`devices must be a positive integer, got ${devices}`);
    if (!(ratePerDevice > 0)) throw new RangeError(`rate per device must be > 0, got ${ratePerDevice}`);
    this.intervalMs = 1000 / ratePerDevice;
    this.phases = new Float64Array(devices);
    for (let d = 0; d < devices; d++) this.phases[d] = random() * this.intervalMs;
    const ids = Array.from({ length: devices }, (_, d) => d).sort((a, b) => (this.phases[a] as number) - (this.phases[b] as number));
    this.order = Uint32Array.from(ids);
  }

  /** Time of the next send, ms after the start. */
  nextAt(): number {
    return this.round * this.intervalMs + (this.phases[this.order[this.cursor] as number] as number);
  }

  /**
   * Calls `send(device, seq, dueAt)` for every publish due at or before `nowMs` and before `endMs` (both ms after
   * the start), in time order. Returns false once every publish before `endMs` has been handed out.
   */
  due(nowMs: number, endMs: number, send: (device: number, seq: number, dueAt: number) => void): boolean {
    let at = this.nextAt();
    while (at <= nowMs && at < endMs) {
      send(this.order[this.cursor] as number, this.round, at);
      if (++this.cursor === this.devices) {
        this.cursor = 0;
        this.round++;
      }
      at = this.nextAt();
    }
    return at < endMs;
  }

  /** Publishes device d makes before `endMs`: the k with phase + k × interval < endMs. */
  sendsBefore(device: number, endMs: number): number {
    const phase = this.phases[device];
    if (phase === undefined) throw new RangeError(`no device ${device}`);
    return phase >= endMs ? 0 : Math.ceil((endMs - phase) / this.intervalMs);
  }
}

export interface FleetSizing {
  intervalMs: number;
  /** Warm-up: at least two rounds, so every device has published before the measured interval starts. */
  warmupMs: number;
  durationMs: number;
  /** Most messages one device can send in the run (PairTracker capacity). */
  perDeviceCapacity: number;
  /** Most end-to-end latencies the measured interval can produce. */
  measuredCapacity: number;
}

export function fleetSizing(devices: number, ratePerDevice: number, warmupMs: number, durationMs: number): FleetSizing {
  const intervalMs = 1000 / ratePerDevice;
  const warm = Math.max(warmupMs, 2 * intervalMs);
  return {
    intervalMs,
    warmupMs: warm,
    durationMs,
    perDeviceCapacity: Math.ceil((warm + durationMs) / intervalMs) + 1,
    measuredCapacity: devices * (Math.ceil(durationMs / intervalMs) + 1),
  };
}

/** Checks `--devices`. */
export function parseDevices(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_DEVICES) throw new Error(`--devices must be an integer in 1..${MAX_DEVICES}, got '${value}'`);
  return n;
}

/** Checks `--device-rate` (msg/s per device; fractions such as 0.5 are fine). */
export function parseDeviceRate(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1000)) throw new Error(`--device-rate must be a number of msg/s per device in (0, 1000], got '${value}'`);
  return n;
}

/** Checks `--fleet-seconds` (the measured interval). */
export function parseFleetSeconds(value: string): number {
  const n = Number(value);
  if (!(n >= 1 && n <= 3600)) throw new Error(`--fleet-seconds must be a number of seconds in 1..3600, got '${value}'`);
  return n;
}

/**
 * The open-files limit the load generator and the broker need for `connections` sockets each: null when `soft`
 * already allows it, the number to pass to `ulimit -n` when `hard` does, and an error saying what to do otherwise.
 */
export function filesNeeded(connections: number, soft: number, hard: number): { limit: number | null; error: string | null } {
  const needed = connections + SPARE_FILES;
  if (needed <= soft) return { limit: null, error: null };
  if (needed <= hard) return { limit: needed, error: null };
  return {
    limit: null,
    error:
      `${connections} connections need ${needed} open files in the load generator and in the broker, above the hard limit ${hard}. ` +
      `Raise it (e.g. 'ulimit -Hn ${needed}' as root, LimitNOFILE= for a service, 'nofile' in /etc/security/limits.conf), ` +
      `or use at most ${Math.max(0, hard - SPARE_FILES)} connections.`,
  };
}

/**
 * Summarises the lines of a GC log written by bench/targets/gc-observer.mjs (`<start epoch ms> <duration ms>
 * <kind>`) for the GCs that started within [fromMs, toMs] (epoch ms). Kind 1 is a minor GC (scavenge).
 */
export function summarizeGcLog(text: string, fromMs: number, toMs: number): GcSummary {
  const out: GcSummary = { count: 0, minor: 0, totalMs: 0, maxMs: 0 };
  for (const line of text.split("\n")) {
    const [a, b, c] = line.trim().split(" ");
    const start = Number(a);
    const duration = Number(b);
    if (a === undefined || a === "" || !Number.isFinite(start) || !Number.isFinite(duration)) continue;
    if (start < fromMs || start > toMs) continue;
    out.count++;
    if (Number(c) === 1) out.minor++;
    out.totalMs += duration;
    if (duration > out.maxMs) out.maxMs = duration;
  }
  return out;
}
