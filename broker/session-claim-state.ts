import { compareOrder, isOrderKey, orderKeyAt, orderKeyPrefix, orderTag } from "../core/order-key.js";
import type { SessionRecord, SessionSnapshot } from "../core/store/types.js";
import { InboundQos2 } from "./inbound-qos2.js";
import type { SessionClaimant } from "./session-ports.js";

/**
 * Whose a session is and under which claim (decisions 015, 017, 031): the fencing epoch of the current claim, the
 * connection claiming it, the identity that owns it, the user name, whether it ends with its connection, and in a
 * cluster the node it moved to. Its transitions are methods (`restore`, `beginClaim`, `adopted`, `movedTo` …); the
 * broker does not set its fields. Also what the session keeps of the client's own publishes: their order keys
 * (decision 038), which count under the epoch, and the packet ids of its QoS 2 ones not yet released (decision 025),
 * which the claim's snapshot restores.
 *
 * The first base of `Session` (broker/session.ts; broker/session-subscriptions.ts and broker/session-holding.ts
 * come between), not a part it holds: every session has this state, and its getters (`epoch`, `persistent`) are
 * read on the delivery path, so it costs neither an object per session nor a hop.
 */
export class SessionClaimState {
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
  /**
   * The order keys of the QoS 1 publishes the client's previous node listed as possibly re-sent (PUBACKs held, or
   * written lately) when this claim took the session from it, by packet id (decision 045): the client sends them
   * again, and each keeps its first copy's key.
   * Null when there are none, from the client's first new QoS 1 publish on, and from its next claim on.
   */
  private resent: Map<number, string> | null = null;
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
  /** The client's QoS 2 publishes not yet released (broker/inbound-qos2.ts); made on first use. */
  private inbound: InboundQos2 | null = null;

  constructor(
    readonly clientId: string,
    clean: boolean,
  ) {
    this.cleanSession = clean;
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

  /** Whether message state goes to the store. */
  get persistent(): boolean {
    return !this.cleanSession;
  }

  get username(): string | null {
    return this.user;
  }

  /** The node this session moved to, while this node still forwards to it (`movedTo`), or null. */
  get owner(): string | null {
    return this.movedOwner;
  }

  get identity(): string | null {
    return this.owningIdentity;
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

  /** The snapshot the claim under `epoch` read was loaded (Session.loadSnapshot). */
  protected loadedUnder(epoch: number): void {
    this.claimEpoch = epoch;
  }

  /** The claim's snapshot was loaded (Session.loadSnapshot): its inbound QoS 2 packet ids and roots are this session's. */
  protected restoreInbound(snapshot: SessionSnapshot): void {
    this.inbound = InboundQos2.restored(snapshot.inboundQos2, snapshot.inboundRoots);
  }

  /** The message state in memory is dropped (Session.clearMessageState): the inbound QoS 2 ids with it. */
  protected dropInbound(): void {
    this.inbound = null;
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
    // The re-sends an earlier claim expected are that claim's: a new one gets its own list, if any.
    this.resent = null;
  }

  /** The claim of `claimant` ended (won or refused). */
  endClaim(): void {
    this.claimingConn = null;
    this.claimantIdentity = null;
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

  /** The `n` of the last publish counted (`countPublish`). */
  get publishCount(): number {
    return this.published;
  }

  /**
   * The old node's reply to this claim's take-over kick listed the client's QoS 1 publishes it had not acknowledged
   * (packet id, order key): their re-sends here keep those keys (`resentKey`), so each stays in its place among the
   * client's messages wherever its first copy went (decision 045). Only keys of this client under an older claim
   * are kept, at most `max`.
   */
  expectResends(unacked: readonly (readonly [number, string])[], max: number): void {
    const tag = `${orderTag(this.clientId)}.`;
    const current = orderKeyAt(this.orderPrefix, 0);
    let kept: Map<number, string> | null = null;
    for (const [packetId, key] of unacked) {
      if (!isOrderKey(key) || !key.startsWith(tag) || compareOrder(key, current) >= 0) continue;
      (kept ??= new Map()).set(packetId, key);
      if (kept.size >= max) break;
    }
    this.resent = kept;
  }

  /**
   * The order key a QoS 1 publish keeps (`expectResends`): a re-send (`dup`) of one the old node had not
   * acknowledged. A new QoS 1 publish ends the re-sends [MQTT-4.4.0-1]: the client re-sends before it sends anything
   * new.
   */
  resentKey(packetId: number, dup: boolean): string | undefined {
    const resent = this.resent;
    if (resent === null) return undefined;
    if (!dup) {
      this.resent = null;
      return undefined;
    }
    const key = resent.get(packetId);
    if (key !== undefined) resent.delete(packetId);
    return key;
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
}
