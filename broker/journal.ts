import { randomBytes } from "node:crypto";
import type { ApplyKey, Store, StoreOp, StoreOpResult } from "../core/store/types.js";
import { applyUntilDone, BatchSignals } from "./journal-signals.js";
import { StallWatch } from "./journal-stall.js";
import { type DurabilityWaiter, JournalWrites, type ResultTarget } from "./journal-writes.js";

export type { DurabilityWaiter, ResultTarget } from "./journal-writes.js";

export interface JournalEvents {
  /** A batch failed; it will be retried. */
  onStoreError(err: Error, attempt: number): void;
  /** The store answered again after failures. */
  onStoreRecovered(): void;
  /**
   * The oldest applied batch has waited `waitedMs` for its side effects (every later acknowledgement waits with it):
   * `pending` names what it waits for. Reported every STALL_REPORT_MS while it lasts.
   */
  onStall?(batchId: number, waitedMs: number, pending: string[]): void;
}

/**
 * Collects the store writes of one tick into one batch and sends it with a single `store.apply` call
 * (one round trip). Batches are applied strictly in order, one at a time; a failed batch is retried with
 * backoff until it succeeds, while later writes accumulate in the next batch. Waiters (sessions holding
 * PUBLISHes to send, connections holding PUBACK/PUBREC) are told when their batch is durable. What goes into the
 * batch being filled (writes, side effects, waiters) is its base class, broker/journal-writes.ts.
 */
export class Journal extends JournalWrites {
  private inFlight = false;
  private scheduled = false;
  private failures = 0;
  private closed = false;
  /** Highest batch id known durable. */
  private durable = 0;
  /** Applied batches waiting for their side effects or for an earlier batch, in batch order. */
  private completing: { batchId: number; waiters: Set<DurabilityWaiter>; remaining: number; tasks: Promise<unknown>[]; since: number }[] = [];
  /** While a batch's results are handed out: what `followUp` made of them. */
  private resolvingFollowUps: Promise<unknown>[] | null = null;
  /** Names of tracked side effects, for the stall report (`label`). */
  private readonly labels = new WeakMap<Promise<unknown>, () => string>();
  /** Reports the oldest applied batch while its side effects hold every later acknowledgement (broker/journal-stall.ts). */
  private readonly stall: StallWatch;
  /** Which batches were applied, and which landed (applied, side effects settled). */
  private readonly signals = new BatchSignals();

  /**
   * Names this journal's batches to the store (`apply`'s key: writer and batch id): a batch retried after its reply
   * was lost is answered with its first results instead of being applied twice (decision 030). Batches go one at a
   * time and a failed one is retried unchanged, which is what the store's per-writer record relies on.
   */
  private readonly writer = randomBytes(9).toString("base64url");

  constructor(
    private readonly store: Store,
    private readonly events: JournalEvents,
    private readonly maxBackoffMs = 2000,
  ) {
    super();
    this.stall = new StallWatch(() => this.completing[0], this.labels, events);
  }

  /** Names a tracked side effect in the stall report (`describe` is called only when a stall is reported). */
  label(task: Promise<unknown>, describe: () => string): void {
    this.labels.set(task, describe);
  }

  /** Whether the last attempt failed (the store is unreachable). */
  get failing(): boolean {
    return this.failures > 0;
  }

  /**
   * Runs `fn` and resolves once the writes and side effects it caused landed in the store (applied, sends settled),
   * at once when it caused none. Unlike `barrier()` this does not wait for earlier batches, so a batch may wait for
   * it without waiting for itself.
   */
  landedAfter(fn: () => void): Promise<void> {
    // Only what `fn` caused: its ops applied and the side effects it tracked (or joined: a tick's forwards already
    // tracked by this batch), not the batch's other side effects. Waiting for those chained a node's link handler
    // to the sender's next handler, which waited for its own batch the same way.
    const writes = this.written;
    const ops = this.ops.length;
    const late = this.late.length;
    const outer = this.collecting;
    const joined: Promise<unknown>[] = [];
    this.collecting = joined;
    try {
      fn();
    } finally {
      this.collecting = outer;
    }
    outer?.push(...joined);
    if (this.written === writes) return Promise.resolve();
    if (this.late.length !== late) return this.signals.whenLanded(this.filling);
    const waits: Promise<unknown>[] = joined;
    // Its ops applied, and what their results caused in turn (a delivery refused and routed again) landed.
    if (this.ops.length !== ops) waits.push(this.signals.whenFollowedUp(this.filling));
    return Promise.allSettled(waits).then(() => undefined);
  }

