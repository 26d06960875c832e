import type { QoS } from "mqtt-packet";
import { NodeUnreachable } from "../core/communicator/errors.js";
import type { Communicator, NodeMessage, WireMessage } from "../core/communicator/types.js";
import type { NodeRecord, NodeStats, Page, SessionRecord, StoreOp, StoreOpResult } from "../core/store/types.js";
import type { Broker } from "./broker.js";
import type { ResultTarget } from "./journal.js";
import type { Message } from "./types.js";

/**
 * One broker node's membership of a cluster (docs/cluster.md): its node queue and registry entry, forwarding of
 * deliveries to the nodes that own their sessions, session broadcasts that keep every node's subscription trie
 * and ownership map current, take-over across nodes, and failure handling of dead nodes.
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
  /** Interval of the reconciliation of routing state with the store (Broker.reconcile); 0 = never. */
  resyncMs?: number;
  /** How long a dead node's queue is kept and drained after its sessions were released (default 90 s). */
  deadQueueGraceMs?: number;
}

export interface ClusterEvents {
  /** Something failed that the cluster retries or works around; for logs. */
  onError(operation: string, err: Error): void;
  /** A session of a dead node was released (its client is gone: emit client.disconnected "node-failure"). */
  onSessionLost(clientId: string, username: string | null): void;
  /** A dead node was cleaned up. */
  onNodeRemoved(nodeId: string, sessions: number, drained: number): void;
  /** This node's stats snapshot, written with each heartbeat (GET /v1/stats sums them). */
  sampleStats?(now: number): NodeStats;
}

/** What a re-routed delivery needs once the store answered (see `onStoreResult`). */
interface Reroute {
  /** The node message being handled, if any (the store's dedup id). */
  dedupId: string | null;
  clientId: string;
  msg: Message;
  qos: QoS;
  hops: number;
  /** Force into the store when the owner is this dead node (its queue is being drained). */
  deadNode: string | null;
}

interface PendingTarget {
  clientId: string;
  qos: QoS;
}

const RETRY_MAX_MS = 2000;
const DEAD_QUEUE_GRACE_MS = 90_000;

export class Cluster implements ResultTarget<Reroute> {
  readonly nodeId: string;
  private readonly maxHops: number;
  /** Deliveries collected this tick: node -> message -> targets (one node message per message and node). */
  private pending = new Map<string, Map<Message, PendingTarget[]>>();
  private pendingHops = new Map<Message, number>();
  /** Forwards made while handling a node message: that message's dedup id (kept as `root`) and a derived id. */
  private pendingIds = new Map<Message, { root: string; id: string }>();
  private derived = 0;
  private flushScheduled = false;
  /** Resolves the journal track of this tick's forwards once they were sent (or stored instead). */
  private settleTick: (() => void) | null = null;
  private tickSent: Promise<void> | null = null;
  /** Session broadcasts collected this tick, by clientId (the latest state wins). */
  private broadcasts = new Map<string, NodeMessage & { type: "session" }>();
  private broadcastScheduled = false;
  private messageSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private startedAt = 0;
  private queueUrl: string | null = null;
  private ready!: () => void;
  private readonly loaded = new Promise<void>((resolve) => (this.ready = resolve));
  /** Live nodes as last seen (excluding this one). */
  private live = new Set<string>();
  private lastResync = 0;
  /** Dead nodes whose sessions this node released, by node id: their queues are kept for the grace period. */
  private readonly retiring = new Map<string, { releasedAt: number; sessions: number; drained: number }>();

  constructor(
    private readonly broker: Broker,
    private readonly communicator: Communicator,
    private readonly opts: ClusterOptions,
    private readonly events: ClusterEvents,
  ) {
    this.nodeId = opts.nodeId;
    this.maxHops = opts.maxHops ?? 3;
  }

