/**
 * A single node's entry in the store's node list (no cluster): registered at start, refreshed with its stats
 * snapshot every heartbeat, removed at close, so GET /v1/nodes and /v1/stats show the node itself. A cluster node
 * does the same through broker/cluster.ts, which also detects dead nodes (broker/cluster-maintenance.ts).
 */
import type { Store } from "../core/store/types.js";
import type { NodeStatsSampler } from "./node-stats.js";

export interface PresenceOptions {
  nodeId: string;
  address: string;
  heartbeatMs: number;
  nodeTtlMs: number;
  onError: (err: Error) => void;
}

export class NodePresence {
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private readonly startedAt = Date.now();

  constructor(
    private readonly store: Store,
    private readonly sampler: NodeStatsSampler,
    private readonly opts: PresenceOptions,
  ) {}

  /** Registers the node; the heartbeats start first, so a failed registration is retried by the next one. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.beat(), this.opts.heartbeatMs);
    this.timer.unref();
    await this.register(Date.now());
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    await this.store.removeNode(this.opts.nodeId).catch((err: unknown) => this.opts.onError(err as Error));
  }

  private register(now: number): Promise<void> {
    const { nodeId, address, nodeTtlMs } = this.opts;
    return this.store.registerNode({ nodeId, address, queueUrl: null, startedAt: this.startedAt, heartbeatAt: now, stats: this.sampler.sample(now) }, nodeTtlMs);
  }

  private beat(): Promise<void> {
    this.beating ??= (async () => {
      const now = Date.now();
      // Expired (the store was unreachable for longer than the TTL): register again.
      if (!(await this.store.heartbeat(this.opts.nodeId, now, this.opts.nodeTtlMs, this.sampler.sample(now)))) await this.register(now);
    })()
      .catch((err: unknown) => this.opts.onError(err as Error))
      .finally(() => {
        this.beating = null;
      });
    return this.beating;
  }
}