  /**
   * Runs `fn`, a follow-up of a store result (a delivery the store refused and that is routed again): called from a
   * result callback, the batch whose results are handed out is durable only once what `fn` wrote landed too, so
   * the acknowledgements waiting for that batch never go out before the follow-up exists (decision 020).
   */
  followUp(fn: () => void): void {
    const resolving = this.resolvingTracks;
    if (resolving === null) {
      fn();
      return;
    }
    const followUps = this.resolvingFollowUps;
    this.resolvingTracks = null; // follow-up writes and sends belong to the next batch; this one waits for it
    this.resolvingFollowUps = null;
    try {
      const landed = this.landedAfter(fn);
      resolving.push(landed);
      followUps?.push(landed);
    } finally {
      this.resolvingTracks = resolving;
      this.resolvingFollowUps = followUps;
    }
  }

  /**
   * Resolves true once every op written before this call was applied by the store (side effects of those batches
   * may still be pending), false at once while the journal is failing or when the next attempt fails. A claim
   * waits for this: the session's earlier writes must be in the store before the claim reads it.
   */
  appliedAll(): Promise<boolean> {
    if (this.failures > 0) return Promise.resolve(false);
    const target = this.ops.length > 0 || this.late.length > 0 ? this.filling : this.inFlight ? this.filling - 1 : this.signals.applied;
    return this.signals.whenApplied(target);
  }

  /**
   * Resolves once every op written before this call was applied and what its results caused in turn (`followUp`:
   * deliveries the store refused, routed again) landed. Unlike `barrier()`, not the batches' other side effects
   * (deliveries held meanwhile), so a node may hold deliveries until then (decision 031).
   */
  followedUpAll(): Promise<void> {
    const waits: Promise<void>[] = [];
    if (this.inFlight) waits.push(this.signals.whenFollowedUp(this.filling - 1));
    if (this.ops.length > 0 || this.late.length > 0) waits.push(this.signals.whenFollowedUp(this.filling));
    return Promise.all(waits).then(() => undefined);
  }

