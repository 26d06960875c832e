import type { QoS } from "mqtt-packet";
import { NodeUnreachable } from "../core/communicator/errors.js";
import { MAX_UNACKED, type Communicator, type NodeMessage } from "../core/communicator/types.js";
import { Adopter } from "./adoption.js";
import type { Broker, RemoteRoutes } from "./broker.js";
import { ClusterLifecycle } from "./cluster-lifecycle.js";
import { Forwarder } from "./cluster-forwarding.js";
import { NodeInbox } from "./cluster-inbox.js";
import { ClusterMaintenance } from "./cluster-maintenance.js";
import type { ClusterEvents, ClusterOptions } from "./cluster-types.js";
import { ForwardSender } from "./forward-sender.js";
import { MOVE_SETTLE_MS, MoveSettler, type ClaimedFrom } from "./move-settle.js";
import { RouteSync } from "./routes.js";
import type { Session } from "./session.js";
import type { Message } from "./types.js";

export type { ClusterEvents, ClusterOptions } from "./cluster-types.js";
export type { ForwardMessage } from "./cluster-forwarding.js";

/**
 * One broker node's membership of a cluster (docs/cluster.md): its node queue and registry entry, the route
 * table (filters -> nodes, broker/routes.ts) and forwarding of publishes once per matching node
 * (broker/cluster-forwarding.ts, broker/forward-sender.ts), node messages received (broker/cluster-inbox.ts),
 * take-over across nodes, and failure handling of dead nodes (broker/cluster-maintenance.ts; their sessions adopted
 * by the survivors, broker/adoption.ts). The one object the rest of the broker talks to; its parts are wired here.
 *
 * Its registration and lifecycle (its node queue and node record: start, graceful stop, kill, the restart after a
 * lost lease) are its base class, broker/cluster-lifecycle.ts.
 */
export class Cluster extends ClusterLifecycle {
  /** Sessions claimed here from other nodes, holding their deliveries until those nodes replied (decision 031). */
  protected readonly settler: MoveSettler;
  protected readonly sender: ForwardSender;
  private readonly forwarder: Forwarder;
  protected readonly inbox: NodeInbox<Session>;
  protected readonly maintenance: ClusterMaintenance;
  /** Kicks that tell every node a session is gone (expiries), collected per tick. */
  private gone: NodeMessage[] = [];
  /** The route table and this node's routes (decision 017). */
  readonly routes: RouteSync;
  private readonly adopter: Adopter;