  /**
   * Creates the node queue and registers the node. Messages that arrive before `loadedState()` wait in the queue:
   * the broker loads the store's state after registering, so nothing a node writes and then broadcasts is missed.
   */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.queueUrl = await this.communicator.start(this.nodeId, (messages) => this.receive(messages));
    await this.broker.store.registerNode(this.record(this.startedAt), this.opts.nodeTtlMs);
  }

  /** The broker loaded the store's state: handle queued messages, start heartbeats and failure detection. */
  loadedState(): void {
    this.ready();
    this.timer = setInterval(() => void this.tick(), this.opts.heartbeatMs);
    this.timer.unref();
    void this.tick();
  }

  /**
   * Graceful shutdown, after the sessions were handed back: stop receiving, route what is still in the node queue
   * (deliveries sent by nodes that did not know yet; the sessions are offline now, so it goes to the store or to
   * their new owner). The queue is not deleted: nodes that have not applied the hand-back yet may still send to
   * it, and SQS accepts and drops sends to a deleted queue for 60 s. The node's record is left expired instead, so
   * the others retire the queue like a dead node's (drained, kept for the grace period, deleted; decision 020).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.ticking;
    await this.flushBroadcasts();
    try {
      await this.communicator.stop();
      await this.communicator.drainQueue(this.nodeId, async (messages) => {
        for (const m of messages) if (m.type === "deliver" || m.type === "publish") this.handle(m, null);
        await this.broker.journal.barrier();
      });
    } catch (err) {
      this.events.onError("stop", err as Error);
    }
    const now = Date.now();
    await this.broker.store.registerNode({ ...this.record(now), heartbeatAt: now - this.opts.nodeTtlMs }, this.opts.nodeTtlMs);
  }

  /** Records where clients connect (known once the listeners are bound). */
  async setAddress(address: string): Promise<void> {
    this.opts.address = address;
    await this.broker.store.registerNode(this.record(Date.now()), this.opts.nodeTtlMs);
  }

  private record(now: number): NodeRecord {
    return { nodeId: this.nodeId, address: this.opts.address, queueUrl: this.queueUrl, startedAt: this.startedAt, heartbeatAt: now };
  }

  // --- forwarding --------------------------------------------------------------------------------------------

  /**
   * Sends a delivery to the node that owns the session. Collected per tick and sent as one node message per
   * message and node; the journal batch of this tick (and the acknowledgements waiting for it) completes only once
   * the node queue accepted them, or the store took them instead.
   */
  forward(clientId: string, node: string, msg: Message, qos: QoS, hops = 0): void {
    if (node === this.nodeId) {
      // The store says this node owns it, but it is not attached here (a claim in progress is held, not routed
      // here): keep it in the store.
      this.storeReroute({ dedupId: this.broker.journal.dedupId, clientId, msg, qos, hops: this.maxHops, deadNode: null });
      return;
    }
    let byMessage = this.pending.get(node);
    if (byMessage === undefined) {
      byMessage = new Map();
      this.pending.set(node, byMessage);
    }
    let targets = byMessage.get(msg);
    if (targets === undefined) {
      targets = [];
      byMessage.set(msg, targets);
      if (hops > 0) this.pendingHops.set(msg, hops);
      const dedupId = this.broker.journal.dedupId;
      if (dedupId !== null) this.pendingIds.set(msg, { root: dedupId, id: `${dedupId}>${this.derived++}` });
    }
    targets.push({ clientId, qos });
    if (this.settleTick === null) this.tickSent = new Promise<void>((resolve) => (this.settleTick = resolve));
    // Every batch that forwards this tick (the one being filled, one whose results are handed out) waits for it.
    this.broker.journal.trackOnce(this.tickSent as Promise<void>);
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
    this.pending = new Map();
    this.pendingHops = new Map();
    this.pendingIds = new Map();
    this.settleTick = null;
    const sends: Promise<void>[] = [];
    for (const [node, byMessage] of pending) {
      const messages: (NodeMessage & { type: "deliver" })[] = [];
      for (const [msg, targets] of byMessage) {
        const seq = ++this.messageSeq;
        const derived = ids.get(msg);
        const m: NodeMessage & { type: "deliver" } = {
          type: "deliver",
          id: derived?.id ?? `${this.nodeId}:${seq}`,
          origin: this.nodeId,
          seq,
          msg: toWire(msg),
          targets,
        };
        const h = hops.get(msg);
        if (h !== undefined) m.hops = h;
        if (derived !== undefined) m.root = derived.root;
        messages.push(m);
      }
      sends.push(this.sendDeliveries(node, messages));
    }
    void Promise.all(sends).then(() => settle?.());
  }

  private async sendDeliveries(node: string, messages: (NodeMessage & { type: "deliver" })[]): Promise<void> {
    try {
      await this.communicator.send(node, messages);
    } catch (err) {
      // The node's queue is gone (it shut down or died and was cleaned up) or SQS kept refusing: what was meant
      // for it goes to the store (QoS 0 is dropped), where the session finds it when it is next claimed. Under
      // the delivery's dedup id, as the receiving node would have enqueued it.
      this.events.onError(`send to node ${node}`, err as Error);
      const ops: StoreOp[] = [];
      for (const m of messages) {
        const msg: Message = { topic: m.msg.topic, payload: Buffer.from(m.msg.payload, "base64"), qos: m.msg.qos, retain: m.msg.retain };
        for (const t of m.targets) {
          if (t.qos === 0) continue;
          const op = this.enqueueOp(t.clientId, msg, t.qos, false);
          if (op.op === "enqueue") op.dedupId = m.root ?? m.id;
          ops.push(op);
        }
      }
      if (ops.length > 0) await this.applyWithRetry(ops, `store deliveries for node ${node}`);
    }
  }

  private enqueueOp(clientId: string, msg: Message, qos: QoS, unowned: boolean): StoreOp {
    const limits = this.broker.config.limits;
    const op: StoreOp = {
      op: "enqueue",
      clientId,
      entry: { msg, qos, retain: false, packetId: 0 },
      maxQueued: limits.maxQueued,
      dropPolicy: limits.queueDropPolicy,
    };
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

  private async receive(messages: NodeMessage[]): Promise<void> {
    await this.loaded;
    for (const m of messages) this.handle(m, null);
    // Deleting the messages from the queue is safe once what they caused is durable.
    await this.broker.journal.barrier();
  }

  private handle(m: NodeMessage, deadNode: string | null): void {
    // What this message causes is enqueued under its id: handled again after a crash, it is enqueued once.
    this.derived = 0;
    this.broker.journal.withDedupId(m.type === "deliver" ? (m.root ?? m.id) : m.id, () => this.handleMessage(m, deadNode));
  }

  private handleMessage(m: NodeMessage, deadNode: string | null): void {
    switch (m.type) {
      case "deliver": {
        const msg: Message = { topic: m.msg.topic, payload: Buffer.from(m.msg.payload, "base64"), qos: m.msg.qos, retain: m.msg.retain };
        for (const t of m.targets) this.routeIncoming(t.clientId, msg, t.qos, m.hops ?? 0, deadNode);
        return;
      }
      case "publish":
        m.messages.forEach((w, i) => {
          // One dedup id per message of the batch (they may reach the same session).
          this.broker.journal.dedupId = `${m.id}#${i}`;
          this.broker.publishExternal({ topic: w.topic, payload: Buffer.from(w.payload, "base64"), qos: w.qos, retain: w.retain });
        });
        return;
      case "kick":
        if (deadNode === null) this.broker.kickLocal(m.clientId, m.reason, m.epoch ?? null, m.discardSession);
        return;
      case "subscriptions":
        if (deadNode === null) this.broker.applyRemoteSubscriptions(m.clientId, m.add, m.remove, m.deliverRetained);
        return;
      case "session":
        if (deadNode === null) this.broker.applySessionBroadcast(m.clientId, m.node, m.epoch, m.clean, m.subscriptions, m.identity ?? null);
        return;
    }
  }

  /** A delivery from another node (or a dead node's queue) for a session that may or may not be attached here. */
  private routeIncoming(clientId: string, msg: Message, qos: QoS, hops: number, deadNode: string | null): void {
    const session = this.broker.sessions.get(clientId);
    if (session !== undefined && (session.link !== null || session.claimant !== null)) {
      // Authorized here, against the policy of the client attached here (docs/auth.md, "Exact authorization"); a
      // delivery held during a claim is checked when it is released.
      if (session.link !== null && !session.mayReceiveAny(msg.topic)) this.broker.onDeliveryDenied(session, msg);
      else session.deliver(msg, qos, false);
      return;
    }
    const owner = session?.owner ?? null;
    if (owner !== null && owner !== this.nodeId && owner !== deadNode && hops < this.maxHops) {
      this.forward(clientId, owner, msg, qos, hops + 1);
      return;
    }
    if (qos === 0) return; // not stored for a session that is not connected
    this.storeReroute({ dedupId: this.broker.journal.dedupId, clientId, msg, qos, hops, deadNode });
  }

  /** Queues in the store unless a node owns the session; the answer says which node (see onStoreResult). */
  private storeReroute(r: Reroute): void {
    if (r.qos === 0) return;
    const unowned = r.hops < this.maxHops;
    const op = this.enqueueOp(r.clientId, r.msg, r.qos, unowned);
    if (r.dedupId !== null && op.op === "enqueue") op.dedupId = r.dedupId;
    this.broker.journal.write(op, this, r);
  }

  onStoreResult(r: Reroute, result: StoreOpResult): void {
    if (result.ok || result.reason !== "owned") return;
    // A follow-up: the batch that routed it (and the acknowledgements waiting for it) waits for it (decision 020).
    this.broker.journal.followUp(() => this.reroute(r, result.node));
  }

  private reroute(r: Reroute, owner: string): void {
    if (owner === r.deadNode || owner === this.nodeId) {
      // Still owned by the dead node being drained (it is released after the drain) or by this node without a
      // connection: store it regardless, in order; the session finds it when it is next claimed.
      this.storeReroute({ ...r, hops: this.maxHops });
      return;
    }
    this.forward(r.clientId, owner, r.msg, r.qos, r.hops + 1);
  }

  // --- session broadcasts and take-over ------------------------------------------------------------------------

  /** Tells every other live node where a session lives now and what it is subscribed to. */
  sessionChanged(
    clientId: string,
    node: string | null,
    epoch: number,
    clean: boolean,
    subscriptions: ReadonlyMap<string, QoS>,
    identity: string | null,
  ): void {
    this.broadcasts.set(clientId, {
      type: "session",
      id: `${this.nodeId}:${++this.messageSeq}`,
      clientId,
      node,
      epoch,
      clean,
      subscriptions: Object.fromEntries(subscriptions),
      identity,
    });
    if (!this.broadcastScheduled) {
      this.broadcastScheduled = true;
      setImmediate(() => void this.flushBroadcasts());
    }
  }

  /**
   * Sends this tick's broadcasts to every live node, read from the store after the writes they describe: a node
   * that registers later loads those writes itself (see start()).
   */
  private async flushBroadcasts(): Promise<void> {
    this.broadcastScheduled = false;
    if (this.broadcasts.size === 0) return;
    const messages = [...this.broadcasts.values()];
    this.broadcasts = new Map();
    let nodes: NodeRecord[];
    try {
      nodes = await this.broker.store.listNodes(Date.now());
    } catch (err) {
      this.events.onError("listNodes", err as Error);
      return;
    }
    await Promise.all(
      nodes
        .filter((n) => n.nodeId !== this.nodeId)
        .map((n) => this.communicator.send(n.nodeId, messages).catch((err: unknown) => this.events.onError(`broadcast to ${n.nodeId}`, err as Error))),
    );
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
    return `${this.nodeId}:${++this.messageSeq}`;
  }

  /** Closes the client's old connection on the node that held it (take-over); `epoch` is the new claim's. */
  takeover(node: string, clientId: string, epoch: number): void {
    const kick: NodeMessage = { type: "kick", id: `${this.nodeId}:${++this.messageSeq}`, clientId, reason: "takeover", discardSession: false, epoch };
    this.communicator.send(node, [kick]).catch((err: unknown) => {
      // A node without a queue is gone: its connection is gone too.
      if (!(err instanceof NodeUnreachable)) this.events.onError(`take-over kick to ${node}`, err as Error);
    });
  }

  // --- heartbeats and failure handling ---------------------------------------------------------------------------

  private tick(): Promise<void> {
    if (this.ticking !== null || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.beat()
      .catch((err: unknown) => this.events.onError("heartbeat", err as Error))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  /** The stats snapshot for a heartbeat; a failing sampler costs the snapshot, never the heartbeat. */
  private statsFor(now: number): NodeStats | undefined {
    try {
      return this.events.sampleStats?.(now);
    } catch (err) {
      this.events.onError("stats", err as Error);
      return undefined;
    }
  }

  private async beat(): Promise<void> {
    const store = this.broker.store;
    const now = Date.now();
    if (!(await store.heartbeat(this.nodeId, now, this.opts.nodeTtlMs, this.statsFor(now)))) {
      // Our record expired (the store was unreachable for longer than the TTL): other nodes may have released our
      // sessions. Register again and close our connections so their clients reconnect and claim afresh.
      this.events.onError("heartbeat", new Error(`node ${this.nodeId} was considered dead by the cluster; registering again and closing its connections`));
      await store.registerNode(this.record(now), this.opts.nodeTtlMs);
      this.broker.closeConnections("server-shutdown");
    }
    const resyncMs = this.opts.resyncMs ?? 0;
    if (resyncMs > 0 && now - this.lastResync >= resyncMs) {
      this.lastResync = now;
      await this.resync();
    }
    const live = await store.listNodes(now);
    const liveIds = new Set(live.map((n) => n.nodeId).filter((id) => id !== this.nodeId));
    for (const id of this.live) if (!liveIds.has(id)) this.broker.forgetOwner(id);
    this.live = liveIds;
    const expired = (await store.expiredNodes(now)).filter((n) => n.nodeId !== this.nodeId);
    for (const n of expired) this.broker.forgetOwner(n.nodeId);
    // One node cleans up after the dead: the live node with the smallest id (no lock needed; if it dies too, the
    // next one takes over at its next heartbeat).
    const leader = live[0]?.nodeId;
    // A node that came back (registered again) is no longer being retired.
    for (const id of this.retiring.keys()) if (!expired.some((n) => n.nodeId === id)) this.retiring.delete(id);
    if (leader !== this.nodeId) return;
    for (const dead of expired) {
      if (this.stopped) return;
      await this.cleanUp(dead.nodeId, live);
    }
  }

  /** Reads every session and subscription from the store and reconciles this node's routing state with them. */
  private async resync(): Promise<void> {
    const store = this.broker.store;
    const readSince = Date.now();
    const records: SessionRecord[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<SessionRecord> = await store.listSessions({ cursor, limit: 1000 });
      records.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== null);
    const subscriptions = await store.allSubscriptions();
    this.broker.reconcile(records, subscriptions, readSince);
  }

  /**
   * A dead node's cleanup, one step per heartbeat: deliveries left in its queue go to the store first (in order,
   * while the store still names it the owner), then its sessions are released (offline; clean ones deleted). Its
   * queue is then kept, and drained at every heartbeat, until no sender can still write to it unfenced: every live
   * node has beaten since the release (so stopped routing there) and `deadQueueGraceMs` passed (REST senders that
   * read the owner before the release, send retries, messages the dead node had received reappearing after the
   * visibility timeout). Only then is it drained a last time, deleted and the record removed: SQS accepts (and
   * drops) sends to a deleted queue for 60 s, so deleting earlier would lose what late senders wrote (decision 020).
   */
  private async cleanUp(dead: string, live: readonly NodeRecord[]): Promise<void> {
    const drained = await this.drain(dead);
    if (drained === null) return;
    let retiring = this.retiring.get(dead);
    if (retiring === undefined) {
      retiring = { releasedAt: 0, sessions: 0, drained: 0 };
      this.retiring.set(dead, retiring);
    }
    retiring.drained += drained;
    if (retiring.releasedAt === 0) {
      retiring.sessions += await this.releaseSessionsOf(dead);
      retiring.releasedAt = Date.now();
      return;
    }
    const since = retiring.releasedAt + this.opts.heartbeatMs;
    if (Date.now() < retiring.releasedAt + (this.opts.deadQueueGraceMs ?? DEAD_QUEUE_GRACE_MS)) return;
    if (live.some((n) => n.heartbeatAt < since)) return;
    const again = await this.drain(dead);
    if (again === null) return;
    retiring.drained += again;
    await this.communicator.deleteNodeQueue(dead);
    await this.broker.store.removeNode(dead);
    this.retiring.delete(dead);
    this.events.onNodeRemoved(dead, retiring.sessions, retiring.drained);
  }

  /** Releases the sessions a dead node owned (offline; clean ones deleted) and tells the cluster. */
  private async releaseSessionsOf(dead: string): Promise<number> {
    const store = this.broker.store;
    let released = 0;
    for (const clientId of await store.sessionsOwnedBy(dead)) {
      const snapshot = await store.getSession(clientId);
      if (snapshot === null || snapshot.node !== dead) continue;
      if (await store.releaseSession(clientId, snapshot.epoch, this.broker.now())) {
        released++;
        this.events.onSessionLost(clientId, snapshot.username);
        this.sessionChanged(clientId, null, snapshot.epoch, snapshot.clean, new Map(Object.entries(snapshot.subscriptions)), snapshot.identity);
        this.broker.applySessionBroadcast(clientId, null, snapshot.epoch, snapshot.clean, snapshot.subscriptions, snapshot.identity);
      }
    }
    return released;
  }

  /** Drains a dead node's queue into this node's routing. Null while messages are still in flight there. */
  private async drain(dead: string): Promise<number | null> {
    try {
      const result = await this.communicator.drainQueue(dead, async (messages) => {
        for (const m of messages) this.handle(m, dead);
        await this.broker.journal.barrier();
      });
      return result.remaining === 0 ? result.drained : null;
    } catch (err) {
      if (err instanceof NodeUnreachable) return 0; // no queue left: nothing to drain
      throw err;
    }
  }
}

function flushForwards(cluster: Cluster): void {
  cluster.flushForwards();
}

function toWire(msg: Message): WireMessage {
  return { topic: msg.topic, payload: msg.payload.toString("base64"), qos: msg.qos, retain: msg.retain };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
