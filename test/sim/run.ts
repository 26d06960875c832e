import type { QoS } from "mqtt-packet";
import { loadConfig } from "../../core/config/index.js";
import type { MqgateConfig } from "../../core/config/types.js";
import { MemoryStore } from "../../core/store/memory.js";
import { check, type Violation } from "./checker.js";
import type { FaultFlags } from "./flags.js";
import { SimClient } from "./client.js";
import { StoreFaults } from "./faults.js";
import { History } from "./history.js";
import { SimNode } from "./node.js";
import { ServingMonitor } from "./serving.js";
import { Prng } from "./prng.js";
import { SqsModel } from "./sqs-model.js";
import { shapes, SqsTrail } from "./trail.js";
import { VirtualTime } from "./virtual-time.js";
import { lateDrain } from "./window.js";

/**
 * One seeded simulation run (docs/decisions/023-simulation.md): nodes, clients and faults driven by one PRNG
 * under virtual time, then a settle phase without faults, then the checker.
 */

export interface SimOptions {
  seed: number;
  faults: FaultFlags;
  nodes?: number;
  subscribers?: number;
  publishers?: number;
  /** Virtual ms of traffic with faults. */
  chaosMs?: number;
  /** Virtual ms at most for the system to settle after the faults stop. */
  settleMs?: number;
  /** Test hook: called with the history before the check (a test drops a receipt to see the checker catch it). */
  tamper?: (history: History) => void;
  /** More checks (the wills hook: slice "lease" adds stored wills and checks them here). */
  extraChecks?: ((history: History) => Violation[])[];
  /** Test hook: the SQS model accepts and then drops the n-th node message of type "deliver". */
  sabotage?: { dropDelivery: number };
  /** Sort the order violations into shapes (`SimResult.shapes`, decision 038). */
  classify?: boolean;
  /**
   * Judge order violations against decision 038's window (test/sim/window.ts) when a kind that stops nodes is on.
   * Default true; false for a regression test whose order must hold without it.
   */
  judgeWindow?: boolean;
}

export interface SimResult {
  seed: number;
  violations: Violation[];
  published: number;
  acknowledged: number;
  receipts: number;
  /** Times two nodes held a connection for one client id at once (each within the limit, or a violation). */
  overlaps: number;
  virtualMs: number;
  events: number;
  log: string[];
  /** With `classify`: the violations' shapes and their counts (test/sim/trail.ts). */
  shapes?: Map<string, number>;
  notes?: string[];
  /**
   * Order violations that are decision 038's window (test/sim/window.ts), judged only when a kind that stops nodes
   * is on: not in `violations`, one line each.
   */
  window: string[];
}

const HEARTBEAT_MS = 1_000;
const NODE_TTL_MS = 5_000;
const LATENCY_MS = 3;
/** The node queues' visibility timeout (infra and broker default: 30 s). */
const VISIBILITY_MS = 30_000;
const WINDOW = { nodeTtlMs: NODE_TTL_MS, heartbeatMs: HEARTBEAT_MS, visibilityMs: VISIBILITY_MS };

let template: MqgateConfig | null = null;

/** The nodes' configuration, loaded once (before virtual time: loading may touch the file system). */
async function configTemplate(): Promise<MqgateConfig> {
  template ??= await loadConfig({
    env: {},
    overrides: {
      nodeId: "sim",
      mqtt: { port: null },
      ws: { port: null },
      tls: { port: null },
      http: { port: null },
      metrics: { port: null },
      sysIntervalSeconds: 0,
      log: { level: "silent" },
      cluster: { heartbeatMs: HEARTBEAT_MS, nodeTtlMs: NODE_TTL_MS },
    },
  });
  return template;
}

export async function runSimulation(opts: SimOptions): Promise<SimResult> {
  const config = await configTemplate();
  const prng = new Prng(opts.seed);
  const random = prng.fork();
  const time = new VirtualTime(() => random.next());
  time.install();
  try {
    return await new World(opts, config, prng, time).run();
  } finally {
    time.uninstall();
  }
}