  constructor(broker: Broker, communicator: Communicator, opts: ClusterOptions, events: ClusterEvents) {
    super(broker, communicator, opts, events);
    const nodeId = this.nodeId;
    const maxHops = opts.maxHops ?? 3;
    this.settler = new MoveSettler(opts.moveSettleMs ?? MOVE_SETTLE_MS, {
      nodeId,
      journal: broker.journal,
      session: (clientId) => broker.sessions.get(clientId),
      reply: (node, clientId, epoch, unacked) =>
        this.forwarder.sendControl(node, {
          type: "moved",
          id: this.newMessageId(),
          origin: nodeId,
          clientId,
          epoch,
          // The newest when there are more: PUBACKs still held are sure to be re-sent, the ring's written ones may not.
          ...(unacked.length === 0 ? {} : { unacked: unacked.slice(-MAX_UNACKED) }),
        }),
      kick: (node, clientId, epoch, sessionEnded) => this.takeover(node, clientId, epoch, sessionEnded),
      kickAgain: (node, clientId, epoch, sessionEnded) => this.takeover(node, clientId, epoch, sessionEnded, true),
      reaches: (topic, nodes) => {
        let found = false;
        this.routes.table.match(topic, (node) => (found ||= nodes.has(node)));
        return found;
      },
    });
    this.routes = new RouteSync(broker.store, nodeId, {
      pollMs: opts.routePollMs ?? 50,
      onError: (operation, err) => events.onError(operation, err),
    });
    this.adopter = new Adopter(broker, this.routes, nodeId, opts.nodeTtlMs, {
      onError: (operation, err) => events.onError(operation, err),
      onSessionLost: (clientId, username) => events.onSessionLost(clientId, username),
      kick: (node, clientId, epoch) => this.takeover(node, clientId, epoch, false),
    });
    this.sender = new ForwardSender(broker, {
      send: (node, messages) => (opts.transport ?? communicator).send(node, messages),
      unreachable: (clientId, node, epoch) => this.settler.unreachable(clientId, node, epoch),
      onError: (operation, err) => events.onError(operation, err),
    });
    this.forwarder = new Forwarder(broker, { nodeId, maxHops, routes: this.routes, ids: this.ids, sender: this.sender, holding: (msg) => this.settler.holding(msg) });
    this.inbox = new NodeInbox(broker, { nodeId, maxHops, ids: this.ids, forwarder: this.forwarder, settler: this.settler, adopter: this.adopter });
    this.maintenance = new ClusterMaintenance({
      nodeId,
      opts,
      events,
      store: broker.store,
      communicator,
      routes: this.routes,
      adopter: this.adopter,
      settler: this.settler,
      handle: (m, dead) => this.inbox.handle(m, dead),
      barrier: () => broker.journal.barrier(),
    });
    const remote: RemoteRoutes = {
      added: (filter) => this.routes.added(filter),
      removed: (filter) => this.routes.removed(filter),
      publish: (msg) => this.forwarder.routeRemote(msg, null),
      rootFor: (topic) => (this.forwarder.routesElsewhere(topic) ? this.newMessageId() : null),
      newRoot: () => this.newMessageId(),
      sharedNodes: (topic, visit) =>
        this.routes.table.matchShared(topic, (r) => {
          if (r.node !== nodeId) visit(r.key, r.node);
        }),
      forwardShared: (node, msg, key) => this.forwarder.forwardShared(node, msg, key, 0),
    };
    broker.useRemoteRoutes(remote);
  }

  /**
   * Sends a delivery to the node that owns the session (broker/cluster-forwarding.ts). `retain` and `subIds` are the
   * delivery's as this node matched it [MQTT-3.3.4-3].
   */
  forward(clientId: string, node: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, hops = 0): void {
    if (node === this.nodeId) {
      // The store says this node owns it: to the session if it is attached or being claimed here now, else kept in
      // the store for its next claim, unless another node claimed it meanwhile (reroute, decision 041).
      this.inbox.forwardHere(clientId, msg, qos, retain, subIds, hops);
      return;
    }
    this.forwarder.forward(clientId, node, msg, qos, retain, subIds, hops);
  }

  /**
   * Runs `reload` with received node messages held back until it is done: a node that lost its lease reloads the
   * sessions in its custody (Broker.reloadCustody drops them, then loads them again), and a match forward handled
   * in between would find none of them (decision 023, sim --faults pauses).
   */
  holdingMessages(reload: () => Promise<void>): Promise<void> {
    return this.inbox.holdingMessages(reload);
  }

  // --- take-over, custody and REST ---------------------------------------------------------------------------

  /** A session claimed here was in `custodian`'s custody (null: new, or this node's): remembered for drains. */
  claimedFrom(clientId: string, custodian: string | null): void {
    if (custodian !== null && custodian !== this.nodeId) this.adopter.remember(custodian, clientId);
  }

  /**
   * A session was deleted (REST discard, expiry): its custodian drops its copy and routes. `custodian` null: not
   * known any more (an expiry), so every live node is told (batched per tick).
   */
  sessionGone(clientId: string, epoch: number, custodian: string | null): void {
    const kick: NodeMessage = { type: "kick", id: this.newMessageId(), clientId, reason: "kicked", discardSession: true, epoch };
    if (custodian !== null) {
      if (custodian === this.nodeId) return;
      this.communicator.send(custodian, [kick]).catch((err: unknown) => {
        if (!(err instanceof NodeUnreachable)) this.events.onError(`discard ${clientId} on ${custodian}`, err as Error);
      });
      return;
    }
    this.gone.push(kick);
    if (this.gone.length === 1) setImmediate(() => void this.flushGone());
  }

