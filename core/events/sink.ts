import { EventSinkClosed } from "./errors.js";
import { encodeEvent } from "./parse.js";
import type { MqgateEvent } from "./schema.js";

/**
 * Where a broker node (or the REST gateway) emits events. `emit` validates every event (InvalidEvent: nothing of
 * the call is emitted) and resolves once the transport accepted all of them: the broker awaits it before it
 * acknowledges a QoS 1/2 publish, so an acknowledged publish is in the events queue. Order is kept per clientId.
 */
export interface EventSink {
  emit(events: readonly MqgateEvent[]): Promise<void>;
  /** Sends what is buffered, then refuses further events (EventSinkClosed). */
  close(): Promise<void>;
}

export interface MemoryEventSinkOptions {
  /** Events kept; beyond, the oldest go (counted in `dropped`). Default 10,000. */
  maxEvents?: number;
  /** Called with each accepted event (local development: print them). */
  onEvent?: (event: MqgateEvent) => void;
}

/** Keeps events in memory, as they would arrive from the queue (validated, round-tripped through JSON). */
export class MemoryEventSink implements EventSink {
  readonly events: MqgateEvent[] = [];
  /** Events pushed out by the bound. */
  dropped = 0;
  private readonly maxEvents: number;
  private readonly onEvent: ((event: MqgateEvent) => void) | undefined;
  private closed = false;

  constructor(opts: MemoryEventSinkOptions = {}) {
    this.maxEvents = opts.maxEvents ?? 10_000;
    this.onEvent = opts.onEvent;
  }

  async emit(events: readonly MqgateEvent[]): Promise<void> {
    if (this.closed) throw new EventSinkClosed();
    const bodies = events.map(encodeEvent); // all checked before any is kept
    for (const body of bodies) {
      const event = JSON.parse(body) as MqgateEvent;
      this.events.push(event);
      if (this.events.length > this.maxEvents) {
        this.events.shift();
        this.dropped++;
      }
      this.onEvent?.(event);
    }
  }

  /** Returns the events kept so far and forgets them. */
  take(): MqgateEvent[] {
    return this.events.splice(0, this.events.length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
