import type { QoS } from "mqtt-packet";
import type { SessionSnapshot, StoreOpResult } from "../core/store/types.js";
import type { ResultTarget } from "./journal.js";
import type { RetainedFeed, SessionHost, SessionLimits, SessionLink } from "./session-ports.js";
import { RouteMemo } from "./route-memo.js";
import type { InflightTable } from "./inflight-table.js";
import { DeliveryHold } from "./session-hold.js";
import { SessionHolding } from "./session-holding.js";
import { Outbox, undeliverableTo } from "./session-outbox.js";
import { enqueueOffline, offlineStored, type OfflineEntry } from "./session-offline.js";
import type { Message, Outgoing } from "./types.js";

/**
 * The state of one MQTT session ([MQTT-3.1.2-4]): its claim, subscriptions, outgoing messages (its outbox:
 * broker/session-outbox.ts, with the in-flight window of broker/session-inflight.ts), and inbound QoS 2 packet ids.
 * `deliver` routes each delivery to the outbox, to the hold while the session is claimed (broker/session-hold.ts),
 * to the node it moved to, or to the store while it is offline. Its claim and inbound QoS 2 ids, its subscriptions
 * and guards, and what it does with its hold are its base classes (broker/session-claim-state.ts,
 * broker/session-subscriptions.ts, broker/session-holding.ts).
 *
 * Persistent sessions (clean = 0) are written through to the store: an outgoing QoS 1/2 message is sent only
 * once its store write is durable, so a message a subscriber has seen is one a restarted broker can re-send with
 * the same packet id. While such a session is offline, the store alone holds its messages. Clean sessions live in
 * memory only.
 */
export class Session extends SessionHolding implements ResultTarget<Outgoing | OfflineEntry> {
  /** The connection attached to this session (`attach` to `detach`), or null. */
  private attached: SessionLink | null = null;
  /**
   * The message state below is created on first use (decision 029): most devices of a fleet never have a message
   * to them, nor an inbound QoS 2 one, while connected. Methods that only read or clear it check the field, so an
   * idle session keeps none of it.
   */
  private outbox: Outbox | null = null;
  /** The last packet id of an outbox let go while idle (`trimIdle`): the next outbox's ids go on from it. */
  private lastPacketId = 0;
  /** The retained messages still to send for new subscriptions, or null. */
  private retainedFeed: RetainedFeed | null = null;
  /** What the client's last publish matched (broker/route-memo.ts), made at its first publish. */
  private memo: RouteMemo | null = null;

  constructor(
    clientId: string,
    clean: boolean,
    private readonly limits: SessionLimits,
    private readonly host: SessionHost,
  ) {
    super(clientId, clean);
  }

  /**
   * The memo of what this session's client last published to matched (decision 057), made on first use; null while
   * no client is attached (a will published for it is routed without one).
   */
  routeMemo(): RouteMemo | null {
    if (this.attached === null) return null;
    if (this.memo !== null) return this.memo;
    this.host.onIdleStateMade();
    return (this.memo = new RouteMemo());
  }

  /** Outgoing QoS 1/2 messages sent and not yet acknowledged, by packet id (created on first use). */
  get inflight(): InflightTable<Outgoing> {
    return this.box().inflight.table;
  }

  /** How many outgoing messages are in flight; allocates nothing. */
  get inflightCount(): number {
    return this.outbox === null ? 0 : this.outbox.inflight.count;
  }

  /** The outbox, created with the session's first message (again after `trimIdle` let it go). */
  private box(): Outbox {
    if (this.outbox !== null) return this.outbox;
    this.host.onIdleStateMade();
    return (this.outbox = new Outbox(this, this.limits, this.host, this.lastPacketId));
  }

  /** SessionHolding: a hold of this session's deliveries keeps the stored ones it has in the outbox (`box`). */
  protected newHold(inherited: number): DeliveryHold {
    return new DeliveryHold(this, this.host, () => this.box(), inherited);
  }

