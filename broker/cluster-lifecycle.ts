import type { Communicator } from "../core/communicator/types.js";
import type { NodeRecord } from "../core/store/types.js";
import type { Broker } from "./broker.js";
import type { NodeInbox } from "./cluster-inbox.js";
import { LEAVING, type ClusterMaintenance } from "./cluster-maintenance.js";
import type { ClusterEvents, ClusterOptions } from "./cluster-types.js";
import type { ForwardSender } from "./forward-sender.js";
import type { MoveSettler } from "./move-settle.js";
import { NodeMessageIds } from "./node-message-ids.js";
import type { RouteSync } from "./routes.js";
import type { Session } from "./session.js";

/**
 * A cluster node's registration and lifecycle: its node queue and its node record (where its clients connect, its
 * queue, its incarnation), start, graceful stop, kill, and the restart after a lost lease. The parts it starts and
 * stops are `Cluster`'s (broker/cluster.ts), which wires them (abstract here).
 *
 * The base of `Cluster`, not a part it holds: one object as before, the one the rest of the broker talks to.
 */
export abstract class ClusterLifecycle {
  readonly nodeId: string;
  /** Node message ids: this node's incarnation and its counters (decision 036). */
  protected readonly ids: NodeMessageIds;
  private killed = false;
  private startedAt = 0;
  private queueUrl: string | null = null;
  /** Where this node's clients connect, in its node record: `opts.address` until the listeners are bound (setAddress). */
  private address: string;

  abstract readonly routes: RouteSync;
  protected abstract readonly settler: MoveSettler;
  protected abstract readonly sender: ForwardSender;
  protected abstract readonly inbox: NodeInbox<Session>;
  protected abstract readonly maintenance: ClusterMaintenance;
  /** Sends the kicks collected for sessions gone (Cluster.sessionGone). */
  protected abstract flushGone(): Promise<void>;

  constructor(
    protected readonly broker: Broker,
    protected readonly communicator: Communicator,
    protected readonly opts: ClusterOptions,
    protected readonly events: ClusterEvents,
  ) {
    this.nodeId = opts.nodeId;
    this.address = opts.address;
    this.ids = new NodeMessageIds(opts.nodeId, Date.now());
  }

  /**
   * Creates the node queue and registers the node. Messages that arrive before `loadedState()` wait in the queue:
   * the broker loads the store's state after registering, so nothing a node writes and then broadcasts is missed.
   */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.ids.incarnation(this.startedAt);
    this.queueUrl = await this.communicator.start(this.nodeId, (messages, arrivals) => this.inbox.receive(messages, arrivals));
    await this.broker.store.registerNode(this.record(this.startedAt), this.opts.nodeTtlMs);
  }

  /**
   * The broker loaded the sessions in its custody: its routes are made to match them and the other nodes' routes
   * are loaded; then queued messages are handled, heartbeats and failure detection start.
   */
  async loadedState(): Promise<void> {
    await this.routes.start();
    this.inbox.open();
    this.maintenance.start();
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
    this.sender.stop();
    this.settler.releaseAll();
    await this.maintenance.stop();
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
        for (const m of messages) if (m.type === "deliver" || m.type === "publish") this.inbox.handle(m, null);
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
    this.sender.stop();
    await this.maintenance.stop();
    await this.routes.stop();
    await this.communicator.stop().catch(() => undefined);
  }

  /** Records where clients connect (known once the listeners are bound). */
  async setAddress(address: string): Promise<void> {
    this.address = address;
    await this.broker.store.registerNode(this.record(Date.now()), this.opts.nodeTtlMs);
  }

  private record(now: number): NodeRecord {
    return { nodeId: this.nodeId, address: this.address, queueUrl: this.queueUrl, linkAddress: this.opts.linkAddress, startedAt: this.startedAt, heartbeatAt: now };
  }

  /** The lease was lost: received node messages not yet handled go back to the queue (Communicator.handBack). */
  handBackReceived(): void {
    this.communicator.handBack?.();
  }

  /**
   * The lease was lost (broker/lease.ts) and the connections closed: re-create the node queue (the cleanup of a
   * survivor may have deleted it), then `register()` a new incarnation.
   */
  async restartQueue(): Promise<void> {
    await this.communicator.stop();
    this.queueUrl = await this.communicator.start(this.nodeId, (messages, arrivals) => this.inbox.receive(messages, arrivals));
  }

  /** Registers this node again as a new incarnation (a new `startedAt`). */
  async register(): Promise<void> {
    this.startedAt = Date.now();
    this.maintenance.judgeFrom(this.startedAt + this.opts.nodeTtlMs);
    this.ids.incarnation(this.startedAt);
    await this.broker.store.registerNode(this.record(this.startedAt), this.opts.nodeTtlMs);
  }

  /** This node's incarnation: its registration's `startedAt`. */
  get incarnation(): number {
    return this.startedAt;
  }
}

/** How long a leaving node keeps receiving after its routes are gone (forwards in flight land meanwhile). */
const LEAVE_GRACE_MS = 500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
