import type { QoS } from "mqtt-packet";
import type { Arrival, NodeMessage } from "../core/communicator/types.js";
import { fromWireMessage } from "../core/communicator/wire.js";
import type { StoreOpResult } from "../core/store/types.js";
import type { Forwarder } from "./cluster-forwarding.js";
import { enqueueOp, type QueueLimits } from "./forward-sender.js";
import type { Journal, ResultTarget } from "./journal.js";
import type { NodeMessageIds } from "./node-message-ids.js";
import type { Message } from "./types.js";

/** What a re-routed delivery needs once the store answered (see `onStoreResult`). */
interface Reroute {
  /** The node message being handled, if any (the store's dedup id). */
  dedupId: string | null;
  clientId: string;
  msg: Message;
  qos: QoS;
  /** The delivery's RETAIN flag (Retain As Published) and MQTT 5 Subscription Identifiers, as matched. */
  retain: boolean;
  subIds: readonly number[] | undefined;
  hops: number;
  /** Force into the store when the owner is this dead node (its queue is being drained). */
  deadNode: string | null;
  /** Stored while this node (this one, or the dead node) owns the session, refused once another claimed it. */
  exceptOwner?: string;
}

/** What the inbox reads of a session held here (broker/session.ts). */
export interface HeldSession {
  /** In a cluster: the node that claimed this session from this node, while this node still forwards to it, or null. */
  readonly owner: string | null;
  /** Whether a connection is attached to this session here or claiming it here. */
  readonly servedHere: boolean;
  readonly link: object | null;
  /** May a message on `topic` be delivered, whichever subscription matched it? */
  mayReceiveAny(topic: string): boolean;
  deliver(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void;
}

/** What the inbox needs of the broker core (broker/broker.ts), read at each use. */
export interface InboxHost<S extends HeldSession> {
  readonly journal: Journal;
  readonly sessions: ReadonlyMap<string, S>;
  readonly config: { readonly limits: QueueLimits };
  lastMovedCopyDropped(): number;
  routeLocal(msg: Message, only: ReadonlySet<string> | null, orStored: boolean, shared: "skip"): number;
  publishExternal(msg: Message): Promise<number>;
  /** Returns the QoS 1 publishes the client of a connection a take-over closed may re-send (decision 045). */
  kickLocal(clientId: string, reason: "takeover" | "kicked", epoch: number | null, discardSession: boolean, claimedBy: string | null, sessionEnded: boolean): [number, string][];
  applyRemoteSubscriptions(clientId: string, add: Record<string, QoS>, remove: string[], deliverRetained: boolean): void;
  onDeliveryDenied(session: S, msg: Message): void;
}

/** What the inbox needs of the rest of its node (broker/cluster.ts wires it). */
export interface InboxLinks {
  readonly nodeId: string;
  /** Times a delivery is passed on between nodes (ClusterOptions.maxHops). */
  readonly maxHops: number;
  readonly ids: Pick<NodeMessageIds, "handlingAs">;
  readonly forwarder: Pick<Forwarder, "forward" | "routeRemote" | "deliverGroups">;
  /** Order across a move (broker/move-settle.ts, decision 031). */
  readonly settler: {
    ahead(origin: string, fn: () => void, holding?: readonly string[], root?: string): void;
    kicked(node: string, clientId: string, epoch: number, unacked: [number, string][]): void;
    replied(clientId: string, node: string, epoch: number, unacked?: readonly (readonly [number, string])[]): void;
  };
  /** The sessions that moved here from a node lately (broker/adoption.ts). */
  readonly adopter: { cameFrom(node: string): ReadonlySet<string> };
}

/**
 * Inbound node messages (docs/cluster.md): what other nodes, the REST gateway and a dead node's queue send this
 * node, handled under their ids (so handling one again changes nothing), and deliveries for sessions that are not
 * served here, passed on to their owner or stored (and re-routed when the store names another owner).
 */
export class NodeInbox<S extends HeldSession> implements ResultTarget<Reroute> {
  private ready!: () => void;
  private readonly loaded = new Promise<void>((resolve) => (this.ready = resolve));
  /** While set, received node messages wait for it (the sessions are being reloaded: `holdingMessages`). */
  private gate: Promise<void> | null = null;

  constructor(
    private readonly host: InboxHost<S>,
    private readonly links: InboxLinks,
  ) {}

  /** The broker loaded the sessions in its custody: what arrived meanwhile, and what arrives later, is handled. */
  open(): void {
    this.ready();
  }

  /**
   * Runs `reload` with received node messages held back until it is done: a node that lost its lease reloads the
   * sessions in its custody (Broker.reloadCustody drops them, then loads them again), and a match forward handled
   * in between would find none of them (decision 023, sim --faults pauses).
   */
  async holdingMessages(reload: () => Promise<void>): Promise<void> {
    let open = (): void => {};
    this.gate = new Promise<void>((resolve) => (open = resolve));
    try {
      await reload();
    } finally {
      this.gate = null;
      open();
    }
  }

