/**
 * Virtual time for the simulation (docs/decisions/023-simulation.md). While installed, the process's timers
 * (setTimeout, setInterval, setImmediate and their clear*), Date.now, performance.now and Math.random are this
 * scheduler's: nothing runs until `run*` advances it, and everything runs in one order fixed by the seed. The code
 * under test needs no clock parameter: it is the same code as in production, with its globals replaced for the
 * length of one run. Promises and process.nextTick stay real (they carry no time); between two virtual events the
 * scheduler lets them settle completely with one real setImmediate.
 *
 * Only in-memory I/O may be used while installed: a real socket or file would complete at a real time the
 * scheduler does not know.
 */

type Callback = (...args: unknown[]) => void;

interface Task {
  id: number;
  at: number;
  seq: number;
  fn: Callback;
  args: unknown[];
  /** The delay asked for (what refresh() waits again). */
  delay: number;
  /** Repeat interval for setInterval, else null. */
  every: number | null;
  cancelled: boolean;
}

/** The handle a fake timer returns: enough of Node's Timeout for the code under test (unref, ref, refresh). */
class Handle {
  constructor(
    readonly task: Task,
    private readonly time: VirtualTime,
  ) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    this.time.reschedule(this.task);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.task.id;
  }
}

const real = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setInterval: globalThis.setInterval,
  clearInterval: globalThis.clearInterval,
  setImmediate: globalThis.setImmediate,
  clearImmediate: globalThis.clearImmediate,
  dateNow: Date.now,
  perfNow: performance.now.bind(performance),
  random: Math.random,
};

/** Yields to the real event loop once: every pending microtask and nextTick has run when it resolves. */
export function realTurn(): Promise<void> {
  return new Promise((resolve) => real.setImmediate(resolve));
}

/** The epoch the simulated clock starts at (a fixed date: runs do not depend on when they ran). */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

export class VirtualTime {
  now = SIM_EPOCH;
  private seq = 0;
  private nextId = 1;
  private timers: Task[] = [];
  private immediates: Task[] = [];
  private byId = new Map<number, Task>();
  private installed = false;
  /** Errors thrown by callbacks (a real process would crash on them). */
  readonly uncaught: Error[] = [];
  /** Virtual events run so far. */
  events = 0;

  constructor(private readonly random: () => number) {}

  install(): void {
    if (this.installed) throw new Error("virtual time is installed already");
    this.installed = true;
    const g = globalThis as Record<string, unknown>;
    g.setTimeout = (fn: Callback, ms?: number, ...args: unknown[]) => this.add(fn, ms, args, null);
    g.setInterval = (fn: Callback, ms?: number, ...args: unknown[]) => this.add(fn, ms, args, Math.max(1, ms ?? 1));
    g.setImmediate = (fn: Callback, ...args: unknown[]) => this.addImmediate(fn, args);
    g.clearTimeout = g.clearInterval = g.clearImmediate = (h: unknown) => this.cancel(h);
    Date.now = () => this.now;
    performance.now = () => this.now - SIM_EPOCH;
    Math.random = this.random;
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    const g = globalThis as Record<string, unknown>;
    g.setTimeout = real.setTimeout;
    g.clearTimeout = real.clearTimeout;
    g.setInterval = real.setInterval;
    g.clearInterval = real.clearInterval;
    g.setImmediate = real.setImmediate;
    g.clearImmediate = real.clearImmediate;
    Date.now = real.dateNow;
    performance.now = real.perfNow;
    Math.random = real.random;
  }

  /** Virtual timers pending (a leak check for tests). */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length + this.immediates.filter((t) => !t.cancelled).length;
  }

  private add(fn: Callback, ms: number | undefined, args: unknown[], every: number | null): Handle {
    const delay = Math.max(1, Number.isFinite(ms) ? Math.floor(ms as number) : 1);
    const task: Task = { id: this.nextId++, at: this.now + delay, seq: this.seq++, fn, args, delay, every, cancelled: false };
    this.byId.set(task.id, task);
    this.insert(task);
    return new Handle(task, this);
  }

  private addImmediate(fn: Callback, args: unknown[]): Handle {
    const task: Task = { id: this.nextId++, at: this.now, seq: this.seq++, fn, args, delay: 0, every: null, cancelled: false };
    this.byId.set(task.id, task);
    this.immediates.push(task);
    return new Handle(task, this);
  }

  private insert(task: Task): void {
    // Sorted by (at, seq); binary search for the place.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.timers[mid] as Task;
      if (t.at < task.at || (t.at === task.at && t.seq < task.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, task);
  }

  reschedule(task: Task): void {
    if (task.cancelled) return;
    // A timer that fired already is armed again (what Node does).
    this.byId.set(task.id, task);
    const i = this.timers.indexOf(task);
    if (i >= 0) this.timers.splice(i, 1);
    task.at = this.now + task.delay;
    task.seq = this.seq++;
    this.insert(task);
  }

  private cancel(h: unknown): void {
    if (h === undefined || h === null) return;
    const id = h instanceof Handle ? h.task.id : typeof h === "number" ? h : NaN;
    const task = this.byId.get(id);
    if (task === undefined) return;
    task.cancelled = true;
    this.byId.delete(id);
  }

  private call(task: Task): void {
    this.events++;
    try {
      task.fn(...task.args);
    } catch (err) {
      this.uncaught.push(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Runs immediates (and the promises they resolve) until none is left at this instant. */
  async settle(): Promise<void> {
    for (let rounds = 0; ; rounds++) {
      await realTurn();
      if (this.immediates.length === 0) return;
      if (rounds > 100_000) throw new Error("virtual time: immediates never settle (a setImmediate loop?)");
      const batch = this.immediates;
      this.immediates = [];
      for (const task of batch) {
        if (task.cancelled) continue;
        this.byId.delete(task.id);
        this.call(task);
      }
    }
  }

  /** Advances to `until` (absolute virtual ms), running every timer due on the way, in order. */
  async runTo(until: number, stop?: () => boolean): Promise<void> {
    for (;;) {
      await this.settle();
      if (stop?.() === true) return;
      let next = this.timers[0];
      while (next !== undefined && next.cancelled) {
        this.timers.shift();
        next = this.timers[0];
      }
      if (next === undefined || next.at > until) {
        this.now = Math.max(this.now, until);
        return;
      }
      this.timers.shift();
      this.now = Math.max(this.now, next.at);
      if (next.every !== null) {
        next.at = this.now + next.every;
        next.seq = this.seq++;
        this.insert(next);
      } else {
        this.byId.delete(next.id);
      }
      this.call(next);
    }
  }

  runFor(ms: number, stop?: () => boolean): Promise<void> {
    return this.runTo(this.now + ms, stop);
  }

  /** Runs virtual time until `p` settles (at most `maxMs` of it); returns its value. */
  async wait<T>(p: Promise<T>, maxMs = 600_000, what = "a promise"): Promise<T> {
    let done = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    p.then(
      (v) => {
        done = true;
        value = v;
      },
      (err: unknown) => {
        done = true;
        failed = true;
        error = err;
      },
    );
    const deadline = this.now + maxMs;
    while (!done && this.now < deadline) await this.runTo(deadline, () => done);
    await this.settle();
    if (!done) throw new Error(`virtual time: ${what} did not settle within ${maxMs} ms`);
    if (failed) throw error;
    return value as T;
  }
}
