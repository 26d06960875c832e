/**
 * A bounded queue for expensive authentication work, fair across sources (client addresses).
 *
 * - At most `concurrency` tasks run at once, so password hashing never takes more than that many of libuv's
 *   threads (four by default, shared with DNS and file system calls).
 * - Waiting tasks are served round-robin per source: one source flooding CONNECTs only lengthens its own wait.
 * - At most `maxPending` tasks wait. When the queue is full, the source with the most waiting tasks gives up
 *   its newest one (unless the newcomer's source is that source, or as long): the flood is shed, not the others.
 * - When the oldest waiting task of a source has waited more than `maxWaitMs`, that source's new tasks are
 *   refused at once: its clients would wait toward their timeout, so they get CONNACK 0x03 now and may retry
 *   later. Measured waits, not predictions: a busy event loop (a burst of new sockets) makes hash times look
 *   long for a moment, and a prediction from them would turn a storm of valid devices away for nothing. A
 *   source with nothing waiting is always let in (round-robin serves it within one round).
 * - A task whose AbortSignal fires while it waits (its socket closed) leaves the queue at once.
 *
 * Refusals reject with AuthBusyError (CONNACK 0x03), cancellations with AuthCancelledError.
 */

/** The authentication queue cannot take this request now: answer CONNACK 0x03 (server unavailable). */
export class AuthBusyError extends Error {
  override readonly name = "AuthBusyError";
  readonly returnCode = 3;
  constructor(readonly why: "queue-full" | "wait-too-long" | "shed") {
    super(
      why === "queue-full"
        ? "authentication queue full"
        : why === "shed"
          ? "authentication queue full: dropped in favour of a client from a less busy address"
          : "authentication queue too long: this address's checks already wait beyond the limit",
    );
  }
}

/** The client went away while its authentication waited. */
export class AuthCancelledError extends Error {
  override readonly name = "AuthCancelledError";
  constructor() {
    super("authentication cancelled: the connection closed while waiting");
  }
}

export interface FairQueueOptions {
  /** Tasks running at once (at least 1). */
  concurrency: number;
  /** Tasks waiting at once (at least 1). */
  maxPending: number;
  /** Refuse a source's new tasks while its oldest waiting one has waited longer than this (ms); 0 = never. */
  maxWaitMs: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
}

export interface FairQueueStats {
  /** Tasks waiting now. */
  pending: number;
  /** Tasks running now. */
  running: number;
  /** Sources with waiting tasks now. */
  sources: number;
  completed: number;
  rejectedFull: number;
  rejectedWait: number;
  /** Waiting tasks dropped to make room for a task from a less busy source. */
  shed: number;
  cancelled: number;
  /** Moving average of a task's run time (until its callback ran), in milliseconds (0 before the first task). */
  averageRunMs: number;
}

interface Job {
  readonly source: string;
  readonly task: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly signal: AbortSignal | undefined;
  /** When it was queued (ms, `now()`). */
  readonly queuedAt: number;
  onAbort: (() => void) | null;
}

export class FairQueue {
  /** Waiting jobs per source; Map order is the round-robin order (a served source moves to the end). */
  private readonly bySource = new Map<string, Job[]>();
  private pending = 0;
  private running = 0;
  private averageMs = 0;
  private readonly counts = { completed: 0, rejectedFull: 0, rejectedWait: 0, shed: 0, cancelled: 0 };
  private readonly now: () => number;

  constructor(private readonly opts: FairQueueOptions) {
    if (!(opts.concurrency >= 1) || !(opts.maxPending >= 1)) throw new RangeError("concurrency and maxPending must be at least 1");
    this.now = opts.now ?? (() => performance.now());
  }

