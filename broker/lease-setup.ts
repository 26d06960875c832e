import type { MqgateConfig } from "../core/config/types.js";
import type { NodeRecord, Store } from "../core/store/types.js";
import type { Broker } from "./broker.js";
import type { Cluster } from "./cluster.js";
import { Lease } from "./lease.js";
import type { LeaseFigures } from "./metrics-collectors.js";
import type { NodeStatsSampler } from "./node-stats.js";
import { WillReaper } from "./reap-wills.js";
import { StoreWills } from "./wills.js";

/** Longest wait between two tries of a custody reload after registering again. */
const RELOAD_RETRY_MAX_MS = 2000;

/**
 * Wires a cluster node's lease and its wills in the store (decision 019) into a broker, at the composition root
 * (broker/server.ts): the broker keeps wills in the store and accepts connections only while the lease holds; a
 * lost lease closes every connection (their wills left to the survivors) and registers the node again.
 */
export class ClusterLease {
  readonly lease: Lease;
  readonly wills: StoreWills;
  /** Publishes the wills of a dead node or of this node's own earlier incarnations (delayed ones when due). */
  private readonly reaper: WillReaper;
  private reaping: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly broker: Broker,
    private readonly cluster: Cluster,
    config: MqgateConfig,
    /** Renewals go here: in a deployment a store client of their own (broker/cluster-setup.ts). */
    leaseStore: Store,
    sampler: NodeStatsSampler,
  ) {
    const onError = (operation: string, err: Error) => broker.emit("cluster.error", operation, err);
    this.wills = new StoreWills(broker.store, config.nodeId, () => cluster.incarnation, onError);
    this.reaper = new WillReaper(broker, this.wills);
    const ttlMs = config.cluster.nodeTtlMs;
    this.lease = new Lease(
      { nodeId: config.nodeId, heartbeatMs: config.cluster.heartbeatMs, ttlMs, marginMs: config.cluster.leaseMarginMs || Math.floor(ttlMs / 10) },
      {
        store: leaseStore,
        sampleStats: (now) => sampler.sample(now),
        lost: () => {
          this.wills.abandon(true);
          // What this node received and still handles is no longer its to finish: it goes back to the queue now,
          // not after the visibility timeout (decision 046).
          cluster.handBackReceived();
          broker.closeConnections("server-shutdown");
          // Every will waiting out its delay here is in the store, for a survivor or the next incarnation (decision 028).
          broker.delayedWills.forgetAll();
        },
        rejoin: async () => {
          await cluster.restartQueue();
          const registeredAt = Lease.now();
          await cluster.register();
          return registeredAt;
        },
        rejoined: async () => {
          this.wills.abandon(false);
          // Survivors may have adopted sessions of this node's custody meanwhile (and dropped its routes): reload
          // what is still ours, pass on what its queue still holds for the others (Broker.reloadCustody).
          await cluster.holdingMessages(() => this.reloadCustody());
          await cluster.routes.reconcile();
          await this.reapOwn();
        },
        onError,
      },
    );
    broker.useWills(this.wills, () => this.lease.valid);
  }

  /** The node registered at monotonic time `registeredAt` (`Lease.now()` read before `cluster.start()`). */
  start(registeredAt: number): void {
    this.lease.start(registeredAt);
    // Wills a previous process of this node id left behind (it crashed and this one replaced its record).
    this.reaping = this.reapOwn().catch((err: unknown) => this.broker.emit("cluster.error", "wills", err as Error));
  }

  async stop(): Promise<void> {
    this.lease.stop();
    await this.reaping;
  }

  /** A dead node's wills, taken and published (Cluster's failure detection, before its cleanup). */
  async nodeExpired(node: NodeRecord): Promise<void> {
    await this.reaper.reap(node.nodeId, node.startedAt);
  }

  /** For metrics (mqgate_lease_*, mqgate_wills_*). */
  figures(): LeaseFigures {
    return { valid: this.lease.valid, losses: this.lease.losses, willsStored: this.wills.size, willsReaped: this.reaper.published };
  }

  /**
   * Reloads the sessions still in this node's custody (received node messages wait meanwhile), tried again until
   * it succeeds or the lease is lost again (the next registration reloads). A store error in the middle (a lost
   * reply, the node cut off again) left the reload half done: match forwards handled then found none of the
   * sessions not reloaded yet (decision 036, seed 197).
   */
  private async reloadCustody(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.broker.reloadCustody();
        return;
      } catch (err) {
        this.broker.emit("cluster.error", "reload custody", err as Error);
        if (!this.lease.valid) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(RELOAD_RETRY_MAX_MS, 50 * 2 ** Math.min(attempt, 10))).unref());
      }
    }
  }

  /** The wills of this node's earlier incarnations. */
  private async reapOwn(): Promise<void> {
    await this.reaper.reap(this.cluster.nodeId, this.cluster.incarnation - 1);
  }
}
