import { PayloadTooLarge } from "../core/communicator/errors.js";
// Not core/events/index.js: that re-exports the SQS sink, and a single node should not load the AWS SDK.
import { InvalidEvent } from "../core/events/errors.js";
import type { MqgateEvent } from "../core/events/schema.js";
import type { EventSink } from "../core/events/sink.js";

/**
 * The events a node holds for the events queue, bounded in count and bytes, sent in order per client
 * (decision 009, docs/events.md "Bounded buffer").
 *
 * - Order: each client has a lane; a lane has at most one `sink.emit` call in flight (its first events, up to
 *   `BATCH`), and a failed call is retried, with backoff, before any later event of that client is sent. So event
 *   N+1 of a client never reaches the queue before event N, also across an SQS outage.
 * - Bound: an event that does not fit (`maxEvents`, `maxBytes`) is dropped at once and counted; the client's later
 *   events go on when there is room again (a gap, never a reordering). `fits()` lets the broker refuse a QoS 1/2
 *   publish before accepting it, so an acknowledged publish never loses its event to the bound.
 * - Events that can never be sent (InvalidEvent, PayloadTooLarge) are dropped, counted and reported.
 */

export type EventDropReason = "buffer-full" | "invalid" | "too-large" | "shutdown";

export interface EventBufferOptions {
  maxEvents: number;
  maxBytes: number;
  onError(err: Error): void;
  /** The buffer overflowed (`full`, on the first drop) or has room again (below half of both bounds). */
  onOverflow(full: boolean, droppedSinceFull: number): void;
}

export interface EventBufferStats {
  readonly events: number;
  readonly bytes: number;
  readonly dropped: Readonly<Record<EventDropReason, number>>;
}

/** Events per sink call of one client: one SendMessageBatch's worth. */
const BATCH = 10;
const RETRY_MAX_MS = 2000;

interface Held {
  event: MqgateEvent;
  bytes: number;
  /** Settles the promise of `hold(..., true)` (QoS 1/2 publishes: the acknowledgement waits for it). */
  done: (() => void) | null;
}

class Lane {
  readonly queue: Held[] = [];
  sending = false;
  attempt = 0;
  /** After a call refused as unsendable: this many events go one per call, to find the culprit. */
  singles = 0;
  timer: NodeJS.Timeout | null = null;
  constructor(readonly clientId: string) {}
}

export class EventBuffer implements EventBufferStats {
  events = 0;
  bytes = 0;
  readonly dropped: Record<EventDropReason, number> = { "buffer-full": 0, invalid: 0, "too-large": 0, shutdown: 0 };
  private readonly lanes = new Map<string, Lane>();
  private full = false;
  private droppedSinceFull = 0;
  private closed = false;

  constructor(
    private readonly sink: EventSink,
    private readonly opts: EventBufferOptions,
  ) {}

  /** Whether an event of `bytes` would be accepted now. */
  fits(bytes: number): boolean {
    return !this.closed && this.events < this.opts.maxEvents && this.bytes + bytes <= this.opts.maxBytes;
  }

  /**
   * Queues an event behind the client's earlier ones. With `track`, returns a promise that resolves once the event
   * left the buffer (accepted by the sink, or dropped as unsendable); null when it was dropped at once or not tracked.
   */
  hold(event: MqgateEvent, bytes: number, track: boolean): Promise<void> | null {
    if (!this.fits(bytes)) {
      this.drop(this.closed ? "shutdown" : "buffer-full");
      return null;
    }
    let lane = this.lanes.get(event.clientId);
    if (lane === undefined) {
      lane = new Lane(event.clientId);
      this.lanes.set(event.clientId, lane);
    }
    const held: Held = { event, bytes, done: null };
    const settled = track ? new Promise<void>((resolve) => (held.done = resolve)) : null;
    lane.queue.push(held);
    this.events++;
    this.bytes += bytes;
    this.pump(lane);
    return settled;
  }