  protected async flushGone(): Promise<void> {
    if (this.gone.length === 0) return;
    const messages = this.gone;
    this.gone = [];
    await this.broadcast(messages).catch((err: unknown) => this.events.onError("expired sessions", err as Error));
  }

  /** Asks the node the store names as the client's connection to close it (REST kick). False: not connected. */
  async kickRemote(clientId: string): Promise<boolean> {
    const snapshot = await this.broker.store.getSession(clientId);
    const node = snapshot?.node ?? null;
    if (snapshot === null || node === null || node === this.nodeId) return false;
    try {
      await this.communicator.send(node, [{ type: "kick", id: this.newMessageId(), clientId, reason: "kicked", discardSession: false, epoch: snapshot.epoch + 1 }]);
      return true;
    } catch (err) {
      if (err instanceof NodeUnreachable) return false;
      throw err;
    }
  }

  /** Sends a REST subscription change to the session's custodian only (it holds the session and its routes). */
  async tellCustodian(clientId: string, message: NodeMessage): Promise<void> {
    const custodian = await this.broker.store.custodianOf(clientId);
    if (custodian === null || custodian === this.nodeId) return;
    await this.communicator.send(custodian, [message]).catch((err: unknown) => {
      if (!(err instanceof NodeUnreachable)) throw err;
    });
  }

  /** Sends messages to every live node but this one (REST subscription changes and kicks made on this node). */
  async broadcast(messages: NodeMessage[]): Promise<void> {
    const nodes = await this.broker.store.listNodes(Date.now());
    await Promise.all(nodes.filter((n) => n.nodeId !== this.nodeId).map((n) => this.communicator.send(n.nodeId, messages)));
  }

  /** Sends messages to one node (a REST kick for the node that holds the client). */
  send(node: string, messages: NodeMessage[]): Promise<void> {
    return this.communicator.send(node, messages);
  }

  /** A fresh id for a node message sent by this node. */
  newMessageId(): string {
    return this.ids.next();
  }

  /**
   * `session` was claimed here under `epoch`, from `from.previousNode` (its connection's node) and `from.custodian`
   * (the node that kept it offline), and both were kicked (`takeover`, right after the claim): each closes its
   * connection or drops its copy (decision 017) and replies once it passed on what reached it for the session
   * (decision 031); one that stays silent gets the earlier holders kicked too (decision 040). True when the
   * session's deliveries stay held until then.
   */
  claimedHere(session: Session, epoch: number, from: ClaimedFrom): boolean {
    this.claimedFrom(session.clientId, from.custodian);
    return this.settler.claimed(session, epoch, from);
  }

  /**
   * Closes the client's old connection on the node that held it (take-over); `epoch` is the new claim's, and
   * `sessionEnded` says it was a Clean Start (the old session ended: a will waiting out its delay there goes now).
   * Sent behind this node's forwards to that node (the same group, decision 031), unless `unordered`: a kick sent
   * again once the wait for the reply ended goes in the client's group there, where no batch of this node's group
   * held in flight holds it back (broker/silent-holders.ts). A node without a queue is gone, and its connection with
   * it (ForwardSender.sendDeliveries ends the wait for its reply).
   */
  takeover(node: string, clientId: string, epoch: number, sessionEnded: boolean, unordered = false): void {
    this.forwarder.sendControl(node, {
      type: "kick",
      id: this.newMessageId(),
      clientId,
      reason: "takeover",
      discardSession: false,
      epoch,
      node: this.nodeId,
      ...(sessionEnded ? { sessionEnded } : {}),
      ...(unordered ? { unordered } : {}),
    });
  }
}
