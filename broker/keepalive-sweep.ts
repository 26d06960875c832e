/**
 * Keepalive for all connections of a broker with one periodic sweep (decision 033) instead of a timer per
 * connection: an idle device costs one number field instead of a Timeout (about 150 bytes of heap plus its place in
 * Node's timer lists), and a packet costs one store of a constant instead of `timer.refresh()`.
 *
 * How it works. On every packet a connection writes `ACTIVE` into its own `seen` field. Every `intervalMs` the sweep
 * walks the connections and asks each for its mark (`anchorSeen`): a connection marked `ACTIVE` anchors itself at the
 * sweep's time (rounded up to a tick of
 * `TICK_MS`; its last packet came before that); any other has been silent since its anchor and is closed once
 * 1.5 × keepalive has passed since then [MQTT-3.1.2-24]. The anchor is never earlier than the last packet, so a client
 * is never closed early. It is closed at most `intervalMs` (the wait for the sweep that anchors) + 2 × `TICK_MS`
 * (rounding) + `intervalMs` (the wait for the sweep after the deadline) late, plus whatever delays the event loop:
 * 1.2 s with the defaults. Ticks count `TICK_MS` of a monotonic clock: small integers, held in place in the field
 * (a float or a millisecond count would outgrow V8's small integers after 24.8 days and be boxed).
 *
 * The sweep runs only while some connection has a keepalive: `watch()` starts it, a sweep that finds none stops it.
 */

/** What a connection shows the sweep. */
export interface KeepaliveSubject {
  /**
   * Its mark as it was: `ACTIVE` after a packet, else the tick it was last anchored at. An `ACTIVE` mark is replaced
   * by `anchor` (the subject's own field: the sweep never writes it).
   */
  anchorSeen(anchor: number): number;
  /** Keepalive in seconds while it applies (connected, keepalive on), else 0. */
  readonly watchedKeepalive: number;
  /** Silent for 1.5 × keepalive: close it. */
  onKeepaliveTimeout(): void;
}

/** `seen` of a connection that received a packet since the last sweep. */
export const ACTIVE = -1;

/** How often the sweep runs. */
export const SWEEP_INTERVAL_MS = 500;
/** Resolution of the anchors. */
export const TICK_MS = 100;

export interface KeepaliveSweepOptions {
  /** Monotonic clock in ms; default performance.now. Tests drive it. */
  clock?: () => number;
  intervalMs?: number;
}

export class KeepaliveSweep {
  private timer: NodeJS.Timeout | null = null;
  private readonly clock: () => number;
  private readonly intervalMs: number;

  constructor(
    /** The connections to watch (the broker's set); a sweep may close some of them. */
    private readonly subjects: () => Iterable<KeepaliveSubject>,
    options: KeepaliveSweepOptions = {},
  ) {
    this.clock = options.clock ?? (() => performance.now());
    this.intervalMs = options.intervalMs ?? SWEEP_INTERVAL_MS;
  }

  /** A connection with a keepalive is connected: make sure the sweep runs. */
  watch(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(sweepNow, this.intervalMs, this);
    this.timer.unref();
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** One sweep now (the timer's, and tests'): anchors active connections, closes silent ones; returns how many. */
  sweep(): number {
    const now = this.clock();
    const anchor = Math.ceil(now / TICK_MS);
    const tick = Math.floor(now / TICK_MS);
    let watched = 0;
    let expired: KeepaliveSubject[] | null = null;
    for (const subject of this.subjects()) {
      const keepalive = subject.watchedKeepalive;
      if (keepalive === 0) continue;
      watched++;
      const seen = subject.anchorSeen(anchor);
      if (seen === ACTIVE) continue;
      // 1.5 × keepalive seconds = keepalive × 15 ticks of 100 ms.
      if (tick - seen >= (keepalive * 1500) / TICK_MS) (expired ??= []).push(subject);
    }
    if (expired !== null) {
      // Closed after the walk: closing removes a connection from the set being walked.
      for (const subject of expired) subject.onKeepaliveTimeout();
      watched -= expired.length;
    }
    if (watched === 0) this.stop();
    return expired?.length ?? 0;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function sweepNow(sweep: KeepaliveSweep): void {
  sweep.sweep();
}
