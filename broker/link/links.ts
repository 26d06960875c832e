import type { Communicator, DrainResult, NodeMessage, NodeMessageHandler } from "../../core/communicator/types.js";
import type { NodeRecord } from "../../core/store/types.js";
import { LinkServer } from "./server.js";
import { LinkTransport, type NodeTransport } from "./transport.js";
import { LinkCounters } from "./types.js";

/**
 * A node's fast lane (docs/cluster.md, "Fast lane"): its link listener, its outgoing links and the dedup between
 * the two paths a forward can take. Wired at the composition root (broker/server.ts): `wrap()` gives the cluster
 * a communicator whose handler is fed by both the node queue and the links, and `transport` is where the cluster
 * sends its forwards.
 */

export interface NodeLinksOptions {
  nodeId: string;
  secret: string;
  /** Bind host and port of the listener (port 0: any free one). */
  host: string;
  port: number;
  /** Host other nodes dial. */
  advertiseHost: string;
  /** Port other nodes dial; default the bound one (another behind a port mapping or a proxy). */
  advertisePort?: number;
  ackTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** After a forward went by SQS, the link to that node stays unused this long (order). Default: ackTimeoutMs. */
  sqsHoldMs?: number;
  maxFrameBytes?: number;
  maxPendingHandshakes?: number;
  maxInflight?: number;
  maxUnackedBytes?: number;
  maxUnackedBatches?: number;
  /** Deliver ids remembered for dedup across the two paths, and for how long. */
  dedupEntries?: number;
  dedupMs?: number;
  onError(operation: string, err: Error): void;
}

export class NodeLinks {
  readonly counters = new LinkCounters();
  private readonly server: LinkServer;
  private transportImpl: LinkTransport | null = null;
  private readonly seen: RecentIds;
  /** Forwards being handled (by either path): a copy arriving by the other path meanwhile waits for the outcome. */
  private readonly running = new Map<string, Promise<void>>();
  private boundAddress: string | null = null;
  /** The port bound first: after `close()`, the links listen on it again (it is in the node's record). */
  private boundPort: number | null = null;
  private closed = false;

  constructor(private readonly opts: NodeLinksOptions) {
    this.server = new LinkServer({
      nodeId: opts.nodeId,
      secret: opts.secret,
      host: opts.host,
      port: opts.port,
      maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 5000,
      maxPendingHandshakes: opts.maxPendingHandshakes ?? 64,
      maxInflight: opts.maxInflight ?? 64,
      counters: this.counters,
      onError: opts.onError,
    });
    this.seen = new RecentIds(opts.dedupEntries ?? 100_000, opts.dedupMs ?? 60_000);
  }

  /** Binds the listener; returns the address other nodes dial (host:port). */
  async listen(): Promise<string> {
    const bound = await this.server.listen();
    this.boundPort = bound.port;
    const host = this.opts.advertiseHost.includes(":") ? `[${this.opts.advertiseHost}]` : this.opts.advertiseHost;
    this.boundAddress = `${host}:${this.opts.advertisePort ?? bound.port}`;
    return this.boundAddress;
  }

  get address(): string | null {
    return this.boundAddress;
  }

  /** The port the listener is bound to (the advertised one may differ, see advertisePort). */
  get listenPort(): number | null {
    return this.server.port;
  }

  /** Inbound link connections (authenticated or in their handshake). */
  get inboundConnections(): number {
    return this.server.connections;
  }