  async receive(messages: NodeMessage[], arrivals?: ReadonlyMap<NodeMessage, Arrival>): Promise<void> {
    await this.loaded;
    while (this.gate !== null) await this.gate;
    // Acknowledging (a link) or deleting (the node queue) is safe once what these messages caused landed: their
    // writes applied and their own side effects (forwards passed on, held deliveries) settled. Not everything
    // written before them: that includes this node's own forwards to the sender, whose handler would wait the same
    // way for its own forwards to this node, a cycle only the link's ack timeout broke.
    await this.host.journal.landedAfter(() => {
      for (const m of messages) {
        this.handle(m, null);
        if (m.type === "deliver" && m.match === true && this.late(arrivals?.get(m))) this.passOnLate(m);
      }
    });
  }

  handle(m: NodeMessage, deadNode: string | null): void {
    // What this message causes is enqueued under its id: handled again after a crash, it is enqueued once. A
    // drained message is named by its queue too: a match forward goes to several nodes under one id, so the copy
    // drained from a dead node's queue may carry the id of one this node handled from its own queue, and forwards
    // derived alike would be dropped by their receivers' dedup as repeats (decision 036, seed 19).
    this.links.ids.handlingAs(deadNode === null ? m.id : `${m.id}@${deadNode}`, () => {
      const dedupId = m.type === "deliver" ? (m.root ?? m.id) : m.id;
      // What a node that a session here was claimed from passes on goes ahead of what the session holds (decision 031),
      // but not a publish of its own it still holds for the session: it passes that copy on behind older ones it holds.
      if (m.type === "deliver" && deadNode === null) this.links.settler.ahead(m.origin, () => this.host.journal.withDedupId(dedupId, () => this.handleMessage(m, deadNode)), m.holding, dedupId);
      else this.host.journal.withDedupId(dedupId, () => this.handleMessage(m, deadNode));
    });
  }

  /**
   * Whether a message came through a queue after this node dropped its copy of a session that moved away (a
   * redelivery after the visibility timeout, or one held behind it in its FIFO group): what it was meant for may
   * be among them. A node back from a pause has dropped none meanwhile (its copies wait for its lease).
   */
  private late(arrival: Arrival | undefined): boolean {
    return arrival !== undefined && this.host.lastMovedCopyDropped() > Date.now() - arrival.waitedMs;
  }

  /**
   * A `match` forward that came late (decision 023, `--faults all` seed 295): an offline session it was meant for
   * may have been claimed elsewhere since it was sent, and this node's forwarding copy of it (decision 017, two
   * TTLs) dropped, so matching here finds nothing for it. Passed on like a dead node's queue: to every node whose
   * routes match, for the sessions that came there from this node (and, through the store's dedup, the persistent
   * ones). Under ids of its own (NodeMessageIds.handlingAs), so no receiver takes it for a forward the first
   * handling made; under the message's dedup id, so no session stores it twice.
   */
  private passOnLate(m: Extract<NodeMessage, { type: "deliver" }>): void {
    this.links.ids.handlingAs(`${m.id}^late`, () => this.host.journal.withDedupId(m.root ?? m.id, () => this.links.forwarder.routeRemote(fromWireMessage(m.msg), this.links.nodeId)));
  }

  private handleMessage(m: NodeMessage, deadNode: string | null): void {
    switch (m.type) {
      case "deliver": {
        const msg: Message = fromWireMessage(m.msg);
        for (const t of m.targets) this.routeIncoming(t.clientId, msg, t.qos, t.retain === true, t.subIds, m.hops ?? 0, deadNode);
        if (m.match === true) {
          if (deadNode !== null) {
            // Left in a dead node's queue: meant for its sessions, which moved (adopted or claimed) since.
            this.host.routeLocal(msg, this.links.adopter.cameFrom(deadNode), true, "skip");
            this.links.forwarder.routeRemote(msg, deadNode);
            // Meant for members on the dead node: another member of each group, here or elsewhere.
            if (m.groups !== undefined) this.links.forwarder.deliverGroups(msg, m.groups, m.hops ?? 0);
          } else {
            this.host.routeLocal(msg, m.only === undefined ? null : this.links.adopter.cameFrom(m.only), m.only !== undefined, "skip");
            if (m.groups !== undefined) this.links.forwarder.deliverGroups(msg, m.groups, m.hops ?? 0);
          }
        }
        return;
      }
      case "publish":
        m.messages.forEach((w, i) => {
          // One dedup id per message of the batch (they may reach the same session).
          this.host.journal.withDedupId(`${m.id}#${i}`, () => this.host.publishExternal(fromWireMessage(w)));
        });
        return;
      case "kick": {
        if (deadNode !== null) return;
        const unacked = this.host.kickLocal(m.clientId, m.reason, m.epoch ?? null, m.discardSession, m.node ?? null, m.sessionEnded === true);
        if (m.reason === "takeover" && m.node !== undefined && m.node !== this.links.nodeId) this.links.settler.kicked(m.node, m.clientId, m.epoch ?? 0, unacked);
        return;
      }
      case "moved":
        if (deadNode === null) this.links.settler.replied(m.clientId, m.origin, m.epoch, m.unacked);
        return;
      case "subscriptions":
        if (deadNode === null) this.host.applyRemoteSubscriptions(m.clientId, m.add, m.remove, m.deliverRetained);
        return;
      case "session":
        // Session broadcasts are gone (decision 017): a node from before it may still send them; routes say it all.
        return;
    }
  }

