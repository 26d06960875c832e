import type { QoS } from "mqtt-packet";
import type { ClientPolicy, DeliveryGuard } from "../core/auth/types.js";
import { orderKeyAt, orderKeyPrefix, orderTag } from "../core/order-key.js";
import { sentPacketId } from "../core/store/sent-boundary.js";
import type { SessionRecord, SessionSnapshot, StoredOutgoing, StoreOp, StoreOpResult } from "../core/store/types.js";
import type { SubscriptionWord } from "../core/subscription-word.js";
import { AckType } from "./codec.js";
import type { ResultTarget } from "./journal.js";
import { undeliverable } from "./publish5.js";
import { Deque } from "./queue.js";
import type { RetainedFeed, SessionClaimant, SessionHost, SessionLimits, SessionLink } from "./session-ports.js";
import { InboundQos2 } from "./inbound-qos2.js";
import { DeliveryHold } from "./session-hold.js";
import { InflightTable } from "./inflight-table.js";
import { outgoing, releaseOutgoing } from "./outgoing-pool.js";
import { fromStored, onePerPacketId } from "./stored-outgoing.js";
import { outOfOrder } from "./stream-order.js";
import { SubscriptionMap } from "../core/subscription-map.js";
import { OutState, type DropReason, type Message, type Outgoing } from "./types.js";

/** Context of an offline enqueue: what to forward if the store answers that a node owns the session now. */
interface OfflineEntry {
  readonly msg: Message;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly packetId: 0;
  readonly offline: true;
  /** The node queue message this delivery came from (forwarded under it as well). */
  readonly dedupId: string | null;
  readonly subIds?: number[];
}

/**
 * The state of one MQTT session ([MQTT-3.1.2-4]): subscriptions, outgoing QoS 1/2 messages in flight, messages
 * queued behind the in-flight window, and inbound QoS 2 packet ids.
 *
 * Persistent sessions (clean = 0) are written through to the store: an outgoing QoS 1/2 message is sent only
 * once its store write is durable, so a message a subscriber has seen is one a restarted broker can re-send with
 * the same packet id. While such a session is offline, the store alone holds its messages. Clean sessions live in
 * memory only.
 */
export class Session implements ResultTarget<Outgoing | OfflineEntry> {
  /** The connection attached to this session (`attach` to `detach`), or null. */
  private attached: SessionLink | null = null;
  /** Filter -> subscription: QoS, and MQTT 5 options and identifier (core/subscription-word.ts). */
  readonly subscriptions = new SubscriptionMap();
  /**
   * The message state below is created on first use (decision 029): most devices of a fleet never have a message
   * in flight to them, nor an inbound QoS 2 one, while connected. Methods that only read or clear it check the
   * field, so an idle session keeps none of these collections.
   */
  private inflightMap: InflightTable<Outgoing> | null = null;
  private inbound: InboundQos2 | null = null;
  /** QoS 1/2 deliveries allowed in flight: `limits.maxInflight`, or less when an MQTT 5 client's Receive Maximum is. */
  private window: number;
  /** Its ring buffer is allocated by the first push (broker/queue.ts). */
  readonly queue = new Deque<Outgoing>(0);

  /** Outgoing QoS 1/2 messages sent and not yet acknowledged, by packet id (created on first use). */
  get inflight(): InflightTable<Outgoing> {
    return (this.inflightMap ??= new InflightTable());
  }

  /** How many outgoing messages are in flight; allocates nothing. */
  get inflightCount(): number {
    return this.inflightMap === null ? 0 : this.inflightMap.size;
  }

  /** How many inbound QoS 2 packet ids are not yet released (PUBREL) [MQTT-4.3.3-2]; allocates nothing. */
  get inboundQos2Count(): number {
    return this.inbound === null ? 0 : this.inbound.size;
  }

  /** Whether inbound QoS 2 packet id `packetId` was received and not yet released; allocates nothing. */
  hasInboundQos2(packetId: number): boolean {
    return this.inbound !== null && this.inbound.has(packetId);
  }

  /** The root inbound QoS 2 message `packetId` is still being routed under (decision 025), if any; allocates nothing. */
  inboundRoot(packetId: number): string | undefined {
    return this.inbound?.root(packetId);
  }

  /** An inbound QoS 2 PUBLISH was routed: its id is kept until PUBREL, and a root it was routed again under is done with. */
  receivedInboundQos2(packetId: number): void {
    (this.inbound ??= new InboundQos2()).received(packetId);
  }

  /** The root record of inbound QoS 2 `packetId` was applied: its PUBLISH, handled again, is routed under `root`. */
  routeInboundUnder(packetId: number, root: string): void {
    (this.inbound ??= new InboundQos2()).routeUnder(packetId, root);
  }

