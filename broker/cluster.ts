import type { QoS } from "mqtt-packet";
import { NodeUnreachable } from "../core/communicator/errors.js";
import type { Arrival, Communicator, NodeMessage, WireTarget } from "../core/communicator/types.js";
import { fromWireMessage, toWireMessage, toWireTarget } from "../core/communicator/wire.js";
import type { NodeRecord, StoredOutgoing, StoreOp, StoreOpResult } from "../core/store/types.js";
import { Adopter } from "./adoption.js";
import type { Broker, RemoteRoutes } from "./broker.js";
import type { ResultTarget } from "./journal.js";
import { MOVE_SETTLE_MS, MoveSettler, type ClaimedFrom } from "./move-settle.js";
import { RouteSync } from "./routes.js";
import { sendUntilTaken } from "./send-retry.js";
import type { Session } from "./session.js";
import type { NodeTransport } from "./link/transport.js";
import type { Message } from "./types.js";

/**
 * One broker node's membership of a cluster (docs/cluster.md): its node queue and registry entry, the route
 * table (filters -> nodes, broker/routes.ts) and forwarding of publishes once per matching node, take-over across
 * nodes, and failure handling of dead nodes (their sessions adopted by the survivors, broker/adoption.ts).
 */

export interface ClusterOptions {
  readonly nodeId: string;
  /** Where this node's clients connect (host:port), shown in GET /v1/nodes. */
  address: string;
  /** Heartbeat interval. */
  heartbeatMs: number;
  /** A node whose last heartbeat is older than this is dead. */
  nodeTtlMs: number;
  /** Times a delivery is passed on between nodes before it goes to the store regardless of owner. Default 3. */
  maxHops?: number;
  /** How often the route log is read (ms). Default 50. */
  routePollMs?: number;
  /** How long a dead node's queue is kept and drained after its routes were dropped (default 90 s). */
  deadQueueGraceMs?: number;
  /** host:port of this node's link listener, in its node record (broker/link, "Fast lane" in docs/cluster.md). */
  linkAddress?: string;
  /** Where forwards go: a node link, falling back to the node queue (broker/link/transport.ts). Default: the communicator. */
  transport?: NodeTransport;
  /** How long a session claimed from another node holds its deliveries for that node's reply (decision 031). */
  moveSettleMs?: number;
}

export interface ClusterEvents {
  /** Something failed that the cluster retries or works around; for logs. */
  onError(operation: string, err: Error): void;
  /** A session of a dead node was released (its client is gone: emit client.disconnected "node-failure"). */
  onSessionLost(clientId: string, username: string | null): void;
  /** A dead node was cleaned up. */
  onNodeRemoved(nodeId: string, sessions: number, drained: number): void;
  /** A node's lease expired (before its cleanup): publish its clients' wills (broker/lease.ts, decision 019). */
  onNodeExpired?(node: NodeRecord): Promise<void>;
}

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

/**
 * A forward the receiver matches against its own trie (`only`: just the sessions that came from that node), and
 * gives to one member of each shared subscription group in `groups` (decision 026).
 */
interface PendingMatch {
  match: true;
  only: string | null;
  groups?: string[];
}

/** A forwarded message: a `deliver` node message listing target sessions, or one the receiver matches itself. */
export type ForwardMessage = NodeMessage & { type: "deliver" };

const RETRY_MAX_MS = 2000;
const DEAD_QUEUE_GRACE_MS = 90_000;
/** `heartbeatAt` of a node that is leaving (graceful shutdown): expired, but it drains its own queue. */
const LEAVING = 0;
/** How long a leaving node keeps receiving after its routes are gone (forwards in flight land meanwhile). */
const LEAVE_GRACE_MS = 500;

export class Cluster implements ResultTarget<Reroute> {
  readonly nodeId: string;
  private readonly maxHops: number;
  /** Deliveries collected this tick: node -> message -> targets (one node message per message and node). */
  private pending = new Map<string, Map<Message, WireTarget[] | PendingMatch>>();
  private pendingHops = new Map<Message, number>();
  /** Forwards made while handling a node message: that message's dedup id (kept as `root`) and a derived id. */
  private pendingIds = new Map<Message, { root: string; id: string }>();
  private derived = 0;
  /** Forwards with a dedup id made outside the handling of a node message (`derivedId`). */
  private unhandled = 0;
  /** The nodes a message was sent to be matched there (`routeRemote`), while the message is referenced. */
  private readonly matchedTo = new WeakMap<Message, string[]>();
  /**
   * The id of the node message being handled: forwards it causes get ids derived from it (not from the root, which
   * a drained or passed-on copy shares with the original forwards: an equal id would be dropped by the receiver's
   * dedup as a repeat of the original).
   */
  private handling: string | null = null;
  private flushScheduled = false;
  /** Where this tick's forwards went once sent (for the journal's stall report). */
  private tickSending: { nodes: string[] | null } = { nodes: null };
  /** Resolves the journal track of this tick's forwards once they were sent (or stored instead). */
  private settleTick: (() => void) | null = null;
  /** Take-over kicks and their replies, per node: sent behind this tick's forwards to that node (decision 031). */
  private control = new Map<string, NodeMessage[]>();
  /** Sessions claimed here from other nodes, holding their deliveries until those nodes replied (decision 031). */
  private readonly settler: MoveSettler;
  /** Kicks that tell every node a session is gone (expiries), collected per tick. */
  private gone: NodeMessage[] = [];
  /** Settles once this tick's forwards were sent (or stored instead); every batch that forwards waits for it. */
  private tickSent: Promise<void> | null = null;
  private messageSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private maintaining: Promise<void> | null = null;
  private stopped = false;
  private killed = false;
  private startedAt = 0;
  /**
   * Until then this node judges no other node dead (decision 032): set when it registers again after losing its
   * lease, one TTL on. It could not renew because the store was unreachable from it, so the others may well have
   * been cut off too and be registering again right now: a store outage is not the death of every node.
   */
  private judgesFrom = 0;
  /**
   * Prefix of the ids of this node's messages: node id and incarnation, so a restarted node never repeats an id
   * the receivers' and the store's dedup windows still remember.
   */
  private idPrefix: string;
  private queueUrl: string | null = null;
  private ready!: () => void;
  private readonly loaded = new Promise<void>((resolve) => (this.ready = resolve));
  /** While set, received node messages wait for it (the sessions are being reloaded: `holdingMessages`). */
  private gate: Promise<void> | null = null;
  /** The route table and this node's routes (decision 017). */
  readonly routes: RouteSync;
  private readonly adopter: Adopter;
  /** Scratch set of one publish's matching nodes. */
  private readonly matchedNodes = new Set<string>();
  private readonly collectNode = (node: string): void => void this.matchedNodes.add(node);
  /** Dead nodes whose routes this node dropped, by node id: their queues are kept for the grace period. */
  private readonly retiring = new Map<string, { droppedAt: number; drained: number }>();