  /** A delivery Cluster.forward was given for this node: the store says this node owns the session (`reroute`). */
  forwardHere(clientId: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, hops: number): void {
    this.reroute({ dedupId: this.host.journal.dedupId, clientId, msg, qos, retain, subIds, hops, deadNode: null }, this.links.nodeId);
  }

  /**
   * A delivery from another node (or a dead node's queue) for a session that may or may not be attached here, with
   * the RETAIN flag and Subscription Identifiers the sending node matched it with, wherever it goes from here.
   */
  private routeIncoming(clientId: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, hops: number, deadNode: string | null): void {
    const session = this.host.sessions.get(clientId);
    if (session !== undefined && this.deliverHere(session, msg, qos, retain, subIds)) return;
    const owner = session?.owner ?? null;
    if (owner !== null && owner !== this.links.nodeId && owner !== deadNode && hops < this.links.maxHops) {
      this.links.forwarder.forward(clientId, owner, msg, qos, retain, subIds, hops + 1);
      return;
    }
    if (qos === 0) return; // not stored for a session that is not connected
    this.storeReroute({ dedupId: this.host.journal.dedupId, clientId, msg, qos, retain, subIds, hops, deadNode });
  }

  /**
   * Delivers to `session` when it is attached here or being claimed here; false otherwise. Authorized here, against
   * the policy of the client attached here (docs/auth.md, "Exact authorization"); a delivery held during a claim is
   * checked when it is released.
   */
  private deliverHere(session: S, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): boolean {
    if (!session.servedHere) return false;
    if (session.link !== null && !session.mayReceiveAny(msg.topic)) this.host.onDeliveryDenied(session, msg);
    else session.deliver(msg, qos, retain, subIds);
    return true;
  }

  /** Queues in the store unless a node owns the session; the answer says which node (see onStoreResult). */
  private storeReroute(r: Reroute): void {
    if (r.qos === 0) return;
    const unowned = r.hops < this.links.maxHops;
    const op = enqueueOp(this.host.config.limits, r.clientId, r.msg, r.qos, r.retain, r.subIds, unowned);
    if (op.op === "enqueue") {
      if (r.dedupId !== null) op.dedupId = r.dedupId;
      if (unowned && r.exceptOwner !== undefined) op.exceptOwner = r.exceptOwner;
    }
    this.host.journal.write(op, this, r);
  }

  onStoreResult(r: Reroute, result: StoreOpResult): void {
    if (result.ok || result.reason !== "owned") return;
    // A follow-up: the batch that routed it (and the acknowledgements waiting for it) waits for it (decision 020).
    // Under the delivery's dedup id, as it was first routed: the new holder's store recognises a copy it has.
    const journal = this.host.journal;
    journal.followUp(() => journal.withDedupId(r.dedupId, () => this.reroute(r, result.node)));
  }

  private reroute(r: Reroute, owner: string): void {
    if (owner === this.links.nodeId) {
      // Claimed here since the store answered: the session takes it now (stored, its claim's snapshot may miss it).
      const session = this.host.sessions.get(r.clientId);
      if (session !== undefined && this.deliverHere(session, r.msg, r.qos, r.retain, r.subIds)) return;
    }
    if (owner === r.deadNode || owner === this.links.nodeId) {
      // Still owned by the dead node being drained (it is released after the drain) or by this node without a
      // connection: stored, in order, for the session's next claim; unless another node claimed it since the
      // store's answer (its claim read the queue already): refused as owned by it then, and forwarded there
      // (decision 041).
      this.storeReroute({ ...r, exceptOwner: owner });
      return;
    }
    // Under the delivery's dedup id (onStoreResult), so the receiver's store takes it once when the same message
    // reaches the session by another path too. Its derived id is one of its own (a follow-up runs outside any
    // handled message: NodeMessageIds.derivedId), so the receivers' dedup never takes it for an earlier copy to
    // that node.
    this.links.forwarder.forward(r.clientId, owner, r.msg, r.qos, r.retain, r.subIds, r.hops + 1);
  }
}