  /** An inbound QoS 2 PUBLISH whose root was recorded was refused after all: the root is done with. */
  forgetInboundRoot(packetId: number): void {
    this.inbound?.forgetRoot(packetId);
  }

  /** PUBREL for inbound QoS 2 packet id `packetId`: forgotten [MQTT-4.3.3-2]. True when it was known. */
  releaseInboundQos2(packetId: number): boolean {
    return this.inbound !== null && this.inbound.release(packetId);
  }

  /** Drops the message state held in memory (the store, for a persistent session, keeps its own). */
  private clearMessageState(): void {
    this.inflightMap = null;
    this.queue.clear();
    this.inbound = null;
  }

  /** Fencing epoch of the current claim; 0 when the store was not used (a clean session while the store is down). */
  private claimEpoch = 0;
  /**
   * What this client's order keys (decision 038) start with under `epoch` (its publisher part and the epoch), made at
   * its first QoS 1/2 publish under the epoch; `prefixEpoch` is the epoch it was made for.
   */
  private prefix: string | null = null;
  private prefixEpoch = 0;
  /** QoS 1/2 publishes received from this client (the `n` of its order keys). */
  private published = 0;
  /** The connection currently claiming this session (CONNECT in progress), or null. */
  private claimingConn: SessionClaimant | null = null;
  /** Whether the session ends with its connection (clean session, or an MQTT 5 Session Expiry Interval of 0). */
  private cleanSession: boolean;
  /** The user name of the client that last claimed this session (or the stored one, for a restored session). */
  private user: string | null = null;
  /**
   * The identity that owns this session (SessionRecord.identity), or null while unknown (a routing entry learnt from
   * a node that did not say, or a session the store recorded without one).
   */
  private owningIdentity: string | null = null;
  /** Identity of the claim in progress (`claimant`), or null. */
  private claimantIdentity: string | null = null;
  /**
   * In a cluster: the node that claimed this session from this node, while this node still forwards what reaches
   * it here (SessionCustody.keepForwarding, broker/custody.ts), or null.
   */
  private movedOwner: string | null = null;

  /** Whether a connection is attached to this session here or claiming it here (null `link` and `claimant`: idle). */
  get servedHere(): boolean {
    return this.attached !== null || this.claimingConn !== null;
  }

  /** The connection attached to this session, or null. */
  get link(): SessionLink | null {
    return this.attached;
  }

  /** The connection currently claiming this session (CONNECT in progress), or null. */
  get claimant(): SessionClaimant | null {
    return this.claimingConn;
  }

  /** Fencing epoch of the current claim; 0 when the store was not used (a clean session while the store is down). */
  get epoch(): number {
    return this.claimEpoch;
  }

  get clean(): boolean {
    return this.cleanSession;
  }

  get username(): string | null {
    return this.user;
  }

  /** The node this session moved to, while this node still forwards to it (`movedTo`), or null. */
  get owner(): string | null {
    return this.movedOwner;
  }

  /** A session read from the store to be kept offline here (start, custody, adoption): its claim, user and owner. */
  restore(record: SessionRecord): void {
    this.claimEpoch = record.epoch;
    this.user = record.username;
    this.ownedBy(record.identity);
  }

  /** A connection claims this session: whether it ends with the connection (`clean`), and the client's user name. */
  connectedWith(clean: boolean, username: string | null): void {
    this.cleanSession = clean;
    this.user = username;
  }

  /** The store took a claim whose client left before CONNACK: the session stays here offline under its `epoch`. */
  keptUnder(epoch: number): void {
    this.claimEpoch = epoch;
  }

  /** A clean CONNECT went on without a claim (the store unreachable): epoch 0, the store is not used for it. */
  servedWithoutStore(): void {
    this.claimEpoch = 0;
  }

  /**
   * The store adopted this offline session for this node under `epoch` (a dead node's, decision 017): the epoch only
   * moves forward, and a forwarding copy (`owner` set) is the session held here again.
   */
  adopted(epoch: number): void {
    if (this.claimEpoch < epoch) this.claimEpoch = epoch;
    this.movedOwner = null;
  }

  /** Another node claimed this session (`node`), or null once this node holds it again. */
  movedTo(node: string | null): void {
    this.movedOwner = node;
  }

  /** The order key of the next QoS 1/2 message this client publishes (core/order-key.ts, decision 038). */
  nextOrderKey(): string {
    return orderKeyAt(this.orderPrefix, this.countPublish());
  }

