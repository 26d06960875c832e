import type { QoS } from "mqtt-packet";
import type { Page, RetainedRecord, Store } from "../core/store/types.js";
import type { Journal } from "./journal.js";
import type { Session } from "./session.js";
import type { RetainedFeed, SessionLink } from "./session-ports.js";
import type { Message } from "./types.js";

/** Retained messages read from the store per page: what one session's stream holds in memory at most. */
export const RETAINED_PAGE = 32;

/** What a retained stream needs from the broker. */
export interface RetainedHost {
  readonly store: Store;
  readonly journal: Journal;
  /** Unsent bytes a link may hold before the stream waits (limits.socketHighWaterMark). */
  readonly retainedHighWaterMark: number;
  /** Messages a session may hold queued before the stream waits (limits.maxQueued). */
  readonly retainedMaxQueued: number;
  /** Hands one retained message to the session: the single place every retained delivery goes through. */
  offerRetained(session: Session, msg: Message, filter: string, grantedQos: QoS): void;
  onRetainedError(err: Error): void;
}

interface Lookup {
  readonly filter: string;
  readonly qos: QoS;
}

/**
 * Streams the retained messages matching a session's new subscriptions [MQTT-3.3.1-6], one store page at a time
 * and only while the link has room: its unsent output at most `socketHighWaterMark` (plus the one packet that
 * crossed it) and its queue below `maxQueued`. Beyond that the stream waits (for "drain" or for acks) instead of
 * dropping: retained messages are still in the store, so waiting costs one page of memory, nothing more. A node
 * never holds more than one page per subscribing session, whatever the size of the retained set or the number of
 * filters (300 distinct filters that match everything are 300 lookups, read one page at a time as the client reads;
 * a filter repeated while its lookup waits is looked up once).
 */
export class RetainedStream implements RetainedFeed {
  private readonly lookups: Lookup[] = [];
  private current: Lookup | null = null;
  private cursor: string | null = null;
  private more = false;
  private page: RetainedRecord[] = [];
  private at = 0;
  private reading = false;
  private pumping = false;
  private scheduled = false;
  private cancelled = false;

  constructor(
    private readonly session: Session,
    private readonly host: RetainedHost,
  ) {}

  /** Queues a lookup. A filter already waiting is looked up once, at its latest QoS (a repeated filter). */
  add(filter: string, qos: QoS): void {
    const i = this.lookups.findIndex((l) => l.filter === filter);
    if (i >= 0) this.lookups[i] = { filter, qos };
    else this.lookups.push({ filter, qos });
    this.pump();
  }

  remove(filter: string): void {
    const i = this.lookups.findIndex((l) => l.filter === filter);
    if (i >= 0) this.lookups.splice(i, 1);
    if (this.current?.filter === filter) {
      // A page being read for it is ignored when it arrives (see `read`).
      this.current = null;
      this.more = false;
      this.page = [];
      this.at = 0;
    }
  }

  get pending(): number {
    return this.lookups.length + (this.current !== null ? 1 : 0);
  }

  /** Sends what the link has room for; reads the next page when this one is sent. Called again on drain and acks. */
  pump(): void {
    if (this.pumping || this.cancelled) return;
    this.pumping = true;
    try {
      this.run();
    } finally {
      this.pumping = false;
    }
  }

  cancel(): void {
    this.cancelled = true;
    this.lookups.length = 0;
    this.page = [];
    this.current = null;
  }

  private run(): void {
    const link = this.session.link;
    if (link === null) {
      this.session.endRetained(this);
      return;
    }
    for (;;) {
      if (this.at < this.page.length) {
        if (!this.hasRoom(link)) {
          // Over the bound: "drain" (or an ack) pumps again. Not yet known as congested (this turn's batch is not
          // handed to the socket yet): look again once it is.
          if (!link.congested) this.later();
          return;
        }
        const m = this.page[this.at++] as RetainedRecord;
        // MQTT 5 properties and the publication time go with it (a 3.1.1 message has neither, and gets no key).
        const msg: Message =
          m.props === undefined && m.publishedAt === undefined
            ? { topic: m.topic, payload: m.payload, qos: m.qos, retain: true }
            : { topic: m.topic, payload: m.payload, qos: m.qos, retain: true, props: m.props, publishedAt: m.publishedAt };
        const lookup = this.current as Lookup;
        this.host.offerRetained(this.session, msg, lookup.filter, lookup.qos);
        continue;
      }
      this.page = [];
      this.at = 0;
      if (this.reading) return;
      if (!this.more) {
        const next = this.lookups.shift();
        if (next === undefined) {
          this.current = null;
          this.session.endRetained(this);
          return;
        }
        this.current = next;
        this.cursor = null;
        this.more = true;
      }
      this.read(this.current as Lookup);
      return;
    }
  }

  private hasRoom(link: SessionLink): boolean {
    if (link.congested || link.unsentBytes > this.host.retainedHighWaterMark) return false;
    const queued = this.session.queuedCount;
    return queued === 0 || queued < this.host.retainedMaxQueued;
  }

  private later(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private read(lookup: Lookup): void {
    this.reading = true;
    // The first page waits for this node's own pending writes (a retained message it just accepted).
    const first = this.cursor === null;
    (first ? this.host.journal.barrier() : Promise.resolve())
      .then(() => this.host.store.scanRetained(lookup.filter, { cursor: this.cursor, limit: RETAINED_PAGE }))
      .then(
        (page: Page<RetainedRecord>) => {
          this.reading = false;
          if (this.cancelled) return;
          if (this.current !== lookup) {
            this.pump(); // its subscription went away meanwhile
            return;
          }
          this.page = page.items;
          this.at = 0;
          this.cursor = page.cursor;
          this.more = page.cursor !== null;
          this.pump();
        },
        (err: unknown) => {
          this.reading = false;
          this.more = false;
          this.host.onRetainedError(err as Error);
          this.pump();
        },
      );
  }
}