  constructor(
    private readonly broker: Broker,
    private readonly communicator: Communicator,
    private readonly opts: ClusterOptions,
    private readonly events: ClusterEvents,
  ) {
    this.nodeId = opts.nodeId;
    this.idPrefix = `${opts.nodeId}:${Date.now().toString(36)}`;
    this.maxHops = opts.maxHops ?? 3;
    this.settler = new MoveSettler(opts.moveSettleMs ?? MOVE_SETTLE_MS, {
      nodeId: this.nodeId,
      journal: broker.journal,
      session: (clientId) => broker.sessions.get(clientId),
      reply: (node, clientId, epoch) => this.sendControl(node, { type: "moved", id: this.newMessageId(), origin: this.nodeId, clientId, epoch }),
      kick: (node, clientId, epoch, sessionEnded) => this.takeover(node, clientId, epoch, sessionEnded),
      kickAgain: (node, clientId, epoch, sessionEnded) => this.takeover(node, clientId, epoch, sessionEnded, true),
    });
    this.routes = new RouteSync(broker.store, this.nodeId, {
      pollMs: opts.routePollMs ?? 50,
      onError: (operation, err) => this.events.onError(operation, err),
    });
    this.adopter = new Adopter(broker, this.routes, this.nodeId, opts.nodeTtlMs, {
      onError: (operation, err) => this.events.onError(operation, err),
      onSessionLost: (clientId, username) => this.events.onSessionLost(clientId, username),
      kick: (node, clientId, epoch) => this.takeover(node, clientId, epoch, false),
    });
    const remote: RemoteRoutes = {
      added: (filter) => this.routes.added(filter),
      removed: (filter) => this.routes.removed(filter),
      publish: (msg) => this.routeRemote(msg, null),
      rootFor: (topic) => (this.routesElsewhere(topic) ? this.newMessageId() : null),
      newRoot: () => this.newMessageId(),
      sharedNodes: (topic, visit) =>
        this.routes.table.matchShared(topic, (r) => {
          if (r.node !== this.nodeId) visit(r.key, r.node);
        }),
      forwardShared: (node, msg, key) => this.forwardShared(node, msg, key, 0),
    };
    broker.useRemoteRoutes(remote);
  }