  /** What the order keys of this client's publishes under the current epoch start with (core/order-key.ts `orderKeyPrefix`). */
  get orderPrefix(): string {
    if (this.prefix === null || this.prefixEpoch !== this.epoch) {
      this.prefix = orderKeyPrefix(orderTag(this.clientId), this.epoch);
      this.prefixEpoch = this.epoch;
    }
    return this.prefix;
  }

  /**
   * Counts a QoS 1/2 publish of this client and returns its `n`: with `orderPrefix`, its order key (`nextOrderKey`,
   * or built when read by broker/published-message.ts).
   */
  countPublish(): number {
    return ++this.published;
  }

  /** The hold of deliveries while the session is claimed or a move settles (`holdDeliveries`), or null. */
  private hold: DeliveryHold | null = null;
  private lastPacketId = 0;
  /** The policy of the client this session serves (kept while it is offline here), or null when not known here. */
  private policy: ClientPolicy | null = null;
  /** Every deny pattern of `policy`: for deliveries whose subscription is not known (routed, held, stored). */
  private readGuard: DeliveryGuard | null = null;
  /**
   * Guards of the subscriptions that overlap deny patterns; the others have none (their deliveries pay nothing).
   * Created with the first one: most sessions (and every cluster stub) never need it.
   */
  private guards: Map<string, DeliveryGuard> | null = null;
  /** The retained messages still to send for new subscriptions, or null. */
  private retainedFeed: RetainedFeed | null = null;

  constructor(
    readonly clientId: string,
    clean: boolean,
    private readonly limits: SessionLimits,
    private readonly host: SessionHost,
  ) {
    this.cleanSession = clean;
    this.window = limits.maxInflight;
  }

  /**
   * From now on deliveries are authorized against `policy`: the connecting client's, or null when this node does
   * not know it (the session is served by another node, or restored from the store). Call before the
   * subscriptions are (re)set, so they get their guards from it.
   */
  usePolicy(policy: ClientPolicy | null): void {
    this.policy = policy;
    this.readGuard = policy?.deliveryGuard?.() ?? null;
  }

  /** The client's policy, when this node knows it. */
  get clientPolicy(): ClientPolicy | null {
    return this.policy;
  }

  /** Adds or replaces a subscription. Returns its delivery guard (null: deliveries through it are not checked). */
  setSubscription(filter: string, word: SubscriptionWord, guardFilter = filter): DeliveryGuard | null {
    this.subscriptions.set(filter, word);
    // A shared subscription's guard is of its topic filter, without the `$share/{ShareName}/` prefix.
    const guard = this.policy?.deliveryGuard?.(guardFilter) ?? null;
    if (guard !== null) (this.guards ??= new Map()).set(filter, guard);
    else this.guards?.delete(filter);
    return guard;
  }

  removeSubscription(filter: string): boolean {
    this.guards?.delete(filter);
    this.retainedFeed?.remove(filter);
    return this.subscriptions.delete(filter);
  }

  clearSubscriptions(): void {
    this.guards = null;
    this.subscriptions.clear();
  }

  /**
   * May a message on `topic`, matched by this session's subscription `filter`, be delivered? Pure and
   * allocation-free: retained delivery calls it per message.
   */
  mayReceive(topic: string, filter: string): boolean {
    if (this.guards === null) return true;
    const guard = this.guards.get(filter);
    return guard === undefined || !guard.refuses(topic);
  }

  /** May a message on `topic` be delivered, whichever subscription matched it (routed from another node, stored)? */
  mayReceiveAny(topic: string): boolean {
    return this.readGuard === null || !this.readGuard.refuses(topic);
  }

  get identity(): string | null {
    return this.owningIdentity;
  }

  /** Records the owner's identity as the store (a claim, a load, a broadcast) reported it; null = not known. */
  ownedBy(identity: string | null): void {
    if (identity !== null) this.owningIdentity = identity;
  }

  /**
   * Whether a CONNECT under `identity` may claim this session, as far as this node knows: the owner's identity, or
   * while that is unknown, the identity of a claim in progress. The store makes the same check atomically.
   */
  mayBeClaimedBy(identity: string): boolean {
    const owner = this.owningIdentity ?? this.claimantIdentity;
    return owner === null || owner === identity;
  }

  /** A CONNECT under `identity` starts claiming this session; a claim already in progress loses (see Broker). */
  beginClaim(claimant: SessionClaimant, identity: string): void {
    this.claimingConn = claimant;
    this.claimantIdentity = identity;
  }

  /** The claim of `claimant` ended (won or refused). */
  endClaim(): void {
    this.claimingConn = null;
    this.claimantIdentity = null;
  }

