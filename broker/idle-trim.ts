/**
 * Lets sessions give back the message state they no longer use (decision 052).
 *
 * A session keeps its outbox (queue, in-flight window and table: about 450–500 bytes) once it has received a QoS 1 or
 * 2 message, so that a device receiving a steady stream allocates nothing per message. Most devices of a fleet receive
 * a command now and then, and kept that outbox for good. The sweep walks the sessions in slices of at most `slice`,
 * one slice every `intervalMs`, each slice going on where the last stopped; a session whose outbox was empty and
 * unused since the sweep's last pass lets it go (Session.trimIdle). So an outbox goes once it has been idle for one to
 * two passes: at least `intervalMs`, and longer on a node with more than `slice` sessions. A publisher's route memo
 * (decision 057) unused for a pass goes the same way: it may hold subscriptions of sessions that have ended.
 *
 * The sweep runs only while some session has an outbox or a memo: `watch()` (a session made one) starts it, and a
 * pass that leaves none stops it.
 */

/** What the sweep asks of a session. */
export interface IdleSubject {
  /** Lets go of state unused since the last pass; true while it still holds some (the sweep must come back). */
  trimIdle(): boolean;
}

/** Time between two slices. */
export const IDLE_SWEEP_INTERVAL_MS = 5_000;
/** Sessions visited per slice: bounds the event loop's time per slice (well under a millisecond per thousand). */
export const IDLE_SWEEP_SLICE = 5_000;

export interface IdleTrimOptions {
  intervalMs?: number;
  slice?: number;
}

export class IdleTrim {
  private timer: NodeJS.Timeout | null = null;
  /** The pass under way: where the next slice goes on. */
  private walk: Iterator<IdleSubject> | null = null;
  /** Sessions of the pass under way that still hold state. */
  private holding = 0;
  /** A session made an outbox or a memo during the pass under way (the pass may have gone by it): do not stop after it. */
  private madeDuringPass = false;
  private readonly intervalMs: number;
  private readonly slice: number;

  constructor(
    /** The sessions (the broker's map); a pass over them may see sessions added or removed while it runs. */
    private readonly subjects: () => Iterable<IdleSubject>,
    options: IdleTrimOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? IDLE_SWEEP_INTERVAL_MS;
    this.slice = options.slice ?? IDLE_SWEEP_SLICE;
  }

  /** A session made an outbox or a memo: make sure the sweep runs. */
  watch(): void {
    this.madeDuringPass = true;
    if (this.timer !== null) return;
    this.timer = setInterval(sweepNow, this.intervalMs, this);
    this.timer.unref();
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** One slice now (the timer's, and tests'). True when it ended a pass. */
  sweep(): boolean {
    const walk = (this.walk ??= this.subjects()[Symbol.iterator]());
    for (let n = 0; n < this.slice; n++) {
      const next = walk.next();
      if (next.done === true) {
        const idle = this.holding === 0 && !this.madeDuringPass;
        this.walk = null;
        this.holding = 0;
        this.madeDuringPass = false;
        if (idle) this.stop();
        return true;
      }
      if (next.value.trimIdle()) this.holding++;
    }
    return false;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.walk = null;
    this.holding = 0;
    this.madeDuringPass = false;
  }
}

function sweepNow(trim: IdleTrim): void {
  trim.sweep();
}