  /** Sends what can still be sent (one more attempt for lanes waiting to retry), then drops the rest. */
  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      if (lane.timer !== null) {
        clearTimeout(lane.timer);
        lane.timer = null;
        lane.sending = false;
        this.pump(lane);
      }
    }
    for (let i = 0; i < 100 && [...this.lanes.values()].some((l) => l.sending); i++) await new Promise((r) => setTimeout(r, 50));
    for (const lane of this.lanes.values()) this.settle(lane, lane.queue.length, "shutdown");
    this.lanes.clear();
  }

  private pump(lane: Lane): void {
    if (lane.sending || lane.queue.length === 0) return;
    lane.sending = true;
    const n = Math.min(lane.singles > 0 ? 1 : BATCH, lane.queue.length);
    const batch: MqgateEvent[] = [];
    for (let i = 0; i < n; i++) batch.push((lane.queue[i] as Held).event);
    this.sink.emit(batch).then(
      () => this.sent(lane, n),
      (err: unknown) => this.failed(lane, n, err instanceof Error ? err : new Error(String(err))),
    );
  }

  private sent(lane: Lane, n: number): void {
    lane.attempt = 0;
    if (lane.singles > 0) lane.singles--;
    this.settle(lane, n, null);
    this.next(lane);
  }

  private failed(lane: Lane, n: number, err: Error): void {
    this.opts.onError(err);
    if (err instanceof InvalidEvent || err instanceof PayloadTooLarge) {
      // Nothing of the call was sent. One event alone is the culprit; in a batch, find it one event at a time.
      if (n === 1) {
        if (lane.singles > 0) lane.singles--;
        this.settle(lane, 1, err instanceof InvalidEvent ? "invalid" : "too-large");
      } else {
        lane.singles = n;
      }
      this.next(lane);
      return;
    }
    if (this.closed) {
      this.next(lane);
      return;
    }
    // Transient (SQS unreachable, throttled, the sink's own buffer full): the same events again, nothing later first.
    lane.attempt++;
    const delay = Math.min(RETRY_MAX_MS, 25 * 2 ** Math.min(lane.attempt, 10));
    lane.timer = setTimeout(retryLane, delay, this, lane).unref();
  }

  /** Called by the retry timer. */
  retry(lane: Lane): void {
    lane.timer = null;
    lane.sending = false;
    this.pump(lane);
  }

  private next(lane: Lane): void {
    lane.sending = false;
    if (lane.queue.length === 0 || this.closed) {
      if (lane.queue.length === 0) this.lanes.delete(lane.clientId);
      return;
    }
    this.pump(lane);
  }

  /** Removes the first `n` events of a lane: sent (`reason` null) or dropped. */
  private settle(lane: Lane, n: number, reason: EventDropReason | null): void {
    const gone = lane.queue.splice(0, n);
    for (const held of gone) {
      this.events--;
      this.bytes -= held.bytes;
      if (reason !== null) this.dropped[reason]++;
      held.done?.();
    }
    if (this.full && this.events <= this.opts.maxEvents / 2 && this.bytes <= this.opts.maxBytes / 2) {
      this.full = false;
      this.opts.onOverflow(false, this.droppedSinceFull);
      this.droppedSinceFull = 0;
    }
  }

  private drop(reason: EventDropReason): void {
    this.dropped[reason]++;
    this.droppedSinceFull++;
    if (!this.full && reason === "buffer-full") {
      this.full = true;
      this.opts.onOverflow(true, this.droppedSinceFull);
    }
  }
}

function retryLane(buffer: EventBuffer, lane: Lane): void {
  buffer.retry(lane);
}

/** Approximate encoded size of an event: its strings (base64 payloads dominate) plus the envelope. */
export function eventBytes(event: MqgateEvent): number {
  let n = 200;
  for (const value of Object.values(event)) {
    if (typeof value === "string") n += value.length;
    else if (Array.isArray(value)) for (const item of value as unknown[]) n += typeof item === "string" ? item.length + 3 : 80;
  }
  return n;
}

/** `eventBytes` of the `message.published` a publish would produce, before building it. */
export function publishedEventBytes(clientId: string, topic: string, payloadBytes: number): number {
  return 260 + clientId.length + topic.length + 4 * Math.ceil(payloadBytes / 3);
}