  /**
   * Drops outgoing messages (queued or in flight) the client may no longer receive, after a resume under changed
   * rules: removed from memory and, for a persistent session, from the store; a QoS 2 message in flight is
   * released with PUBREL instead. Returns the messages that will not be delivered.
   */
  discardOutgoing(mayReceive: (topic: string) => boolean): Message[] {
    const dropped: Message[] = [];
    const stored = this.persistent;
    for (const [packetId, out] of this.inflightMap?.entries() ?? NO_INFLIGHT) {
      // A released message (PUBREL sent) completes as it is; a QoS 2 PUBLISH in flight is released with PUBREL
      // instead of re-sent, so the client's packet id state ends (as in `withhold`).
      if (out.state === OutState.AwaitComp || mayReceive(out.msg.topic)) continue;
      dropped.push(out.msg);
      if (out.qos === 2) {
        out.state = OutState.AwaitComp;
        if (stored && out.seq !== 0) {
          this.host.journal.write({ op: "outgoing.update", clientId: this.clientId, epoch: this.epoch, seq: out.seq, packetId, state: 1 });
        }
        continue;
      }
      this.inflight.delete(packetId);
      if (stored && out.seq !== 0) this.host.journal.write({ op: "outgoing.delete", clientId: this.clientId, epoch: this.epoch, seq: out.seq });
    }
    this.queue.filter((out) => {
      if (mayReceive(out.msg.topic)) return true;
      dropped.push(out.msg);
      if (stored && out.seq !== 0) this.host.journal.write({ op: "outgoing.delete", clientId: this.clientId, epoch: this.epoch, seq: out.seq });
      return false;
    });
    return dropped;
  }

  /** Whether message state goes to the store. */
  get persistent(): boolean {
    return !this.cleanSession;
  }

  get queuedCount(): number {
    return this.queue.length;
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
    if ((hold !== null && hold.holds) || link === null) {
      this.deliverDetached(msg, qos, retain, subIds);
      return;
    }
    // MQTT 5: an expired message, or one too large for the receiver, is dropped before it gets a packet id.
    if ((msg.publishedAt !== undefined || link.v5 !== null) && this.dropsUndeliverable(msg, link, subIds)) return;
    if (qos === 0) {
      if (this.queue.length === 0) {
        if (link.congested) this.host.onDrop(this, msg, "slow-consumer");
        else link.writePublish(msg, 0, retain, false, 0, subIds);
        return;
      }
      this.enqueueLocal(outgoing(msg, qos, retain, true, subIds, group));
      return;
    }
    if (this.persistent) {
      this.deliverPersistent(msg, qos, retain, link, subIds);
      return;
    }
    const out = outgoing(msg, qos, retain, true, subIds, group);
    if (this.queue.length === 0 && this.inflight.size < this.window && !link.congested) {
      out.packetId = this.allocatePacketId();
      this.inflight.set(out.packetId, out);
      link.writePublish(msg, qos, retain, false, out.packetId, subIds);
      return;
    }
    this.enqueueLocal(out);
  }

  /**
   * A delivery while no connection can take it: held while the session is being claimed, forwarded to the node it
   * moved to, or stored for an offline persistent session (QoS 0 is not stored [MQTT-3.1.2-5]; a clean session has
   * nothing to keep it in).
   */
  private deliverDetached(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    const hold = this.hold;
    if (hold !== null && hold.holds) hold.add(msg, qos, retain, subIds);
    else if (this.movedOwner !== null) this.host.forward(this, this.movedOwner, msg, qos, retain, subIds);
    else if (qos !== 0 && this.persistent) this.enqueueOffline(msg, qos, retain, subIds);
  }

  /** Drops a delivery the MQTT 5 client may not get (expired, larger than its Maximum Packet Size); true when dropped. */
  private dropsUndeliverable(msg: Message, link: SessionLink, subIds: readonly number[] | undefined): boolean {
    const why = this.undeliverableTo(link, msg, subIds);
    if (why === null) return false;
    this.host.onDrop(this, msg, why);
    return true;
  }

  /** Why `msg` may not be sent on `link` (expired, larger than the MQTT 5 client's Maximum Packet Size), or null. */
  private undeliverableTo(link: SessionLink, msg: Message, subIds: readonly number[] | undefined): DropReason | null {
    if (msg.publishedAt === undefined && (link.v5 === null || link.v5.maximumPacketSize === 0)) return null;
    return undeliverable(msg, link.v5, this.host.now(), subIds);
  }