  /** Runs `task` when its turn comes. Rejects with AuthBusyError when refused, AuthCancelledError when aborted. */
  run<T>(source: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new AuthCancelledError());
    if (this.running < this.opts.concurrency && this.pending === 0) {
      return new Promise<T>((resolve, reject) => {
        this.start({ source, task, resolve: resolve as (v: unknown) => void, reject, signal, queuedAt: 0, onAbort: null });
      });
    }
    const own = this.bySource.get(source);
    const ownLength = own?.length ?? 0;
    const now = this.now();
    if (this.opts.maxWaitMs > 0 && own !== undefined && now - own[0]!.queuedAt > this.opts.maxWaitMs) {
      this.counts.rejectedWait++;
      return Promise.reject(new AuthBusyError("wait-too-long"));
    }
    if (this.pending >= this.opts.maxPending && !this.shedFromHeaviest(source, ownLength)) {
      this.counts.rejectedFull++;
      return Promise.reject(new AuthBusyError("queue-full"));
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = { source, task, resolve: resolve as (v: unknown) => void, reject, signal, queuedAt: now, onAbort: null };
      if (signal !== undefined) {
        job.onAbort = () => this.cancel(job);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      if (own === undefined) this.bySource.set(source, [job]);
      else own.push(job);
      this.pending++;
    });
  }

  stats(): FairQueueStats {
    return {
      pending: this.pending,
      running: this.running,
      sources: this.bySource.size,
      ...this.counts,
      averageRunMs: this.averageMs,
    };
  }

  /** Frees a slot by dropping the newest job of the source with the most waiting, if that is fairer. */
  private shedFromHeaviest(source: string, ownLength: number): boolean {
    let heaviest: Job[] | undefined;
    let heaviestSource = "";
    for (const [s, jobs] of this.bySource) {
      if (heaviest === undefined || jobs.length > heaviest.length) {
        heaviest = jobs;
        heaviestSource = s;
      }
    }
    if (heaviest === undefined || heaviestSource === source || heaviest.length <= ownLength + 1) return false;
    const victim = heaviest.pop()!;
    this.pending--;
    this.detach(victim);
    this.counts.shed++;
    victim.reject(new AuthBusyError("shed"));
    return true;
  }

  private cancel(job: Job): void {
    const jobs = this.bySource.get(job.source);
    const at = jobs === undefined ? -1 : jobs.indexOf(job);
    if (at < 0) return; // already started
    jobs!.splice(at, 1);
    if (jobs!.length === 0) this.bySource.delete(job.source);
    this.pending--;
    job.onAbort = null;
    this.counts.cancelled++;
    job.reject(new AuthCancelledError());
  }

  private detach(job: Job): void {
    if (job.onAbort !== null) job.signal?.removeEventListener("abort", job.onAbort);
    job.onAbort = null;
    const jobs = this.bySource.get(job.source);
    if (jobs !== undefined && jobs.length === 0) this.bySource.delete(job.source);
  }

  private start(job: Job): void {
    this.running++;
    const started = this.now();
    let result: Promise<unknown>;
    try {
      result = job.task();
    } catch (err) {
      result = Promise.reject(err as Error);
    }
    result.then(
      (value) => {
        this.finish(started);
        job.resolve(value);
      },
      (err: unknown) => {
        this.finish(started);
        job.reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private finish(started: number): void {
    const ms = Math.max(0, this.now() - started);
    this.averageMs = this.averageMs === 0 ? ms : this.averageMs * 0.9 + ms * 0.1;
    this.running--;
    this.counts.completed++;
    this.next();
  }

  /** Starts waiting jobs, one per source in turn, while there is capacity. */
  private next(): void {
    while (this.running < this.opts.concurrency && this.pending > 0) {
      const first = this.bySource.entries().next().value!;
      const [source, jobs] = first;
      const job = jobs.shift()!;
      this.pending--;
      this.bySource.delete(source);
      if (jobs.length > 0) this.bySource.set(source, jobs); // to the end of the round
      if (job.onAbort !== null) job.signal?.removeEventListener("abort", job.onAbort);
      job.onAbort = null;
      this.start(job);
    }
  }
}