class World {
  readonly history = new History();
  private readonly store = new MemoryStore();
  private readonly storeFaults: StoreFaults;
  private readonly sqs: SqsModel;
  private readonly nodes: SimNode[] = [];
  private readonly clients: SimClient[] = [];
  private readonly publishers: SimClient[] = [];
  private nodeCount = 0;
  private settling = false;
  private readonly serving: ServingMonitor;
  private readonly f: FaultFlags;
  private readonly fired = new Set<string>();

  constructor(
    private readonly opts: SimOptions,
    private readonly config: MqgateConfig,
    private readonly prng: Prng,
    private readonly time: VirtualTime,
  ) {
    this.f = opts.faults;
    this.serving = new ServingMonitor(this.history, () => this.nodes);
    this.storeFaults = new StoreFaults(prng.fork(), {
      errorRate: this.f.storeErrors ? 0.01 : 0,
      lostReplyRate: this.f.storeLostReplies ? 0.01 : 0,
    });
    this.sqs = new SqsModel(prng.fork(), {
      errorRate: this.f.sqsErrors ? 0.02 : 0,
      approximateCountsLie: this.f.approximateCounts,
      dropDelivery: opts.sabotage?.dropDelivery ?? 0,
    });
    // The trail is what the window rule judges from: on whenever a kind that stops nodes is.
    if (opts.classify === true || this.stopsNodes()) this.sqs.trail = new SqsTrail();
  }

  private stopsNodes(): boolean {
    return this.f.crashes || this.f.crashInClaim || this.f.crashAfterQos2Marker || this.f.pauses || this.f.partitions;
  }

  private live(): SimNode[] {
    return this.nodes.filter((n) => !n.crashed);
  }

  private async startNode(): Promise<SimNode> {
    const node = new SimNode(`n${++this.nodeCount}`, this.prng.fork(), LATENCY_MS);
    this.nodes.push(node);
    this.history.note(`start ${node.id}`);
    try {
      node.faults.onStoreCall = (method, args, phase) => this.targeted(node, method, args, phase);
      await node.start(this.config, this.store, this.storeFaults, this.sqs, (key, order) => this.history.keyed(key, order));
    } catch (err) {
      // A node that cannot start exits (and its orchestrator starts another): what it did so far stays done.
      this.history.note(`${node.id} failed to start (${(err as Error).message}); another starts in 5 s`);
      node.crash();
      setTimeout(() => void this.startNode(), 5_000);
    }
    return node;
  }

  async run(): Promise<SimResult> {
    const t0 = this.time.now;
    for (let i = 0; i < (this.opts.nodes ?? 3); i++) await this.time.wait(this.startNode(), 60_000, "a node start");
    const nSubs = this.opts.subscribers ?? 4;
    const nPubs = this.opts.publishers ?? 3;
    for (let i = 0; i < nSubs; i++) {
      const filters = new Map<string, QoS>();
      for (let k = this.prng.int(1, 2); k > 0; k--) {
        const j = this.prng.int(0, nPubs - 1);
        const filter = this.prng.pick(["t/#", `t/${j}/+`, `t/+/${this.prng.int(0, 2)}`, `t/${j}/${this.prng.int(0, 2)}`]);
        filters.set(filter, this.prng.pick([1, 2, 2] as QoS[]));
      }
      this.clients.push(new SimClient(`sub${i}`, filters, this.history, (c) => this.reconnectLater(c)));
    }
    for (let j = 0; j < nPubs; j++) {
      const c = new SimClient(`pub${j}`, new Map(), this.history, (c) => this.reconnectLater(c));
      this.clients.push(c);
      this.publishers.push(c);
    }
    for (const c of this.clients) this.connect(c);
    await this.time.runFor(30_000, () => this.clients.every((c) => c.ready));
    // Subscriptions reach every node's trie through broadcasts: let them arrive before anything is published.
    await this.time.runFor(2_000);
    const chaosEnd = this.time.now + (this.opts.chaosMs ?? 30_000);
    while (this.time.now < chaosEnd) {
      this.step();
      await this.time.runFor(this.prng.int(10, 150));
      this.serving.sample();
    }
    await this.settle();
    this.serving.close();
    this.opts.tamper?.(this.history);
    const found = check(this.history, { maxOverlapMs: 3 * HEARTBEAT_MS + NODE_TTL_MS, extra: this.opts.extraChecks ?? [] });
    for (const e of this.time.uncaught) found.push({ kind: "protocol", detail: `uncaught in a timer: ${e.stack ?? e.message}` });
    const violations: Violation[] = [];
    const window: string[] = [];
    const trail = this.stopsNodes() && this.opts.judgeWindow !== false ? this.sqs.trail : null;
    for (const v of found) {
      const why = trail === null ? null : lateDrain(v, trail, this.history.stops, WINDOW, this.history.writes, this.history);
      if (why === null) violations.push(v);
      else window.push(why);
    }
    const published = [...this.history.published.values()];
    return {
      seed: this.opts.seed,
      violations,
      published: published.length,
      acknowledged: published.filter((m) => m.ackedAt !== null).length,
      receipts: this.history.receipts.length,
      overlaps: this.history.overlaps.length,
      virtualMs: this.time.now - t0,
      events: this.time.events,
      log: [...this.history.log, `SQS: ${this.sqs.droppedAfterDelete} messages accepted by a deleted queue and dropped`],
      window,
      ...(this.opts.classify !== true || this.sqs.trail === null ? {} : { shapes: shapes(this.sqs.trail, violations, this.history), notes: this.sqs.trail.notes }),
    };
  }