  /** A persistent session's QoS 1/2 delivery while its client is connected: written through to the store. */
  private deliverPersistent(msg: Message, qos: QoS, retain: boolean, link: SessionLink, subIds: readonly number[] | undefined): void {
    const { maxQueued, queueDropPolicy } = this.limits;
    const entry: Omit<StoredOutgoing, "seq" | "state"> = { msg, qos, retain, packetId: 0 };
    if (subIds !== undefined) entry.subIds = [...subIds];
    const out = outgoing(msg, qos, retain, false, subIds);
    const dedupId = this.host.journal.dedupId;
    if (dedupId !== null) out.dedupId = dedupId;
    if (this.queue.length === 0 && this.inflight.size < this.window && !link.congested) {
      // Reserve a window slot; PUBLISH goes out when the store has it.
      out.packetId = this.allocatePacketId();
      entry.packetId = out.packetId;
      this.inflight.set(out.packetId, out);
    } else {
      this.queue.push(out);
    }
    const op: StoreOp = { op: "enqueue", clientId: this.clientId, entry, maxQueued, dropPolicy: queueDropPolicy, epoch: this.epoch };
    if (dedupId !== null) op.dedupId = dedupId;
    this.host.journal.write(op, this, out);
  }

  /**
   * Offline: the store holds the queue and enforces its bound. In a cluster another node may have claimed the
   * session meanwhile: the store then refuses ("owned") and the message goes to that node.
   */
  private enqueueOffline(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    const { maxQueued, queueDropPolicy } = this.limits;
    const dedupId = this.host.journal.dedupId;
    const offline: OfflineEntry = subIds === undefined ? { msg, qos, retain, packetId: 0, offline: true, dedupId } : { msg, qos, retain, packetId: 0, offline: true, dedupId, subIds: [...subIds] };
    const op: StoreOp = { op: "enqueue", clientId: this.clientId, entry: offline, maxQueued, dropPolicy: queueDropPolicy };
    if (this.host.clustered) op.unowned = true;
    if (dedupId !== null) op.dedupId = dedupId;
    this.host.journal.write(op, this, offline);
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
        else this.enqueueOffline(out.msg, out.qos, out.retain, out.subIds);
      }),
    );
  }

  /** Result of this session's store write for `ctx`: an outgoing message of the attached session, or an offline enqueue. */
  onStoreResult(ctx: Outgoing | OfflineEntry, result: StoreOpResult): void {
    if ("offline" in ctx) {
      if (result.ok) {
        if (result.dropped !== undefined) this.host.onDrop(this, EMPTY_MESSAGE, "queue-full");
      } else if (result.reason === "owned") {
        // Forwarded under the same dedup id, so a repeat of the original node message is still recognised.
        const journal = this.host.journal;
        journal.followUp(() => journal.withDedupId(ctx.dedupId, () => this.host.forward(this, result.node, ctx.msg, ctx.qos, ctx.retain, ctx.subIds)));
      } else if (result.reason === "full") {
        this.host.onDrop(this, ctx.msg, "queue-full");
      }
      return;
    }
    const out = ctx;
    if (!result.ok) {
      if (result.reason === "duplicate") {
        // Already enqueued (and delivered or queued) when this node queue message was handled before.
        this.removeLocal(out);
        this.drain();
      } else if (result.reason === "full") {
        // Drop policy "newest": the store refused this message.
        this.removeLocal(out);
        this.host.onDrop(this, out.msg, "queue-full");
      }
      // "fenced": another connection owns the session now. Its snapshot is the truth for what was stored before;
      // a message never stored (seq 0) is routed again, never dropped after its publisher got PUBACK.
      if (result.reason === "fenced" && out.seq === 0) {
        this.removeLocal(out);
        this.reroute(out);
      }
      return;
    }
    if (result.dropped !== undefined) this.dropQueuedSeq(result.dropped);
    if (result.seq !== undefined) out.seq = result.seq;
    out.durable = true;
    const link = this.attached;
    if (link === null) return;
    if (out.packetId !== 0 && this.inflight.get(out.packetId) === out) {
      link.writePublish(out.msg, out.qos, out.retain, false, out.packetId, out.subIds);
    } else {
      this.drain();
    }
  }

  /** PUBACK from the client for an outgoing QoS 1 message [MQTT-4.3.2-1]. */
  onPuback(packetId: number): void {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.qos !== 1) return;
    this.complete(out);
  }

  /**
   * PUBREC for an outgoing QoS 2 message: the message moves to "PUBREL sent" and the caller answers PUBREL once
   * that state is durable, and waits for PUBCOMP [MQTT-4.3.3-1]. Returns whether to answer (false: unknown id).
   * A PUBREL sent before the store knows it could be followed, after a crash, by a re-sent PUBLISH of a message
   * the client already released: a second delivery.
   */
  onPubrec(packetId: number): boolean {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.qos !== 2) return false;
    out.state = OutState.AwaitComp;
    if (this.persistent && out.seq !== 0) {
      const ctx: PubrelSent = { session: this, epoch: this.epoch };
      this.host.journal.write({ op: "outgoing.update", clientId: this.clientId, epoch: this.epoch, seq: out.seq, packetId, state: 1 }, PUBREL_SENT, ctx);
    }
    return true;
  }

  /** An MQTT 5 client refused an outgoing QoS 2 message (PUBREC with a failure code): it is done with. */
  onRefused(packetId: number): void {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.qos !== 2 || out.state !== OutState.AwaitAck) return;
    this.complete(out);
  }

  onPubcomp(packetId: number): void {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.state !== OutState.AwaitComp) return;
    this.complete(out);
  }

  private complete(out: Outgoing): void {
    this.inflight.delete(out.packetId);
    if (this.persistent) {
      if (out.seq !== 0) this.host.journal.write({ op: "outgoing.delete", clientId: this.clientId, epoch: this.epoch, seq: out.seq });
    } else if (out.seq === 0 && out.durable) {
      // A clean session's record is referred to by its in-flight table alone (broker/outgoing-pool.ts). One made
      // while the session was persistent (a clean reconnect without the store keeps the session) may still be the
      // context of a store write: it has a seq, or is not durable yet, and is left alone.
      releaseOutgoing(out);
    }
    this.drain();
  }

  /** Loads message state from a store snapshot taken when this session was claimed. */
  loadSnapshot(snapshot: SessionSnapshot): void {
    this.clearMessageState();
    this.claimEpoch = snapshot.epoch;
    // In flight: the messages sent before (the store gives those under the sent boundary their derived ids).
    const entries = snapshot.outgoing.map(fromStored);
    onePerPacketId(entries);
    const queued: Outgoing[] = [];
    for (const out of entries) {
      if (out.state === OutState.AwaitAck && !this.mayReceiveAny(out.msg.topic) && !this.withhold(out)) continue;
      if (out.packetId !== 0) this.inflight.set(out.packetId, out);
      else queued.push(out);
    }
    // A late copy stored behind newer messages of its publisher on its topic is stored again in its place.
    const moved = outOfOrder(queued);
    for (const out of queued) if (moved.length === 0 || !moved.includes(out)) this.queue.push(out);
    for (const out of moved) this.requeue(out);
    // New ids continue from the newest message's (see drainQueue): they stay clear of the ids the next seqs give.
    const newest = entries[entries.length - 1];
    if (newest !== undefined) this.lastPacketId = sentPacketId(newest.seq);
    this.inbound = InboundQos2.restored(snapshot.inboundQos2, snapshot.inboundRoots);
  }

  /**
   * Stores a queued message again, behind the rest of the queue (decision 038): its entry is deleted and the message
   * enqueued anew, in one batch. It keeps its old seq until the store answers, so a `fenced` answer (another claim
   * took the session, with the old entry) leaves it to the new owner instead of routing it again.
   */
  private requeue(out: Outgoing): void {
    const journal = this.host.journal;
    journal.write({ op: "outgoing.delete", clientId: this.clientId, epoch: this.epoch, seq: out.seq });
    const again = outgoing(out.msg, out.qos, out.retain, false, out.subIds);
    again.seq = out.seq;
    this.queue.push(again);
    const entry: Omit<StoredOutgoing, "seq" | "state"> = { msg: out.msg, qos: out.qos, retain: out.retain, packetId: 0 };
    if (out.subIds !== undefined) entry.subIds = [...out.subIds];
    // A move, not a new message: never refused for the queue's bound.
    journal.write({ op: "enqueue", clientId: this.clientId, entry, maxQueued: Number.MAX_SAFE_INTEGER, dropPolicy: "newest", epoch: this.epoch }, this, again);
  }

  /**
   * A stored message the client may not read (queued while the session was offline, by a node or the REST gateway
   * that did not know its policy): never sent. Queued or QoS 1: deleted (false). QoS 2 in flight: released with
   * PUBREL instead of re-sent, so the client's packet id state ends (true: keep it, now awaiting PUBCOMP).
   */
  private withhold(out: Outgoing): boolean {
    this.host.onDeliveryDenied(this, out.msg);
    if (out.packetId !== 0 && out.qos === 2) {
      out.state = OutState.AwaitComp;
      this.host.journal.write({ op: "outgoing.update", clientId: this.clientId, epoch: this.epoch, seq: out.seq, packetId: out.packetId, state: 1 });
      return true;
    }
    this.host.journal.write({ op: "outgoing.delete", clientId: this.clientId, epoch: this.epoch, seq: out.seq });
    return false;
  }

  /**
   * Attaches a connection. Unacknowledged messages are re-sent first, in their original order, PUBLISH with
   * DUP=1 and PUBREL as PUBREL [MQTT-4.4.0-1] [MQTT-3.3.1-1]; then the queue drains into the window.
   */
  attach(link: SessionLink): void {
    this.attached = link;
    // The client's Receive Maximum bounds what the server sends it unacknowledged [MQTT-3.3.4-7].
    this.window = link.v5 === null ? this.limits.maxInflight : Math.min(this.limits.maxInflight, link.v5.receiveMaximum);
    if (this.inflightMap !== null) for (const out of this.inflightMap.values()) {
      if (!out.durable) continue;
      if (out.state === OutState.AwaitAck) link.writePublish(out.msg, out.qos, out.retain, true, out.packetId, out.subIds);
      else link.writeAck(AckType.Pubrel, out.packetId);
    }
    this.drain();
  }

  /**
   * Detaches the connection. A persistent session's messages stay in the store (the writes already issued land
   * there in order); memory keeps only its subscriptions. Queued QoS 0 messages are dropped.
   */
  /**
   * The deliveries of a session that is ending which came through a shared subscription and may go to another
   * member: queued ones (never sent), and QoS 1 ones sent but not acknowledged. A QoS 2 message sent stays with
   * this session [MQTT-4.8.2-5]. They are removed from the session.
   */
  takeShared(): { msg: Message; group: string }[] {
    const taken: { msg: Message; group: string }[] = [];
    for (const [packetId, out] of this.inflightMap?.entries() ?? NO_INFLIGHT) {
      if (out.group === undefined || out.qos !== 1) continue;
      this.inflight.delete(packetId);
      taken.push({ msg: out.msg, group: out.group });
    }
    if (this.queue.length > 0) {
      this.queue.filter((out) => {
        if (out.group === undefined) return true;
        taken.push({ msg: out.msg, group: out.group });
        return false;
      });
    }
    return taken;
  }

  detach(): void {
    this.attached = null;
    this.retainedFeed?.cancel();
    this.retainedFeed = null;
    if (this.persistent) {
      this.clearMessageState();
    } else if (this.queue.length > 0) {
      this.queue.filter(isNotQos0);
    }
  }

  /** From now on deliveries wait in memory until `releaseDeliveries()`: the session is being claimed. */
  holdDeliveries(): void {
    this.hold ??= new DeliveryHold(this, this.host);
  }

  /** Ends holding and delivers what was held, in order (DeliveryHold.release). */
  releaseDeliveries(): void {
    const hold = this.hold;
    this.hold = null;
    hold?.release();
  }

  /**
   * Runs `fn` with the hold lifted: what it delivers goes out now, ahead of what is held. For what the old holder
   * of a moved session passes on, which is older than anything held for it (broker/move-settle.ts, decision 031).
   * A release during `fn` ends the hold for good; a hold begun after it stays (broker/session-hold.ts).
   */
  ahead(fn: () => void): void {
    const hold = this.hold;
    if (hold === null) fn();
    else hold.lift(fn);
  }

  /**
   * Whether `msg` is the newest delivery held (just routed here: broker/move-settle.ts `holding`) and one this
   * session passes on to a newer claim when released (QoS 1/2 of a persistent session: its write is fenced and the
   * store names the owner, or the take-over kick makes this a forwarding copy).
   */
  holdsToPassOn(msg: object): boolean {
    return this.hold !== null && this.hold.holdsLast(msg) && this.persistent;
  }

  /**
   * Runs `fn` with this session, while it holds, left out: what `fn` delivers to it is dropped. For a copy of a
   * message that the node this session was claimed from holds too and passes on, behind older ones it holds
   * (broker/move-settle.ts `ahead`, decision 038, seed 96). A release or a new hold during `fn` stays, as for `ahead`.
   */
  leftOut(fn: () => void): void {
    const hold = this.hold;
    if (hold === null) fn();
    else hold.leaveOut(fn);
  }

  /** The session is discarded while held (a clean CONNECT replaced it): what was held ends with it. */
  discardHeld(): void {
    const hold = this.hold;
    this.hold = null;
    hold?.discard();
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
    this.drainQueue();
    this.retainedFeed?.pump();
  }

  private drainQueue(): void {
    const link = this.attached;
    if (link === null) return;
    while (this.queue.length > 0 && !link.saturated()) {
      const next = this.queue.peek() as Outgoing;
      if ((next.msg.publishedAt !== undefined || link.v5 !== null) && next.durable && this.dropUndeliverable(next, link)) continue;
      if (next.qos === 0) {
        this.queue.shift();
        link.writePublish(next.msg, 0, next.retain, false, 0, next.subIds);
        continue;
      }
      if (this.inflight.size >= this.window) return;
      if (!next.durable) return; // its enqueue has not landed yet; onStoreResult drains again
      const stored = this.persistent && next.seq !== 0;
      // A stored message's packet id is its seq's (the sent boundary, decision 021). While an earlier message still
      // holds that id (65,535 seqs before), the queue waits for its acknowledgement [MQTT-2.3.1-4]: complete() drains.
      const packetId = stored ? sentPacketId(next.seq) : this.allocatePacketId();
      if (stored && this.inflight.has(packetId)) return;
      this.queue.shift();
      next.packetId = packetId;
      this.inflight.set(packetId, next);
      if (stored) {
        // Ids allocated for messages sent at once (deliverPersistent) go on from here, as the next seqs do.
        this.lastPacketId = packetId;
        next.durable = false;
        // QoS 1: one number per session, not a write per message. QoS 2 keeps its id in the entry, as before: a node
        // of an earlier version reads it (docs/store.md, "Upgrading stored data").
        const op: StoreOp =
          next.qos === 1
            ? { op: "outgoing.sent", clientId: this.clientId, epoch: this.epoch, seq: next.seq }
            : { op: "outgoing.update", clientId: this.clientId, epoch: this.epoch, seq: next.seq, packetId, state: 0 };
        this.host.journal.write(op, this, next);
      } else {
        link.writePublish(next.msg, next.qos, next.retain, false, next.packetId, next.subIds);
      }
    }
  }

  /** Drops the queue's head when it may not be sent (expired, too large for the client); true when dropped. */
  private dropUndeliverable(next: Outgoing, link: SessionLink): boolean {
    const why = this.undeliverableTo(link, next.msg, next.subIds);
    if (why === null) return false;
    this.queue.shift();
    if (this.persistent && next.seq !== 0) this.host.journal.write({ op: "outgoing.delete", clientId: this.clientId, epoch: this.epoch, seq: next.seq });
    this.host.onDrop(this, next.msg, why);
    return true;
  }

  /** Queues in memory with the configured bound (clean sessions, and QoS 0 behind a non-empty queue). */
  private enqueueLocal(out: Outgoing): void {
    const { maxQueued, queueDropPolicy } = this.limits;
    if (this.queue.length >= maxQueued) {
      if (queueDropPolicy === "newest" || maxQueued === 0) {
        this.host.onDrop(this, out.msg, "queue-full");
        return;
      }
      const oldest = this.queue.shift() as Outgoing;
      this.host.onDrop(this, oldest.msg, "queue-full");
    }
    this.queue.push(out);
  }

  private removeLocal(out: Outgoing): void {
    if (out.packetId !== 0 && this.inflight.get(out.packetId) === out) this.inflight.delete(out.packetId);
    else this.queue.filter((o) => o !== out);
  }

  private dropQueuedSeq(seq: number): void {
    let dropped: Outgoing | undefined;
    this.queue.filter((o) => {
      if (o.seq !== seq) return true;
      dropped = o;
      return false;
    });
    this.host.onDrop(this, dropped?.msg ?? EMPTY_MESSAGE, "queue-full");
  }

  /** Next free packet id: non-zero [MQTT-2.3.1-1], never one still in flight [MQTT-2.3.1-4]. */
  private allocatePacketId(): number {
    let id = this.lastPacketId;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.inflight.has(id));
    this.lastPacketId = id;
    return id;
  }
}

