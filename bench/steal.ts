/**
 * Hypervisor steal during a fleet measurement (issue 17's worst-latency bar). On a virtual machine the host may keep
 * a vCPU off its physical CPU for milliseconds at a time while the guest has work for it: the guest counts that time
 * as `steal` in /proc/stat. A message in flight at such a moment waits as long, in whichever process (broker or load
 * generator) the vCPU was running, so a worst latency measured on such a machine may be the host's and not the
 * broker's. The load generator samples the steal counter every `intervalMs` and keeps the intervals in which it grew;
 * the report then gives, next to the worst latency of all messages, the worst of those whose flight no such interval
 * overlapped.
 *
 * /proc/stat counts in clock ticks (10 ms with USER_HZ 100), so an interval shows steal only once a tick's worth has
 * accumulated, and steal may be shown in a later interval than the one it happened in: a window marks where steal
 * was counted, not its exact extent, and a message "away from steal" may still have met some. The figure is a
 * supplement to the worst latency of all messages, never a replacement.
 */
import { sampleMachine } from "./proc.js";

/** Between two samples `from` and `to` (the sampling process's performance.now(), ms), the counter grew by `ms`. */
export interface StealWindow {
  from: number;
  to: number;
  ms: number;
}

/** The steal counter of the aggregate `cpu` line of /proc/stat (all CPUs), in ms (proc.ts parses the line). */
export function readStealMs(): number {
  return sampleMachine().stealMs;
}

export interface StealWatchOptions {
  intervalMs?: number;
  /** The counter, in ms; default /proc/stat's. Tests drive it. */
  read?: () => number;
  clock?: () => number;
}

/**
 * Samples the steal counter from `start()` until `stop()`; `available` is false before `start()` and where the
 * counter cannot be read (no /proc, or a read failed later: the readings then count for nothing).
 */
export class StealWatch {
  private timer: NodeJS.Timeout | null = null;
  private last = 0;
  private lastAt = 0;
  private readonly intervalMs: number;
  private readonly read: () => number;
  private readonly clock: () => number;
  private readonly found: StealWindow[] = [];
  private total = 0;
  private ok = false;

  constructor(options: StealWatchOptions = {}) {
    this.intervalMs = options.intervalMs ?? 100;
    this.read = options.read ?? readStealMs;
    this.clock = options.clock ?? (() => performance.now());
  }

  start(): void {
    try {
      this.last = this.read();
    } catch {
      return;
    }
    this.ok = true;
    this.lastAt = this.clock();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** One sample now (the timer's, and tests'). */
  sample(): void {
    if (!this.ok) return;
    const now = this.clock();
    let value: number;
    try {
      value = this.read();
    } catch {
      this.ok = false;
      return;
    }
    if (value > this.last) {
      this.found.push({ from: this.lastAt, to: now, ms: value - this.last });
      this.total += value - this.last;
    }
    this.last = value;
    this.lastAt = now;
  }

  /** Takes a last sample and stops. */
  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  get available(): boolean {
    return this.ok;
  }

  /** Steal counted between start and stop, ms of CPU time over all CPUs. */
  get totalMs(): number {
    return this.ok ? this.total : Number.NaN;
  }

  get windows(): readonly StealWindow[] {
    return this.found;
  }
}

export interface AwayFromSteal {
  /** The worst latency of the messages whose flight overlapped no steal window, ms (NaN when there is none). */
  maxMs: number;
  /** How many messages that was, of `n`. */
  clear: number;
}

/**
 * The worst latency of the messages that no steal window overlapped: message `i` was in flight from `sentAt[i]` to
 * `sentAt[i] + latencyUs[i] / 1000` (ms, the clock of the windows). `windows` in time order, as StealWatch keeps them.
 */
export function worstAwayFromSteal(sentAt: Float64Array, latencyUs: Float64Array, n: number, windows: readonly StealWindow[]): AwayFromSteal {
  let maxUs = Number.NEGATIVE_INFINITY;
  let clear = 0;
  for (let i = 0; i < n; i++) {
    const from = sentAt[i] as number;
    const lat = latencyUs[i] as number;
    if (overlapsAny(windows, from, from + lat / 1000)) continue;
    clear++;
    if (lat > maxUs) maxUs = lat;
  }
  return { maxMs: clear > 0 ? maxUs / 1000 : Number.NaN, clear };
}

/** Whether some window [w.from, w.to] meets [from, to]; binary search for the first window ending at or after `from`. */
function overlapsAny(windows: readonly StealWindow[], from: number, to: number): boolean {
  let lo = 0;
  let hi = windows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((windows[mid] as StealWindow).to < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < windows.length && (windows[lo] as StealWindow).from <= to;
}