  /**
   * Creates the node queue and registers the node. Messages that arrive before `loadedState()` wait in the queue:
   * the broker loads the store's state after registering, so nothing a node writes and then broadcasts is missed.
   */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.idPrefix = `${this.nodeId}:${this.startedAt.toString(36)}`;
    this.queueUrl = await this.communicator.start(this.nodeId, (messages, arrivals) => this.receive(messages, arrivals));
    await this.broker.store.registerNode(this.record(this.startedAt), this.opts.nodeTtlMs);
  }

  /**
   * The broker loaded the sessions in its custody: its routes are made to match them and the other nodes' routes
   * are loaded; then queued messages are handled, heartbeats and failure detection start.
   */
  async loadedState(): Promise<void> {
    await this.routes.start();
    this.ready();
    this.timer = setInterval(() => void this.tick(), this.opts.heartbeatMs);
    this.timer.unref();
    void this.tick();
  }

  /**
   * Graceful shutdown, after the sessions were handed back (offline, still in this node's custody). The node
   * gives up its lease at once (its record expires, marked as leaving) but keeps handling its queue: the survivors
   * adopt its sessions at their next heartbeat (routes first) and drop its routes, as for a dead node. Then, once
   * forwards still in flight had time to land, it stops receiving, routes what is left in its queue (to the store
   * or the sessions' new nodes), deletes the queue and removes its record. Its queue is read by it alone, in order.
   */
  async stop(): Promise<void> {
    if (this.killed) return;
    this.stopped = true;
    this.settler.releaseAll();
    if (this.timer !== null) clearInterval(this.timer);
    await this.ticking;
    await this.maintaining;
    await this.flushGone();
    await this.routes.flushed();
    await this.routes.stop();
    const store = this.broker.store;
    try {
      await store.registerNode({ ...this.record(Date.now()), heartbeatAt: LEAVING }, this.opts.nodeTtlMs);
      const others = (await store.listNodes(Date.now())).filter((n) => n.nodeId !== this.nodeId);
      const deadline = Date.now() + 3 * this.opts.heartbeatMs + 1000;
      while (others.length > 0 && Date.now() < deadline) {
        const custody = await store.sessionsInCustodyOf(this.nodeId);
        const { digests } = await store.routeDigests();
        if (custody.length === 0 && digests[this.nodeId] === undefined) break;
        await sleep(50);
      }
      // Forwards sent by nodes that had not applied the removal of this node's routes yet.
      await sleep(LEAVE_GRACE_MS);
      await this.communicator.stop();
      await this.communicator.drainQueue(this.nodeId, async (messages) => {
        for (const m of messages) if (m.type === "deliver" || m.type === "publish") this.handle(m, null);
        await this.broker.journal.barrier();
      });
      // The queue stays, and so does the record (expired, marked leaving): nodes that have not applied the removal
      // of this node's routes yet may still send to it, and SQS accepts and drops sends to a deleted queue for 60 s.
      // The survivors retire it like a dead node's: drained, kept for the grace period, deleted (decision 020).
    } catch (err) {
      this.events.onError("stop", err as Error);
    }
  }

  /**
   * Stops as a crashed process would (tests): no more heartbeats, route reads or receives, nothing handed over;
   * the record expires and the survivors clean up. `stop()` does nothing afterwards.
   */
  async kill(): Promise<void> {
    this.killed = true;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.ticking;
    await this.maintaining;
    await this.routes.stop();
    await this.communicator.stop().catch(() => undefined);
  }

  /** Records where clients connect (known once the listeners are bound). */
  async setAddress(address: string): Promise<void> {
    this.opts.address = address;
    await this.broker.store.registerNode(this.record(Date.now()), this.opts.nodeTtlMs);
  }

  private record(now: number): NodeRecord {
    return { nodeId: this.nodeId, address: this.opts.address, queueUrl: this.queueUrl, linkAddress: this.opts.linkAddress, startedAt: this.startedAt, heartbeatAt: now };
  }

  // --- forwarding --------------------------------------------------------------------------------------------

  /**
   * Sends a delivery to the node that owns the session. Collected per tick and sent as one node message per
   * message and node; the journal batch of this tick (and the acknowledgements waiting for it) completes only once
   * the node queue accepted them, or the store took them instead. `retain` and `subIds` are the delivery's as this
   * node matched it (the receiver does not match a delivery that names its session) [MQTT-3.3.4-3].
   */
  forward(clientId: string, node: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, hops = 0): void {
    if (node === this.nodeId) {
      // The store says this node owns it: to the session if it is attached or being claimed here now, else kept in
      // the store for its next claim, unless another node claimed it meanwhile (reroute, decision 041).
      this.reroute({ dedupId: this.broker.journal.dedupId, clientId, msg, qos, retain, subIds, hops, deadNode: null }, node);
      return;
    }
    let byMessage = this.pending.get(node);
    if (byMessage === undefined) {
      byMessage = new Map();
      this.pending.set(node, byMessage);
    }
    let targets = byMessage.get(msg);
    // A publish of this node (no dedup id) that went to `node` to be matched there: that node finds the session
    // itself, and a targeted copy would be a second delivery. Only if it went there: the route table may name
    // `node` now and not when the message was routed (seed 206 of the CI faults: a session claimed on `node` while
    // its offline enqueue here was on its way to the store, answered "owned").
    if (targets === undefined && this.broker.journal.dedupId === null && this.matchedTo.get(msg)?.includes(node) === true) return;
    if (targets !== undefined && !Array.isArray(targets)) {
      // Already forwarded there to be matched: that node finds this session itself.
      return;
    }
    if (targets === undefined) {
      targets = [];
      byMessage.set(msg, targets);
      if (hops > 0) this.pendingHops.set(msg, hops);
      const dedupId = this.broker.journal.dedupId;
      if (dedupId !== null) this.pendingIds.set(msg, { root: dedupId, id: this.derivedId(dedupId) });
    }
    targets.push(toWireTarget(clientId, qos, retain, subIds));
    this.scheduleFlush();
  }

  /**
   * A message published on this node (or drained from a dead node's queue, `only` = that node): one node message
   * to each other node with a matching route; the receiver matches its own trie. Collected per tick like forward().
   */
  routeRemote(msg: Message, only: string | null): void {
    const nodes = this.matchedNodes;
    this.routes.table.match(msg.topic, this.collectNode);
    if (nodes.size === 0) return;
    for (const node of nodes) {
      // The dead node itself is named only when it came back (its routes were cleared before its queue is drained,
      // so it wrote them again as a new incarnation): its sessions may be there again.
      if (node === this.nodeId) continue;
      this.pendingFor(node, msg, { match: true, only });
    }
    nodes.clear();
  }

  /**
   * `msg` to `node`, for one member of its shared subscription group `key`: with the match forward the message
   * may already have to that node (one node message), else as its own match forward (the receiver's other
   * subscribers it did not know of get it too, which is right).
   */
  private forwardShared(node: string, msg: Message, key: string, hops: number): void {
    const existing = this.pending.get(node)?.get(msg);
    if (existing !== undefined && !Array.isArray(existing)) {
      (existing.groups ??= []).push(key);
      return;
    }
    if (hops > 0) this.pendingHops.set(msg, hops);
    this.pendingFor(node, msg, { match: true, only: null, groups: [key] });
  }

  /**
   * Shared subscription groups a node sent this message here for: one member of each; a group with no member here
   * any more goes to another node that has members, within the hop bound, else it is dropped (counted).
   */
  private deliverGroups(msg: Message, groups: readonly string[], hops: number): void {
    for (const key of groups) {
      if (this.broker.deliverSharedHere(key, msg)) continue;
      const others: string[] = [];
      this.routes.table.matchShared(msg.topic, (r) => {
        if (r.key === key && r.node !== this.nodeId && !others.includes(r.node)) others.push(r.node);
      });
      const next = others[Math.floor(Math.random() * others.length)];
      if (next === undefined || hops >= this.maxHops) this.broker.onDrop(null, msg, "no-subscriber");
      else this.forwardShared(next, msg, key, hops + 1);
    }
  }

  /** Whether this node's route table names another node for `topic`. */
  private routesElsewhere(topic: string): boolean {
    let found = false;
    this.routes.table.match(topic, (n) => (found ||= n !== this.nodeId));
    if (!found) this.routes.table.matchShared(topic, (r) => (found ||= r.node !== this.nodeId));
    return found;
  }

  private pendingFor(node: string, msg: Message, entry: PendingMatch): void {
    let byMessage = this.pending.get(node);
    if (byMessage === undefined) {
      byMessage = new Map();
      this.pending.set(node, byMessage);
    }
    const existing = byMessage.get(msg);
    if (existing !== undefined && !Array.isArray(existing)) return;
    const sent = this.matchedTo.get(msg);
    if (sent === undefined) this.matchedTo.set(msg, [node]);
    else sent.push(node);
    // Targets collected first (a moved session's copy, routed before the other nodes) give way: `node` matches the
    // message against its own trie, which finds those sessions too (like forward() does the other way round).
    byMessage.set(msg, entry);
    if (existing !== undefined) return;
    const dedupId = this.broker.journal.dedupId;
    if (dedupId !== null && !this.pendingIds.has(msg)) this.pendingIds.set(msg, { root: dedupId, id: this.derivedId(dedupId) });
    this.scheduleFlush();
  }

  /**
   * The id of a forward made under `dedupId`. While a node message is handled: derived from its id and the count
   * of forwards it caused, so handling it again repeats them (the receivers drop the repeats). Otherwise (a
   * publish of this node, a follow-up of a store answer) one of its own: the counter of handled messages restarts
   * for each, and a copy passed on after a store answer (`owned`, `fenced`) with an id the original forward to
   * that node had was dropped there as a repeat (decision 036, partitions seed 4).
   */
  private derivedId(dedupId: string): string {
    if (this.handling !== null) return `${this.handling}>${this.idPrefix}.${this.derived++}`;
    return `${dedupId}>${this.idPrefix}~${++this.unhandled}`;
  }

  private scheduleFlush(): void {
    if (this.settleTick === null) {
      const tick = new Promise<void>((resolve) => (this.settleTick = resolve));
      const sent = (this.tickSending = { nodes: null as string[] | null });
      this.tickSent = tick;
      this.broker.journal.label(tick, () => (sent.nodes === null ? "forwards not sent yet" : `forwards to ${sent.nodes.join(", ")}, not yet taken by a link or a node queue`));
    }
    // Every batch that forwards this tick (the one being filled, one whose results are handed out) waits for it.
    this.broker.journal.trackOnce(this.tickSent as Promise<void>);
    this.scheduleSend();
  }

  /** `flushForwards` once this turn's I/O is handled (forwards and control messages of the turn leave together). */
  private scheduleSend(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(flushForwards, this);
    }
  }

  /** Sends this tick's forwards (called from setImmediate). */
  flushForwards(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    const hops = this.pendingHops;
    const ids = this.pendingIds;
    const settle = this.settleTick;
    const sending = this.tickSending;
    const control = this.control;
    this.control = new Map();
    this.pending = new Map();
    this.pendingHops = new Map();
    this.pendingIds = new Map();
    this.settleTick = null;
    const sends: Promise<void>[] = [];
    // One dedup id per message across the nodes it goes to: a copy re-routed by one node to another (a session
    // that moved) is recognised by the store as the same message.
    const roots = new Map<Message, string>();
    for (const [node, byMessage] of pending) {
      const messages: ForwardMessage[] = [];
      for (const [msg, entry] of byMessage) {
        const seq = ++this.messageSeq;
        const derived = ids.get(msg);
        const m: ForwardMessage = {
          type: "deliver",
          id: derived?.id ?? `${this.idPrefix}:${seq}`,
          origin: this.nodeId,
          seq,
          msg: toWireMessage(msg),
          targets: Array.isArray(entry) ? entry : [],
        };
        if (!Array.isArray(entry)) {
          m.match = true;
          if (entry.only !== null) m.only = entry.only;
          if (entry.groups !== undefined) m.groups = entry.groups;
        }
        const h = hops.get(msg);
        if (h !== undefined) m.hops = h;
        let root = derived?.root ?? roots.get(msg);
        if (root === undefined) roots.set(msg, (root = m.id));
        if (root !== m.id) m.root = root;
        messages.push(m);
      }
      sends.push(this.sendDeliveries(node, [...messages, ...(control.get(node) ?? [])]));
      control.delete(node);
    }
    for (const [node, messages] of control) void this.sendDeliveries(node, messages);
    sending.nodes = [...pending.keys()];
    void Promise.all(sends).then(() => settle?.());
  }

  /**
   * The one place forwards leave this node: `deliver` node messages to one node. A match forward that cannot be
   * sent (the node's queue is gone: it died and was cleaned up while this node's route table still named it) is
   * lost for that node's sessions, which by then were adopted elsewhere; see docs/cluster.md.
   */
  private async sendDeliveries(node: string, messages: NodeMessage[]): Promise<void> {
    // QoS 0 is at most once, and nothing slows a QoS 0 publisher down (no acknowledgement waits for its forwards):
    // held through an outage, its forwards would pile up without bound. A batch of QoS 0 messages only (no kick,
    // no reply) gets MAX_QOS0_SEND_ATTEMPTS, then is dropped like one whose node is gone.
    const atMostOnce = messages.every((m) => m.type === "deliver" && m.msg.qos === 0);
    try {
      // SQS refusing (an outage, this node cut off) is waited out, as a store batch is (decision 032): a match
      // forward names no session, so the store cannot take it instead, and the publish is acknowledged only once
      // its forwards went out. A publisher with 1,024 acknowledgements (or 4 MiB of them) waiting is no longer
      // read from (broker/connection.ts), which bounds what each one can have held here.
      await sendUntilTaken(() => (this.opts.transport ?? this.communicator).send(node, messages), {
        giveUp: (err, attempt) => err instanceof NodeUnreachable || ((this.stopped || atMostOnce) && attempt >= MAX_QOS0_SEND_ATTEMPTS),
        onError: (err) => this.events.onError(`send to node ${node}`, err),
      });
    } catch (err) {
      // The node's queue is gone (it shut down or died and was cleaned up), or this node stopped: what was meant
      // for it goes to the store (QoS 0 is dropped), where the session finds it when it is next claimed. Under
      // the delivery's dedup id, as the receiving node would have enqueued it.
      this.events.onError(`send to node ${node}`, err as Error);
      const ops: StoreOp[] = [];
      for (const m of messages) {
        // A take-over kick that cannot reach its node: no reply is coming (its connection is gone with it), and it
        // may have died before kicking the holders before it (decision 040).
        if (m.type === "kick") this.settler.unreachable(m.clientId, node, m.epoch ?? 0);
        if (m.type !== "deliver") continue;
        const msg: Message = fromWireMessage(m.msg);
        for (const t of m.targets) {
          if (t.qos === 0) continue;
          const op = this.enqueueOp(t.clientId, msg, t.qos, t.retain === true, t.subIds, false);
          if (op.op === "enqueue") op.dedupId = m.root ?? m.id;
          ops.push(op);
        }
      }
      if (ops.length > 0) await this.applyWithRetry(ops, `store deliveries for node ${node}`);
    }
  }

  /** A store enqueue of a targeted delivery, with its RETAIN flag and Subscription Identifiers (sent when it is). */
  private enqueueOp(clientId: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, unowned: boolean): StoreOp {
    const limits = this.broker.config.limits;
    const entry: Omit<StoredOutgoing, "seq" | "state"> = { msg, qos, retain, packetId: 0 };
    if (subIds !== undefined) entry.subIds = [...subIds];
    const op: StoreOp = { op: "enqueue", clientId, entry, maxQueued: limits.maxQueued, dropPolicy: limits.queueDropPolicy };
    if (unowned) op.unowned = true;
    return op;
  }

  /** Outside the journal (whose batch waits for this), retried until the store takes it or the node stops. */
  private async applyWithRetry(ops: StoreOp[], what: string): Promise<StoreOpResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.broker.store.apply(ops);
      } catch (err) {
        this.events.onError(what, err as Error);
        if (this.stopped && attempt >= 3) return [];
        await sleep(Math.min(RETRY_MAX_MS, 25 * 2 ** Math.min(attempt, 10)));
      }
    }
  }

  // --- receiving ---------------------------------------------------------------------------------------------

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

  private async receive(messages: NodeMessage[], arrivals?: ReadonlyMap<NodeMessage, Arrival>): Promise<void> {
    await this.loaded;
    while (this.gate !== null) await this.gate;
    // Acknowledging (a link) or deleting (the node queue) is safe once what these messages caused landed: their
    // writes applied and their own side effects (forwards passed on, held deliveries) settled. Not everything
    // written before them: that includes this node's own forwards to the sender, whose handler would wait the same
    // way for its own forwards to this node, a cycle only the link's ack timeout broke.
    await this.broker.journal.landedAfter(() => {
      for (const m of messages) {
        this.handle(m, null);
        if (m.type === "deliver" && m.match === true && this.late(arrivals?.get(m))) this.passOnLate(m);
      }
    });
  }

  private handle(m: NodeMessage, deadNode: string | null): void {
    // What this message causes is enqueued under its id: handled again after a crash, it is enqueued once. A
    // drained message is named by its queue too: a match forward goes to several nodes under one id, so the copy
    // drained from a dead node's queue may carry the id of one this node handled from its own queue, and forwards
    // derived alike would be dropped by their receivers' dedup as repeats (decision 036, seed 19).
    this.handlingAs(deadNode === null ? m.id : `${m.id}@${deadNode}`, () => {
      const dedupId = m.type === "deliver" ? (m.root ?? m.id) : m.id;
      // What a node that a session here was claimed from passes on goes ahead of what the session holds (decision 031).
      if (m.type === "deliver" && deadNode === null) this.settler.ahead(m.origin, () => this.broker.journal.withDedupId(dedupId, () => this.handleMessage(m, deadNode)));
      else this.broker.journal.withDedupId(dedupId, () => this.handleMessage(m, deadNode));
    });
  }

  /** Runs `fn` as the handling of node message `id`: the forwards it makes get ids derived from it (`derivedId`). */
  private handlingAs(id: string, fn: () => void): void {
    this.derived = 0;
    this.handling = id;
    try {
      fn();
    } finally {
      this.handling = null;
    }
  }

  /**
   * Whether a message came through a queue after this node dropped its copy of a session that moved away (a
   * redelivery after the visibility timeout, or one held behind it in its FIFO group): what it was meant for may
   * be among them. A node back from a pause has dropped none meanwhile (its copies wait for its lease).
   */
  private late(arrival: Arrival | undefined): boolean {
    return arrival !== undefined && this.broker.lastMovedCopyDropped() > Date.now() - arrival.waitedMs;
  }

  /**
   * A `match` forward that came late (decision 023, `--faults all` seed 295): an offline session it was meant for
   * may have been claimed elsewhere since it was sent, and this node's forwarding copy of it (decision 017, two
   * TTLs) dropped, so matching here finds nothing for it. Passed on like a dead node's queue: to every node whose
   * routes match, for the sessions that came there from this node (and, through the store's dedup, the persistent
   * ones). Under ids of its own (`handling`), so no receiver takes it for a forward the first handling made; under
   * the message's dedup id, so no session stores it twice.
   */
  private passOnLate(m: Extract<NodeMessage, { type: "deliver" }>): void {
    this.handlingAs(`${m.id}^late`, () => this.broker.journal.withDedupId(m.root ?? m.id, () => this.routeRemote(fromWireMessage(m.msg), this.nodeId)));
  }

  private handleMessage(m: NodeMessage, deadNode: string | null): void {
    switch (m.type) {
      case "deliver": {
        const msg: Message = fromWireMessage(m.msg);
        for (const t of m.targets) this.routeIncoming(t.clientId, msg, t.qos, t.retain === true, t.subIds, m.hops ?? 0, deadNode);
        if (m.match === true) {
          if (deadNode !== null) {
            // Left in a dead node's queue: meant for its sessions, which moved (adopted or claimed) since.
            this.broker.routeLocal(msg, this.adopter.cameFrom(deadNode), true, "skip");
            this.routeRemote(msg, deadNode);
            // Meant for members on the dead node: another member of each group, here or elsewhere.
            if (m.groups !== undefined) this.deliverGroups(msg, m.groups, m.hops ?? 0);
          } else {
            this.broker.routeLocal(msg, m.only === undefined ? null : this.adopter.cameFrom(m.only), m.only !== undefined, "skip");
            if (m.groups !== undefined) this.deliverGroups(msg, m.groups, m.hops ?? 0);
          }
        }
        return;
      }
      case "publish":
        m.messages.forEach((w, i) => {
          // One dedup id per message of the batch (they may reach the same session).
          this.broker.journal.dedupId = `${m.id}#${i}`;
          this.broker.publishExternal(fromWireMessage(w));
        });
        return;
      case "kick":
        if (deadNode !== null) return;
        this.broker.kickLocal(m.clientId, m.reason, m.epoch ?? null, m.discardSession, m.node ?? null, m.sessionEnded === true);
        if (m.reason === "takeover" && m.node !== undefined && m.node !== this.nodeId) this.settler.kicked(m.node, m.clientId, m.epoch ?? 0);
        return;
      case "moved":
        if (deadNode === null) this.settler.replied(m.clientId, m.origin, m.epoch);
        return;
      case "subscriptions":
        if (deadNode === null) this.broker.applyRemoteSubscriptions(m.clientId, m.add, m.remove, m.deliverRetained);
        return;
      case "session":
        // Session broadcasts are gone (decision 017): a node from before it may still send them; routes say it all.
        return;
    }
  }

  /**
   * A delivery from another node (or a dead node's queue) for a session that may or may not be attached here, with
   * the RETAIN flag and Subscription Identifiers the sending node matched it with, wherever it goes from here.
   */
  private routeIncoming(clientId: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, hops: number, deadNode: string | null): void {
    const session = this.broker.sessions.get(clientId);
    if (session !== undefined && this.deliverHere(session, msg, qos, retain, subIds)) return;
    const owner = session?.owner ?? null;
    if (owner !== null && owner !== this.nodeId && owner !== deadNode && hops < this.maxHops) {
      this.forward(clientId, owner, msg, qos, retain, subIds, hops + 1);
      return;
    }
    if (qos === 0) return; // not stored for a session that is not connected
    this.storeReroute({ dedupId: this.broker.journal.dedupId, clientId, msg, qos, retain, subIds, hops, deadNode });
  }

  /**
   * Delivers to `session` when it is attached here or being claimed here; false otherwise. Authorized here, against
   * the policy of the client attached here (docs/auth.md, "Exact authorization"); a delivery held during a claim is
   * checked when it is released.
   */
  private deliverHere(session: Session, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): boolean {
    if (!session.servedHere) return false;
    if (session.link !== null && !session.mayReceiveAny(msg.topic)) this.broker.onDeliveryDenied(session, msg);
    else session.deliver(msg, qos, retain, subIds);
    return true;
  }

  /** Queues in the store unless a node owns the session; the answer says which node (see onStoreResult). */
  private storeReroute(r: Reroute): void {
    if (r.qos === 0) return;
    const unowned = r.hops < this.maxHops;
    const op = this.enqueueOp(r.clientId, r.msg, r.qos, r.retain, r.subIds, unowned);
    if (op.op === "enqueue") {
      if (r.dedupId !== null) op.dedupId = r.dedupId;
      if (unowned && r.exceptOwner !== undefined) op.exceptOwner = r.exceptOwner;
    }
    this.broker.journal.write(op, this, r);
  }

  onStoreResult(r: Reroute, result: StoreOpResult): void {
    if (result.ok || result.reason !== "owned") return;
    // A follow-up: the batch that routed it (and the acknowledgements waiting for it) waits for it (decision 020).
    // Under the delivery's dedup id, as it was first routed: the new holder's store recognises a copy it has.
    const journal = this.broker.journal;
    journal.followUp(() => journal.withDedupId(r.dedupId, () => this.reroute(r, result.node)));
  }

  private reroute(r: Reroute, owner: string): void {
    if (owner === this.nodeId) {
      // Claimed here since the store answered: the session takes it now (stored, its claim's snapshot may miss it).
      const session = this.broker.sessions.get(r.clientId);
      if (session !== undefined && this.deliverHere(session, r.msg, r.qos, r.retain, r.subIds)) return;
    }
    if (owner === r.deadNode || owner === this.nodeId) {
      // Still owned by the dead node being drained (it is released after the drain) or by this node without a
      // connection: stored, in order, for the session's next claim; unless another node claimed it since the
      // store's answer (its claim read the queue already): refused as owned by it then, and forwarded there
      // (decision 041).
      this.storeReroute({ ...r, exceptOwner: owner });
      return;
    }
    // Under the delivery's dedup id (onStoreResult), so the receiver's store takes it once when the same message
    // reaches the session by another path too. Its derived id is one of its own (a follow-up runs outside any
    // handled message: `derivedId`), so the receivers' dedup never takes it for an earlier copy to that node.
    this.forward(r.clientId, owner, r.msg, r.qos, r.retain, r.subIds, r.hops + 1);
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

  private async flushGone(): Promise<void> {
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
    return `${this.idPrefix}:${++this.messageSeq}`;
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
   * it (sendDeliveries ends the wait for its reply).
   */
  takeover(node: string, clientId: string, epoch: number, sessionEnded: boolean, unordered = false): void {
    this.sendControl(node, {
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

  /** Sends `m` to `node` behind the forwards collected for it this tick. */
  private sendControl(node: string, m: NodeMessage): void {
    const list = this.control.get(node);
    if (list === undefined) this.control.set(node, [m]);
    else list.push(m);
    this.scheduleSend();
  }

  // --- heartbeats and failure handling ---------------------------------------------------------------------------

  private tick(): Promise<void> {
    if (this.ticking !== null || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.beat()
      .catch((err: unknown) => this.events.onError("heartbeat", err as Error))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  /**
   * The lease was lost (broker/lease.ts) and the connections closed: re-create the node queue (the cleanup of a
   * survivor may have deleted it), then `register()` a new incarnation.
   */
  async restartQueue(): Promise<void> {
    await this.communicator.stop();
    this.queueUrl = await this.communicator.start(this.nodeId, (messages, arrivals) => this.receive(messages, arrivals));
  }

  /** Registers this node again as a new incarnation (a new `startedAt`). */
  async register(): Promise<void> {
    this.startedAt = Date.now();
    this.judgesFrom = this.startedAt + this.opts.nodeTtlMs;
    this.idPrefix = `${this.nodeId}:${this.startedAt.toString(36)}`;
    await this.broker.store.registerNode(this.record(this.startedAt), this.opts.nodeTtlMs);
  }

  /** This node's incarnation: its registration's `startedAt`. */
  get incarnation(): number {
    return this.startedAt;
  }

  // The lease renewal (the heartbeat) is broker/lease.ts's, on its own timer: this is failure detection only.
  private async beat(): Promise<void> {
    const now = Date.now();
    // Route checks, adoption and cleanup run beside the lease renewals (broker/lease.ts), never in front of them.
    if (this.maintaining === null && !this.stopped) {
      this.maintaining = this.maintain(now)
        .catch((err: unknown) => this.events.onError("cluster maintenance", err as Error))
        .finally(() => (this.maintaining = null));
    }
  }

  /** Compares route digests, adopts a share of each dead node's sessions; the leader cleans up after them. */
  private async maintain(now: number): Promise<void> {
    const store = this.broker.store;
    await this.routes.verify();
    const live = await store.listNodes(now);
    // Holders that stayed silent through a settle wait and renewed their lease since: their kick is held back.
    this.settler.seen(live);
    const expired = (await store.expiredNodes(now)).filter((n) => n.nodeId !== this.nodeId);
    // A node that came back (registered again) is no longer being retired.
    for (const id of this.retiring.keys()) if (!expired.some((n) => n.nodeId === id)) this.retiring.delete(id);
    if (expired.length === 0) return;
    const liveIds = live.map((n) => n.nodeId);
    if (!liveIds.includes(this.nodeId) || Date.now() < this.judgesFrom) return;
    // Every survivor adopts its share of each dead node's sessions; the live node with the smallest id then
    // cleans up (no lock needed; if it dies too, the next one takes over at its next heartbeat).
    const leader = live[0]?.nodeId === this.nodeId;
    for (const dead of expired) {
      if (this.stopped) return;
      await this.adopter.adoptShare(dead.nodeId, liveIds, dead.heartbeatAt === LEAVING);
      if (!leader) continue;
      await this.events.onNodeExpired?.(dead);
      await this.cleanUp(dead.nodeId, live, expired, dead.heartbeatAt === LEAVING, now);
    }
  }

  /**
   * A dead node's cleanup, one step per heartbeat, once every session in its custody was adopted (routes added
   * first by each adopter; sessions nobody adopted within three TTLs are adopted here): its routes are dropped and
   * what is left in its queue is routed to where its sessions are now. The queue is then kept, and drained at
   * every heartbeat, until no sender can still write to it unfenced: every live node has beaten since the routes
   * were dropped (so stopped routing there) and `deadQueueGraceMs` passed (REST senders that read the custodian
   * before, send retries, messages the dead node had received reappearing after the visibility timeout). Only
   * then is it drained a last time, deleted and the record removed: SQS accepts (and drops) sends to a deleted
   * queue for 60 s, so deleting earlier would lose what late senders wrote (decision 020).
   */
  private async cleanUp(dead: string, live: readonly NodeRecord[], expired: readonly NodeRecord[], leaving: boolean, now: number): Promise<void> {
    const store = this.broker.store;
    if ((await store.sessionsInCustodyOf(dead)).length > 0) {
      if (!this.adopter.overdue(dead, now)) return;
      await this.adopter.adoptShare(dead, [this.nodeId], leaving);
      if ((await store.sessionsInCustodyOf(dead)).length > 0) return;
    }
    let retiring = this.retiring.get(dead);
    if (retiring === undefined) {
      if (this.claimerMayLackRoutes(dead, live, expired, now)) return;
      await this.adopter.dropRoutes(dead);
      // A leaving node drains its own queue (in order) once its sessions were adopted, unless it died meanwhile.
      if (leaving && !this.adopter.overdue(dead, now)) return;
      await this.routes.poll();
      retiring = { droppedAt: Date.now(), drained: 0 };
      this.retiring.set(dead, retiring);
    }
    const drained = await this.drain(dead);
    if (drained === null) return;
    retiring.drained += drained;
    const since = retiring.droppedAt + this.opts.heartbeatMs;
    if (Date.now() < retiring.droppedAt + (this.opts.deadQueueGraceMs ?? DEAD_QUEUE_GRACE_MS)) return;
    if (live.some((n) => n.heartbeatAt < since)) return;
    const again = await this.drain(dead);
    if (again === null) return;
    retiring.drained += again;
    await this.communicator.deleteNodeQueue(dead);
    await store.removeNode(dead);
    this.retiring.delete(dead);
    this.events.onNodeRemoved(dead, this.adopter.adoptedFrom(dead), retiring.drained);
    this.adopter.done(dead);
  }

  /**
   * Whether a session that left the custody of `dead` by a claim may have no route anywhere once the routes of
   * `dead` go. Adopters write their routes before they adopt; a claimer writes its routes after the store's answer,
   * so one killed in between (or cut off) keeps the session in its own custody with no route, and what is published
   * for it until its adoption matches nothing once these routes are dropped (`--faults all` seed 65, decision 023).
   * Such a claimer has stopped beating (it is live, silent for more than two heartbeats) or has expired with
   * sessions in its custody (until its adopter, routes first, or a new claimer took them): while any node is either,
   * the routes of `dead` stay (when this node still has any of them: a new leader does not hold a drain whose routes
   * its predecessor dropped), and what they catch lands in its queue and is drained to the session (a drained QoS
   * 1/2 message reaches every matching persistent session through its store queue). No store call: the records,
   * the route table and the custody reads of this heartbeat's adoptions. Not seen: a claimer killed less than two
   * heartbeats after its last beat, when this check comes before that.
   */
  private claimerMayLackRoutes(dead: string, live: readonly NodeRecord[], expired: readonly NodeRecord[], now: number): boolean {
    if (this.routes.table.digest(dead).count === 0) return false;
    if (live.some((n) => n.nodeId !== this.nodeId && now - n.heartbeatAt > 2 * this.opts.heartbeatMs)) return true;
    return expired.some((n) => n.nodeId !== dead && this.adopter.keeps(n.nodeId));
  }

  /** Drains a dead node's queue into this node's routing. Null while messages are still in flight there. */
  private async drain(dead: string): Promise<number | null> {
    try {
      const result = await this.communicator.drainQueue(dead, async (messages) => {
        // A node that came back (registered again after a lost lease) reads its queue itself: stop, and leave
        // this batch to it. Draining on would take its messages as a dead node's, round and round.
        if ((await this.broker.store.listNodes(Date.now())).some((n) => n.nodeId === dead)) throw new CameBack(dead);
        for (const m of messages) this.handle(m, dead);
        await this.broker.journal.barrier();
      });
      return result.remaining === 0 ? result.drained : null;
    } catch (err) {
      if (err instanceof NodeUnreachable) return 0; // no queue left: nothing to drain
      if (err instanceof CameBack) return null;
      throw err;
    }
  }
}

/** The node whose queue was being drained registered again. */
class CameBack extends Error {
  constructor(node: string) {
    super(`node ${node} registered again`);
  }
}

/** Tries for a batch of QoS 0 forwards (or any batch once the node stops) before it is given up. */
const MAX_QOS0_SEND_ATTEMPTS = 3;

function flushForwards(cluster: Cluster): void {
  cluster.flushForwards();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