  /** Resolves once everything written before this call is durable (used before claiming a session). */
  barrier(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.wait({ onDurable: () => resolve() }));
  }

  /** Resolves with `value` once the writes made since `mark` (a reading of `writes`) are durable. */
  durableSince<T>(mark: number, value: T): Promise<T> {
    if (this.written === mark) return Promise.resolve(value);
    return new Promise((resolve) => this.wait({ onDurable: () => resolve(value) }));
  }

  private get idle(): boolean {
    return this.ops.length === 0 && this.late.length === 0 && this.tracks.length === 0 && !this.inFlight && this.completing.length === 0;
  }

  /** Resolves when everything written so far is durable (shutdown). */
  async drain(timeoutMs: number): Promise<boolean> {
    // Pending writes go out in the batch being filled; with none pending, a batch may still be in flight.
    const pending = this.ops.length > 0 || this.late.length > 0 || this.tracks.length > 0 || this.waiters.size > 0;
    const target = pending ? this.filling : this.inFlight || this.completing.length > 0 ? this.filling - 1 : this.durable;
    const deadline = Date.now() + timeoutMs;
    while (this.durable < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.durable >= target;
  }

  close(): void {
    this.closed = true;
    this.stall.stop();
  }

  protected schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(flushJournal, this);
  }

  /** Sends the current batch (called from setImmediate; public for the scheduler only). */
  flush(): void {
    this.scheduled = false;
    if (this.inFlight || this.closed) return;
    const batchId = this.filling;
    const ops = this.ops;
    const targets = this.targets;
    const ctxs = this.ctxs;
    const waiters = this.waiters;
    const tracks = this.tracks;
    const late = this.late;
    if (ops.length === 0 && waiters.size === 0 && tracks.length === 0 && late.length === 0) return;
    this.filling++;
    this.ops = [];
    this.targets = [];
    this.ctxs = [];
    this.waiters = new Set();
    this.tracks = [];
    this.late = [];
    this.send(batchId, ops, targets, ctxs, waiters, tracks, late);
  }

  private send(
    batchId: number,
    ops: StoreOp[],
    targets: (ResultTarget | null)[],
    ctxs: unknown[],
    waiters: Set<DurabilityWaiter>,
    tracks: Promise<unknown>[],
    late: StoreOp[],
  ): void {
    this.inFlight = true;
    const key: ApplyKey = { writer: this.writer, batch: batchId };
    const applied = ops.length === 0 ? Promise.resolve([] as StoreOpResult[]) : this.store.apply(ops, key);
    applied.then(
      (results) => {
        this.inFlight = false;
        if (this.failures > 0) {
          this.failures = 0;
          this.events.onStoreRecovered();
        }
        this.signals.onApplied(batchId);
        this.resolvingTracks = tracks;
        const followUps: Promise<unknown>[] = [];
        this.resolvingFollowUps = followUps;
        try {
          for (let i = 0; i < targets.length; i++) {
            const target = targets[i];
            const result = results[i];
            if (target && result) target.onStoreResult(ctxs[i], result);
          }
        } finally {
          this.resolvingTracks = null;
          this.resolvingFollowUps = null;
        }
        this.signals.onFollowedUp(batchId, followUps);
        if (late.length > 0) {
          // The late ops (inbound QoS 2 markers) follow everything else of the batch: ops, sends, follow-ups.
          const before = tracks.splice(0);
          const apply = (): Promise<void> => applyUntilDone(this.store, late, (err, n) => this.events.onStoreError(err, n), () => this.closed, this.maxBackoffMs);
          const markers = Promise.allSettled(before).then(apply);
          this.labels.set(markers, () => `${late.length} inbound QoS 2 marker(s), written after the batch's other side effects`);
          tracks.push(markers);
        }
        this.signals.onResolved(batchId, tracks);
        if (tracks.length === 0 && this.completing.length === 0) {
          this.durable = batchId;
          for (const waiter of waiters) waiter.onDurable(batchId);
        } else {
          const entry = { batchId, waiters, remaining: tracks.length, tasks: tracks, since: Date.now() };
          this.completing.push(entry);
          const settle = (): void => {
            entry.remaining--;
            this.advance();
          };
          for (const task of tracks) {
            task.then(settle, (err: unknown) => {
              this.events.onStoreError(err instanceof Error ? err : new Error(String(err)), 1);
              settle();
            });
          }
          this.advance();
        }
        if (this.ops.length > 0 || this.waiters.size > 0 || this.tracks.length > 0 || this.late.length > 0) this.flush();
      },
      (err: unknown) => {
        this.failures++;
        this.events.onStoreError(err instanceof Error ? err : new Error(String(err)), this.failures);
        this.signals.onFailure();
        if (this.closed) {
          this.inFlight = false;
          return;
        }
        const delay = Math.min(this.maxBackoffMs, 25 * 2 ** Math.min(this.failures, 10));
        setTimeout(() => this.send(batchId, ops, targets, ctxs, waiters, tracks, late), delay).unref();
      },
    );
  }

  /** Declares applied batches durable, in order, once their side effects settled. */
  private advance(): void {
    const completing = this.completing;
    while (completing.length > 0 && (completing[0] as (typeof completing)[number]).remaining === 0) {
      const entry = completing.shift() as (typeof completing)[number];
      this.durable = entry.batchId;
      for (const waiter of entry.waiters) waiter.onDurable(entry.batchId);
    }
  }
}

function flushJournal(journal: Journal): void {
  journal.flush();
}