  /**
   * Faults stop, paused nodes resume, every client reconnects and keeps its connection; once quiet, every client
   * reconnects once more (to a random node: what is queued for it in the store is delivered at a claim), and the
   * run waits until quiet again with no acknowledged message missing, or until `settleMs`.
   */
  private async settle(): Promise<void> {
    this.settling = true;
    this.history.note("settle");
    this.storeFaults.heal();
    this.storeFaults.opts.errorRate = 0;
    this.storeFaults.opts.lostReplyRate = 0;
    for (const n of this.nodes) {
      if (n.paused) n.resume();
      n.faults.heal();
    }
    for (const s of this.history.stops) if (s.kind !== "crash") s.to = Math.min(s.to, this.time.now);
    if (this.live().length < 2) void this.startNode();
    const end = this.time.now + (this.opts.settleMs ?? 150_000);
    await this.quiet(Math.min(end, this.time.now + 60_000), false);
    this.history.note("every client reconnects");
    for (const c of this.clients) {
      if (c.link === null) continue;
      c.disconnect();
      this.reconnectLater(c);
    }
    await this.quiet(end, true);
    // A last stretch for late duplicates (redeliveries after a visibility timeout).
    await this.time.runFor(35_000);
  }

  /** Runs until every client is connected with nothing in flight for 5 s (and, if asked, nothing missing). */
  private async quiet(until: number, complete: boolean): Promise<void> {
    let quietSince = this.time.now;
    while (this.time.now < until) {
      await this.time.runFor(1_000);
      this.serving.sample();
      if (this.clients.some((c) => !c.ready || c.inFlightCount > 0)) quietSince = this.time.now;
      if (this.time.now - quietSince < 5_000) continue;
      if (!complete || check(this.history, { maxOverlapMs: Infinity }).every((v) => v.kind !== "lost")) return;
    }
  }

  private connect(c: SimClient): void {
    const candidates = this.live().filter((n) => !this.settling || !n.paused);
    // Every node down at once (crashes and failed starts during a store outage): the client tries again later.
    if (candidates.length === 0) {
      this.reconnectLater(c);
      return;
    }
    const node = this.prng.pick(candidates);
    c.connect(node.id, node.accept());
  }

  private reconnectLater(c: SimClient): void {
    setTimeout(() => {
      if (c.link === null) this.connect(c);
    }, this.prng.int(100, 3_000));
  }