  /**
   * The communicator the cluster uses: the node queue's, with its handler also fed by the links, and stopping
   * the links first. `listNodes` gives the link addresses of the other nodes.
   */
  wrap(inner: Communicator, listNodes: (now: number) => Promise<NodeRecord[]>): { communicator: Communicator; transport: NodeTransport } {
    const transport = new LinkTransport({
      nodeId: this.opts.nodeId,
      secret: this.opts.secret,
      fallback: inner,
      lookup: async () => {
        const addresses = new Map<string, string>();
        for (const n of await listNodes(Date.now())) if (typeof n.linkAddress === "string" && n.nodeId !== this.opts.nodeId) addresses.set(n.nodeId, n.linkAddress);
        return addresses;
      },
      ackTimeoutMs: this.opts.ackTimeoutMs ?? 1000,
      sqsHoldMs: this.opts.sqsHoldMs ?? this.opts.ackTimeoutMs ?? 1000,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? 5000,
      maxFrameBytes: this.opts.maxFrameBytes ?? DEFAULT_MAX_FRAME,
      maxUnackedBytes: this.opts.maxUnackedBytes ?? 16 * 1024 * 1024,
      maxUnackedBatches: this.opts.maxUnackedBatches ?? 1024,
      counters: this.counters,
      onError: this.opts.onError,
    });
    this.transportImpl = transport;
    const communicator: Communicator = {
      kind: inner.kind,
      start: async (nodeId: string, handler: NodeMessageHandler) => {
        this.server.setHandler(this.once(handler));
        await this.reopen();
        return inner.start(nodeId, this.once(handler));
      },
      send: (nodeId, messages) => inner.send(nodeId, messages),
      stop: async (stopOpts) => {
        await this.close();
        await inner.stop(stopOpts);
      },
      drainQueue: (nodeId: string, handler: NodeMessageHandler): Promise<DrainResult> => inner.drainQueue(nodeId, handler),
      deleteNodeQueue: (nodeId) => inner.deleteNodeQueue(nodeId),
    };
    return { communicator, transport };
  }

  /** Stops the listener (waiting for the batches it is handling) and cuts the outgoing links. Idempotent. */
  async close(): Promise<void> {
    this.closed = this.boundPort !== null;
    this.transportImpl?.close();
    await this.server.close();
  }

  /**
   * After `close()` (the node queue stopped: a lost lease, decision 019), the communicator starts again when the
   * node registers again: the links listen on the same port (the address in the node's record) and send again. If
   * the port was taken meanwhile, forwards to and from this node keep to the node queues (reported).
   */
  private async reopen(): Promise<void> {
    if (!this.closed || this.boundPort === null) return;
    this.closed = false;
    try {
      await this.server.listen(this.boundPort);
      this.transportImpl?.reopen();
    } catch (err) {
      this.opts.onError("link listen again", err as Error);
    }
  }

  /**
   * A handler that skips forwards the other path already handled (a batch resent by SQS after its ack was lost or
   * late), and remembers those it handled once the handler resolved. A forward the other path is handling right
   * now is waited for first: skipped if that succeeds, handled here if it failed.
   */
  private once(handler: NodeMessageHandler): NodeMessageHandler {
    return async (messages, arrivals) => {
      for (;;) {
        const waits = new Set<Promise<void>>();
        for (const m of messages) {
          const running = m.type === "deliver" ? this.running.get(deliverKey(m)) : undefined;
          if (running !== undefined) waits.add(running);
        }
        if (waits.size === 0) break;
        await Promise.allSettled(waits);
      }
      const fresh = messages.filter((m) => m.type !== "deliver" || !this.seen.has(deliverKey(m)));
      this.counters.duplicates += messages.length - fresh.length;
      if (fresh.length === 0) return;
      const keys: string[] = [];
      for (const m of fresh) if (m.type === "deliver") keys.push(deliverKey(m));
      const run = handler(fresh, arrivals);
      for (const k of keys) this.running.set(k, run);
      try {
        await run;
        for (const k of keys) this.seen.add(k);
      } finally {
        for (const k of keys) if (this.running.get(k) === run) this.running.delete(k);
      }
    };
  }
}

const DEFAULT_MAX_FRAME = 4 * 1024 * 1024;

/**
 * What identifies a forward across the two paths: its id with its topic and payload size, so a sender that
 * restarted under the same node id (its message counter starts again) is not mistaken for a repeat.
 */
function deliverKey(m: NodeMessage & { type: "deliver" }): string {
  return `${m.id}\n${m.msg.topic}\n${m.msg.payload.length}`;
}

/** Ids seen recently: at most `max`, each for at most `ttlMs` (oldest forgotten first). */
export class RecentIds {
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  has(id: string): boolean {
    const at = this.ids.get(id);
    return at !== undefined && Date.now() - at < this.ttlMs;
  }

  add(id: string): void {
    const now = Date.now();
    this.ids.delete(id);
    this.ids.set(id, now);
    for (const [old, at] of this.ids) {
      if (this.ids.size <= this.max && now - at < this.ttlMs) break;
      this.ids.delete(old);
    }
  }

  get size(): number {
    return this.ids.size;
  }
}