  /**
   * The idle sweep's visit (broker/idle-trim.ts): lets go of the outbox once it has been empty and unused for a whole
   * pass of the sweep, keeping its last packet id for the next one (decision 052). A device that received a QoS 1
   * message keeps about 450–500 B of outbox, window and table otherwise. The route memo goes once unused for a whole
   * pass (decision 057). True while the session still holds either.
   */
  trimIdle(): boolean {
    // A memo unused for a whole pass goes too: it may hold subscriptions of sessions that have ended (decision 057).
    if (this.memo !== null && !this.memo.usedSinceLastSweep()) this.memo = null;
    const box = this.outbox;
    if (box !== null && box.quietSinceLastSweep()) {
      this.lastPacketId = box.inflight.lastId;
      this.outbox = null;
    }
    return this.outbox !== null || this.memo !== null;
  }

  /** Drops the message state held in memory (the store, for a persistent session, keeps its own). */
  private clearMessageState(): void {
    this.outbox?.clear();
    this.dropInbound();
  }

  /** Whether a connection is attached to this session here or claiming it here (null `link` and `claimant`: idle). */
  get servedHere(): boolean {
    return this.attached !== null || this.claimant !== null;
  }

  /** The connection attached to this session, or null. */
  get link(): SessionLink | null {
    return this.attached;
  }

  /** Removes a subscription (SessionSubscriptions) and the retained lookup still pending for it, if any. */
  override removeSubscription(filter: string): boolean {
    this.retainedFeed?.remove(filter);
    return super.removeSubscription(filter);
  }

  /** Drops the outgoing messages the client may no longer receive, after a resume under changed rules (Outbox.discard). */
  discardOutgoing(mayReceive: (topic: string) => boolean): Message[] {
    return this.outbox === null ? [] : this.outbox.discard(mayReceive);
  }

  get queuedCount(): number {
    return this.outbox === null ? 0 : this.outbox.queuedCount;
  }

  /**
   * Delivers a message at `qos` (already min(message QoS, granted QoS)). Keeps publish order per session: once
   * anything is queued, later messages queue behind it [MQTT-4.6.0-6]. `subIds`: the MQTT 5 Subscription
   * Identifiers of the subscriptions that matched; they go with the delivery wherever it waits [MQTT-3.3.4-3].
   */
  deliver(msg: Message, qos: QoS, retain: boolean, subIds?: readonly number[], group?: string): void {
    // Kept small enough to be inlined into the routing loop: the rarer cases are methods of their own.
    const link = this.attached;
    const hold = this.hold;
    if ((hold !== null && hold.takes(qos)) || link === null) {
      this.deliverDetached(msg, qos, retain, subIds);
      return;
    }
    // MQTT 5: an expired message, or one too large for the receiver, is dropped before it gets a packet id.
    if ((msg.publishedAt !== undefined || link.v5 !== null) && this.dropsUndeliverable(msg, link, subIds)) return;
    if (qos === 0 && (this.outbox === null || this.outbox.queuedCount === 0)) {
      if (link.congested) this.host.onDrop(this, msg, "slow-consumer");
      else link.writePublish(msg, 0, retain, false, 0, subIds);
      return;
    }
    if (qos !== 0 && this.persistent) this.box().sendStored(msg, qos, retain, link, subIds);
    else this.box().send(msg, qos, retain, link, subIds, group);
  }

  /**
   * A delivery while no connection can take it: held while the session is being claimed, forwarded to the node it
   * moved to, or stored for an offline persistent session (QoS 0 is not stored [MQTT-3.1.2-5]; a clean session has
   * nothing to keep it in).
   */
  private deliverDetached(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    const hold = this.hold;
    if (hold !== null && hold.takes(qos)) hold.add(msg, qos, retain, subIds);
    else if (this.owner !== null) this.host.forward(this, this.owner, msg, qos, retain, subIds);
    else if (qos !== 0 && this.persistent) enqueueOffline(this, this.host, this.limits, msg, qos, retain, subIds);
  }

  /** Drops a delivery the MQTT 5 client may not get (expired, larger than its Maximum Packet Size); true when dropped. */
  private dropsUndeliverable(msg: Message, link: SessionLink, subIds: readonly number[] | undefined): boolean {
    const why = undeliverableTo(link, msg, subIds, this.host);
    if (why === null) return false;
    this.host.onDrop(this, msg, why);
    return true;
  }