  /**
   * One random action of the chaos phase. 70 % publish; the rest is split in bands between the fault kinds, and the
   * band of a kind that is off falls through to the next kind that is on (so with fewer kinds on, each is more
   * frequent; and the seeds of decision 023 keep reproducing when a kind is added at the end).
   */
  private step(): void {
    const r = this.prng.next();
    if (r < 0.7) {
      const pub = this.prng.pick(this.publishers);
      if (!pub.ready || pub.inFlightCount >= 4) return;
      const j = this.publishers.indexOf(pub);
      pub.publish(`t/${j}/${this.prng.int(0, 2)}`, this.prng.pick([0, 1, 1, 2, 2] as QoS[]));
      return;
    }
    if (r < 0.76 && this.f.reconnects) {
      const c = this.prng.pick(this.clients);
      if (c.link === null) return;
      const graceful = this.prng.chance(0.5);
      this.history.note(`${c.id} ${graceful ? "disconnects from" : "drops"} ${c.node}`);
      if (graceful) c.disconnect();
      else c.drop("close");
      this.reconnectLater(c);
      return;
    }
    if (r < 0.8 && this.f.takeovers) {
      const c = this.prng.pick(this.clients);
      const others = this.live().filter((n) => n.id !== c.node);
      if (c.link === null || others.length === 0) return;
      const node = this.prng.pick(others);
      this.history.note(`${c.id} moves from ${c.node} to ${node.id} (old connection left open)`);
      c.drop("abandon");
      c.connect(node.id, node.accept());
      return;
    }
    if (r < 0.805 && this.f.crashes && this.live().length > 2) {
      this.crash(this.prng.pick(this.live()), "");
      return;
    }
    if (r < 0.81 && this.f.pauses && !this.nodes.some((n) => n.paused)) {
      const node = this.prng.pick(this.live());
      const ms = this.prng.int(1_000, 20_000);
      this.history.note(`pause ${node.id} for ${ms} ms`);
      const stop = { node: node.id, kind: "pause" as const, from: Date.now(), to: Infinity };
      this.history.stops.push(stop);
      node.pause();
      setTimeout(() => {
        this.history.note(`resume ${node.id}`);
        stop.to = Math.min(stop.to, Date.now());
        node.resume();
      }, ms);
      return;
    }
    if (r < 0.815 && this.f.storeOutages) {
      const ms = this.prng.int(500, 8_000);
      this.history.note(`store outage for ${ms} ms`);
      this.storeFaults.outage(ms);
      return;
    }
    if (r < 0.82 && this.f.storeStalls) {
      const ms = this.prng.int(200, 8_000);
      this.history.note(`store stall for ${ms} ms`);
      this.storeFaults.stall(ms);
      return;
    }
    if (r < 0.825 && this.f.partitions) {
      const node = this.prng.pick(this.live());
      const ms = this.prng.int(1_000, 20_000);
      this.history.note(`partition ${node.id} from the store and SQS for ${ms} ms`);
      this.history.stops.push({ node: node.id, kind: "partition", from: Date.now(), to: Date.now() + ms });
      node.partition(ms);
      return;
    }
  }

  /** SIGKILL, and a new node (new id) 1-10 s later, as an orchestrator would. */
  private crash(node: SimNode, why: string): void {
    if (node.crashed) return;
    this.history.note(`crash ${node.id}${why}`);
    this.history.stops.push({ node: node.id, kind: "crash", from: Date.now(), to: Infinity });
    this.history.crashes.push({ node: node.id, at: Date.now(), clients: this.clients.filter((c) => c.node === node.id && c.ready).map((c) => c.id) });
    node.crash();
    setTimeout(() => void this.startNode(), this.prng.int(1_000, 10_000));
  }

  /** Targeted crashes, at the moment a store call of `node` is made or answered (once per run each). */
  private targeted(node: SimNode, method: string, args: unknown[], phase: "before" | "after"): void {
    if (this.settling || node.crashed || this.live().length <= 2) return;
    if (this.f.crashInClaim && !this.fired.has("claim") && method === "claimSession" && phase === "after" && this.prng.chance(0.2)) {
      // The store has the claim; the node dies before it hears so: what it held for the session meanwhile (and
      // may have acknowledged) exists nowhere else.
      this.fired.add("claim");
      this.crash(node, ` as the claim of ${String(args[0])} was answered`);
    }
    if (this.f.crashAfterQos2Marker && !this.fired.has("qos2") && method === "apply" && phase === "after") {
      const marker = (args[0] as { op: string; clientId?: string; packetId?: number }[]).find((op) => op.op === "inbound2.add");
      if (marker !== undefined && this.prng.chance(0.3)) {
        this.fired.add("qos2");
        this.crash(node, ` after the QoS 2 marker of ${marker.clientId} #${marker.packetId} became durable`);
      }
    }
  }

}
