import type { Store, StoreOp, StoreOpResult } from "../../core/store/types.js";
import type { Prng } from "./prng.js";

/**
 * What one simulated node's I/O suffers. Every store and SQS call of the node goes through `call`:
 * - latency (a random delay before the call reaches the service, in call order per service, like one connection);
 * - a paused node (SIGSTOP): its calls and their answers wait until it resumes;
 * - a crashed node: its calls never reach the service and answers never come back (the process is gone; what it
 *   did before stays done).
 * Store errors and outages are decided by the StoreFaults shared by all nodes (the store is one service).
 */
export class NodeFaults {
  crashed = false;
  /** Observer of this node's store calls (targeted faults: crash right after a given write). */
  onStoreCall: ((method: string, args: unknown[], phase: "before" | "after") => void) | null = null;
  private paused: Promise<void> | null = null;
  private resume: (() => void) | null = null;
  private readyAt = new Map<string, number>();

  constructor(
    private readonly prng: Prng,
    /** Largest latency per call, by service ("store", "sqs"). */
    private readonly maxLatencyMs: Readonly<Record<string, number>>,
  ) {}

  /** Until then the node cannot reach the store nor SQS (its clients still reach it): calls fail. */
  private cutUntil = 0;

  partition(ms: number): void {
    this.cutUntil = Math.max(this.cutUntil, Date.now() + ms);
  }

  heal(): void {
    this.cutUntil = 0;
  }

  get isPaused(): boolean {
    return this.paused !== null;
  }

  pause(): void {
    if (this.paused !== null) return;
    this.paused = new Promise((resolve) => (this.resume = resolve));
  }

  unpause(): void {
    const resume = this.resume;
    this.paused = null;
    this.resume = null;
    resume?.();
  }

  crash(): void {
    this.crashed = true;
    this.unpause();
  }

  /** Waits while paused; never returns once crashed. */
  async gate(): Promise<void> {
    while (this.paused !== null) await this.paused;
    if (this.crashed) await new Promise(() => {});
  }

  async call<T>(service: string, fn: () => Promise<T> | T): Promise<T> {
    await this.gate();
    const now = Date.now();
    const at = Math.max(this.readyAt.get(service) ?? 0, now + this.prng.int(0, this.maxLatencyMs[service] ?? 0));
    this.readyAt.set(service, at);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
    await this.gate();
    if (Date.now() < this.cutUntil) throw Object.assign(new Error(`${service} unreachable from this node (simulated partition)`), { name: "NetworkingError" });
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      await this.gate();
      throw err;
    }
    await this.gate();
    return result;
  }
}

export interface StoreFaultOptions {
  /** Probability that a call fails before it reaches the store. */
  errorRate: number;
  /** Probability that a write call takes effect but its reply is lost (the caller sees an error). */
  lostReplyRate: number;
}

/** The store as a service: outages (every call fails) and random errors, for all nodes alike. */
export class StoreFaults {
  private downUntil = 0;
  calls = 0;
  errors = 0;

  constructor(
    private readonly prng: Prng,
    readonly opts: StoreFaultOptions,
  ) {}

  private stalled: Promise<void> | null = null;

  /** The store stops answering for `ms` (a Redis fork, a failover): calls wait, then complete. */
  stall(ms: number): void {
    if (this.stalled !== null) return;
    this.stalled = new Promise((resolve) =>
      setTimeout(() => {
        this.stalled = null;
        resolve();
      }, ms),
    );
  }

  /** Resolves when the store answers again. */
  async waitStall(): Promise<void> {
    while (this.stalled !== null) await this.stalled;
  }

  outage(ms: number): void {
    this.downUntil = Math.max(this.downUntil, Date.now() + ms);
  }

  heal(): void {
    this.downUntil = 0;
  }

  /** Before a call reaches the store: throws when it does not. */
  before(method: string): void {
    this.calls++;
    if (Date.now() < this.downUntil) {
      this.errors++;
      throw new Error(`store unreachable (simulated outage) in ${method}`);
    }
    if (this.opts.errorRate > 0 && this.prng.chance(this.opts.errorRate)) {
      this.errors++;
      throw new Error(`store error (simulated) in ${method}`);
    }
  }

  /** After a call took effect: throws when its reply is lost. */
  after(method: string): void {
    if (this.opts.lostReplyRate > 0 && WRITES.has(method) && this.prng.chance(this.opts.lostReplyRate)) {
      this.errors++;
      throw new Error(`store reply lost (simulated) in ${method}`);
    }
  }
}

const WRITES = new Set(["apply", "claimSession", "releaseSession", "updateSubscriptions", "heartbeat", "registerNode"]);

/** One node's view of the shared store: every method call goes through the node's and the store's faults. */
export function faultyStore(store: Store, node: NodeFaults, faults: StoreFaults): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string" || prop === "close") return value;
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) =>
        node.call("store", async () => {
          await faults.waitStall();
          faults.before(prop);
          node.onStoreCall?.(prop, args, "before");
          const result = await method.apply(target, args);
          node.onStoreCall?.(prop, args, "after");
          if (process.env.SIM_DEBUG !== undefined && prop === "apply") traceFenced(args[0] as StoreOp[], result as StoreOpResult[]);
          if (process.env.SIM_DEBUG !== undefined && TRACED.has(prop)) console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} store ${prop}(${args.map((a) => JSON.stringify(a)?.slice(0, 80)).join(", ")}) -> ${JSON.stringify(result)?.slice(0, 80)}`);
          faults.after(prop);
          return result;
        });
    },
  });
}

/** SIM_DEBUG: store calls printed with their answers (membership and custody changes). */
const TRACED = new Set(["adoptSession", "registerNode", "removeNode", "claimSession", "releaseSession", "clearRoutes", "updateRoutes"]);

/** SIM_DEBUG: prints enqueues the store refused as fenced (the take-over window of docs/decisions/023). */
function traceFenced(ops: StoreOp[], results: StoreOpResult[]): void {
  results.forEach((r, i) => {
    const op = ops[i];
    if (op?.op === "enqueue" && op.clientId === process.env.SIM_TRACE) {
      console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} enqueue for ${op.clientId}: ${op.entry.msg.payload.toString()} dedup=${op.dedupId ?? "-"} epoch=${op.epoch ?? "-"} pid=${op.entry.packetId} -> ${JSON.stringify(r)}`);
    }
    if ((op?.op === "inbound2.add" || op?.op === "inbound2.delete") && op.clientId === process.env.SIM_TRACE) {
      console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} ${op.op} for ${op.clientId}: epoch=${op.epoch} ${JSON.stringify(op)} -> ${JSON.stringify(r)}`);
    }
    if (!r.ok && r.reason === "fenced" && op?.op === "enqueue") {
      console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} fenced enqueue for ${op.clientId}: ${op.entry.msg.payload.toString()}`);
    }
  });
}
