import type { QoS } from "mqtt-packet";
import type { MqgateConfig } from "../core/config/types.js";
import type { RetainedStats, Store, StoreOpResult } from "../core/store/types.js";
import { wordId, wordQos } from "../core/subscription-word.js";
import type { Journal, ResultTarget } from "./journal.js";
import { type RetainedHost, RetainedStream } from "./retained.js";
import type { Session } from "./session.js";
import type { RetainedFeed } from "./session-ports.js";
import type { DropReason, Message } from "./types.js";

/** `stats` is read from the store at most this often. */
const RETAINED_STATS_MS = 5000;

/** What retained handling reports to the broker (counters and events are the broker's). */
export interface RetainedOwner {
  onDeliveryDenied(session: Session, msg: Message): void;
  onDrop(session: Session | null, msg: Message, reason: DropReason): void;
  onStoreError(operation: string, err: Error): void;
}

/**
 * Retained messages as the broker handles them. They live in the store only: a RETAIN publish is written (or
 * cleared) through the journal, and a new subscription streams its matches from the store's retained index
 * (broker/retained.ts), each one offered to the session here. Also the cluster's retained count, read now and then.
 */
export class RetainedMessages implements RetainedHost, ResultTarget<Message> {
  /** The cluster's retained set as last read from the store (`refreshStats`); the store holds the messages. */
  private statsNow: RetainedStats = { count: 0, bytes: 0 };
  private statsAt = 0;
  private readonly createFeed = (session: Session): RetainedFeed => new RetainedStream(session, this);

  constructor(
    readonly store: Store,
    readonly journal: Journal,
    private readonly config: MqgateConfig,
    private readonly now: () => number,
    private readonly owner: RetainedOwner,
  ) {}

  get stats(): RetainedStats {
    return this.statsNow;
  }

  /** Reads the retained set's size from the store (at start). */
  async loadStats(): Promise<void> {
    this.statsNow = await this.store.retainedStats();
    this.statsAt = Date.now();
  }

  /** Reads the retained set's size from the store again when the last read is older than a few seconds. */
  refreshStats(): void {
    const now = Date.now();
    if (now - this.statsAt < RETAINED_STATS_MS) return;
    this.statsAt = now;
    this.store.retainedStats().then(
      (s) => (this.statsNow = s),
      (err: unknown) => this.owner.onStoreError("retainedStats", err as Error),
    );
  }

  /**
   * Stores or clears a retained message in the store, through the journal. Beyond the cluster-wide limits
   * (`maxRetained`, `maxRetainedBytes`) the store refuses it: counted and evented as dropped, "retained-limit".
   */
  write(msg: Message): void {
    if (msg.payload.length === 0) {
      this.journal.write({ op: "retained.delete", topic: msg.topic });
      return;
    }
    const { maxRetained, maxRetainedBytes } = this.config.limits;
    // The broker's clock: a set refused for a limit first sweeps what expired by then (Store.sweepRetained).
    this.journal.write({ op: "retained.set", msg, maxRetained, maxBytes: maxRetainedBytes, now: this.now() }, this, msg);
  }

  /** The store's answer to a retained.set. */
  onStoreResult(msg: Message, result: StoreOpResult): void {
    if (!result.ok && result.reason === "full") this.owner.onDrop(null, msg, "retained-limit");
  }

  /** Deletes a retained message without publishing anything; resolves once durable with whether it existed. */
  async delete(topic: string): Promise<boolean> {
    await this.journal.barrier();
    const existed = (await this.store.getRetained(topic)) !== null;
    const mark = this.journal.writes;
    this.journal.write({ op: "retained.delete", topic });
    return this.journal.durableSince(mark, existed);
  }

  /** Subscriptions.deliverRetained: streams the retained matches of a new subscription to the session. */
  deliver(session: Session, filter: string, grantedQos: QoS): void {
    session.sendRetained(filter, grantedQos, this.createFeed);
  }

  /**
   * Every retained message sent to a session passes here, at min(its QoS, the granted QoS) [MQTT-3.3.5-1].
   * Per-message read checks of retained deliveries belong in this one function.
   */
  offerRetained(session: Session, msg: Message, filter: string, grantedQos: QoS): void {
    // The subscription may have gone (UNSUBSCRIBE, a changed role) or been lowered while its lookup was pending.
    const current = session.subscriptions.get(filter);
    if (current === undefined) return;
    const qos = Math.min(msg.qos, grantedQos, wordQos(current)) as QoS;
    // Exact authorization: a subscription overlapping deny patterns gets no retained message they cover.
    const id = wordId(current);
    if (!session.mayReceive(msg.topic, filter)) this.owner.onDeliveryDenied(session, msg);
    else session.deliver(msg, qos, true, id === 0 ? undefined : [id]);
  }

  get retainedHighWaterMark(): number {
    return this.config.limits.socketHighWaterMark;
  }

  get retainedMaxQueued(): number {
    return this.config.limits.maxQueued;
  }

  onRetainedError(err: Error): void {
    this.owner.onStoreError("scanRetained", err);
  }
}