  /**
   * A delivery the store refused as "fenced": a newer claim owns the session (a take-over whose kick has not
   * arrived here yet). Routed again, under its dedup id: to the session here when this node holds the newer claim
   * (same node take-over), else through the store, which queues it (offline) or names the owner to forward it to.
   * The publisher's acknowledgement waits for this (Journal.followUp, decision 020).
   */
  private reroute(out: Outgoing): void {
    const journal = this.host.journal;
    journal.followUp(() =>
      journal.withDedupId(out.dedupId ?? null, () => {
        if (!this.host.clustered && (this.attached !== null || this.hold !== null)) this.deliver(out.msg, out.qos, out.retain, out.subIds);
        else enqueueOffline(this, this.host, this.limits, out.msg, out.qos, out.retain, out.subIds);
      }),
    );
  }

  /** Result of this session's store write for `ctx`: an outgoing message of its outbox, or an offline enqueue. */
  onStoreResult(ctx: Outgoing | OfflineEntry, result: StoreOpResult): void {
    if ("offline" in ctx) offlineStored(this, this.host, ctx, result);
    else if (this.box().stored(ctx, result)) this.reroute(ctx);
  }

  /** PUBACK from the client for an outgoing QoS 1 message [MQTT-4.3.2-1]. */
  onPuback(packetId: number): void {
    this.outbox?.inflight.onPuback(packetId);
  }

  /**
   * PUBREC for an outgoing QoS 2 message: the message moves to "PUBREL sent" and the caller answers PUBREL once
   * that state is durable, and waits for PUBCOMP [MQTT-4.3.3-1]. Returns whether to answer (false: unknown id).
   * A PUBREL sent before the store knows it could be followed, after a crash, by a re-sent PUBLISH of a message
   * the client already released: a second delivery.
   */
  onPubrec(packetId: number): boolean {
    return this.outbox !== null && this.outbox.inflight.onPubrec(packetId);
  }

  /** An MQTT 5 client refused an outgoing QoS 2 message (PUBREC with a failure code): it is done with. */
  onRefused(packetId: number): void {
    this.outbox?.inflight.onRefused(packetId);
  }

  onPubcomp(packetId: number): void {
    this.outbox?.inflight.onPubcomp(packetId);
  }

  /** Loads message state from a store snapshot taken when this session was claimed. */
  loadSnapshot(snapshot: SessionSnapshot): void {
    this.clearMessageState();
    this.loadedUnder(snapshot.epoch);
    if (snapshot.outgoing.length > 0) this.box().load(snapshot.outgoing, this.hold !== null);
    this.restoreInbound(snapshot);
  }

  /**
   * Attaches a connection. Unacknowledged messages are re-sent first, in their original order, PUBLISH with
   * DUP=1 and PUBREL as PUBREL [MQTT-4.4.0-1] [MQTT-3.3.1-1]; then the queue drains into the window.
   */
  attach(link: SessionLink): void {
    this.attached = link;
    this.outbox?.inflight.attached(link);
    this.drain();
  }

  /** Takes the deliveries of an ending session that may go to another member of their shared subscription (Outbox.takeShared). */
  takeShared(): { msg: Message; group: string }[] {
    return this.outbox === null ? [] : this.outbox.takeShared();
  }

  /**
   * Detaches the connection. A persistent session's messages stay in the store (the writes already issued land
   * there in order); memory keeps only its subscriptions. Queued QoS 0 messages are dropped.
   */
  detach(): void {
    this.attached = null;
    this.retainedFeed?.cancel();
    this.retainedFeed = null;
    // A session without a client publishes nothing: what it last matched is not kept for it.
    this.memo = null;
    if (this.persistent) {
      this.clearMessageState();
    } else {
      this.outbox?.dropQueuedQos0();
    }
  }

  /** Queues the retained lookup of a new subscription on this session's feed (created by `create` when none runs). */
  sendRetained(filter: string, qos: QoS, create: (session: Session) => RetainedFeed): void {
    if (this.attached === null) return;
    (this.retainedFeed ??= create(this)).add(filter, qos);
  }

  /** The feed finished (or its link went away). */
  endRetained(feed: RetainedFeed): void {
    if (this.retainedFeed === feed) this.retainedFeed = null;
  }

  /** Moves queued messages into the in-flight window while the link can take them, then lets retained delivery go on. */
  drain(): void {
    if (this.outbox !== null && this.attached !== null) this.outbox.drainQueue(this.attached);
    this.retainedFeed?.pump();
  }
}