/** Iterated in place of a session's in-flight table when it has none: never written to. */
const NO_INFLIGHT: readonly [number, Outgoing][] = Object.freeze([]) as readonly [number, Outgoing][];

/** A "PUBREL sent" record on its way to the store, with the claim it was written under. */
interface PubrelSent {
  session: Session;
  epoch: number;
}

/**
 * The answer to a "PUBREL sent" record (Session.onPubrec). Fenced: a newer claim owns the session and its snapshot
 * still has the message unreceived, so it will send the PUBLISH again; a PUBREL from here would let the client
 * complete the exchange and take that PUBLISH for a new message (decision 037, cause 2). The connection closes as
 * taken over before the journal writes the acknowledgements that waited for this batch, so PUBREL never goes out;
 * the client finishes the exchange with the session's owner. Only while the session is still under the record's
 * claim here (a newer claim on this node has a connection of its own).
 */
const PUBREL_SENT: ResultTarget<PubrelSent> = {
  onStoreResult(ctx: PubrelSent, result: StoreOpResult): void {
    if (result.ok || result.reason !== "fenced" || ctx.session.epoch !== ctx.epoch) return;
    ctx.session.link?.takenOver();
  },
};

/** Stands for a message the store dropped while the session was offline (its content is not in memory). */
const EMPTY_MESSAGE: Message = { topic: "", payload: Buffer.alloc(0), qos: 1, retain: false };

function isNotQos0(out: Outgoing): boolean {
  return out.qos !== 0;
}

