import type { SQSClient } from "@aws-sdk/client-sqs";
import { Connection } from "../../broker/connection.js";
import { type RunningBroker, startBroker } from "../../broker/server.js";
import { createAllowAll } from "../../core/auth/index.js";
import { SqsCommunicator } from "../../core/communicator/sqs.js";
import type { MqgateConfig } from "../../core/config/types.js";
import type { MemoryStore } from "../../core/store/memory.js";
import { faultyStore, NodeFaults, type StoreFaults } from "./faults.js";
import { Link } from "./link.js";
import type { Prng } from "./prng.js";
import type { SqsModel } from "./sqs-model.js";

const DEBUG = process.env.SIM_DEBUG !== undefined;

/**
 * One broker node of the simulation: the production composition (broker/server.ts startBroker: Broker, Cluster,
 * Journal, the SQS communicator) with its store and SQS calls through the node's faults and its client
 * connections in memory. No listener is opened: connections are handed to the broker as its listener would.
 */
export class SimNode {
  readonly faults: NodeFaults;
  private readonly links = new Set<Link>();
  running: RunningBroker | null = null;
  errors = 0;
  private accepted = 0;

  constructor(
    readonly id: string,
    private readonly prng: Prng,
    private readonly maxLatencyMs: number,
  ) {
    // SQS answers in tens of ms (a send, a long poll's wake-up), the store in a few.
    this.faults = new NodeFaults(prng.fork(), { store: maxLatencyMs, sqs: 10 * maxLatencyMs });
  }

  get crashed(): boolean {
    return this.faults.crashed;
  }

  get paused(): boolean {
    return this.faults.isPaused;
  }

  /** Starts the broker (a promise to run under virtual time); `keyed`: told each client publish's order key. */
  async start(template: MqgateConfig, store: MemoryStore, storeFaults: StoreFaults, sqs: SqsModel, keyed?: (key: string, order: string) => void): Promise<void> {
    const config: MqgateConfig = { ...template, nodeId: this.id };
    const communicator = new SqsCommunicator({
      client: sqs.clientFor(this.faults, this.id) as unknown as SQSClient,
      prefix: "sim",
      onError: (err) => {
        this.errors++;
        this.debug("communicator", err.message, (err.cause as Error | undefined)?.message);
      },
    });
    this.running = await startBroker(config, createAllowAll(), faultyStore(store, this.faults, storeFaults), { communicator });
    const broker = this.running.broker;
    if (keyed !== undefined) {
      broker.on("message.published", (msg: { payload: Uint8Array; order?: string | undefined }, clientId: string | null) => {
        if (clientId !== null && msg.order !== undefined) keyed(Buffer.from(msg.payload).toString(), msg.order);
      });
    }
    broker.on("cluster.error", (op: string, err?: Error) => {
      this.errors++;
      this.debug("cluster error", op, err?.message);
    });
    if (DEBUG) {
      broker.on("client.connected", (session: { clientId: string; epoch: number }, _c: unknown, present: boolean) => this.debug("connected", session.clientId, `epoch ${session.epoch}`, present ? "session present" : "new session"));
      broker.on("client.disconnected", (id: string, reason: string, err?: Error) => this.debug("disconnected", id, reason, err?.message));
      broker.on("connection.closed", (_c: unknown, reason: string, err?: Error) => this.debug("closed", reason, err?.message));
      broker.on("store.error", (op: string, err: Error) => this.debug("store error", op, err.message));
      broker.on("journal.stalled", (batchId: number, waitedMs: number, pending: string[]) => this.debug("journal stalled", String(batchId), `${waitedMs} ms`, pending.join("; ")));
    }
  }

  /** SIM_DEBUG=1: what the broker reports, with the virtual time. */
  private debug(...parts: (string | undefined)[]): void {
    if (DEBUG) console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} ${this.id} ${parts.filter((p) => p !== undefined).join(" ")}`);
  }

  /** A client opens a TCP connection to this node. */
  accept(): Link {
    const link = new Link(this.faults, this.prng, this.maxLatencyMs);
    this.links.add(link);
    const running = this.running;
    if (running === null || this.crashed) {
      link.reset();
      return link;
    }
    // What a listener does (broker/listeners.ts accept), after the node processed the SYN: a node that may not serve
    // (its lease lost, not registered again yet; or at maxConnections) refuses the stream before reading a byte.
    void this.faults.gate().then(() => {
      if (!running.broker.canAccept()) {
        running.broker.stats.connectionsRefused++;
        link.broker.destroy();
        return;
      }
      running.broker.addConnection(new Connection(running.broker, link.broker, `sim:${++this.accepted}`, "tcp"));
    });
    return link;
  }

  /** Client ids with a connection attached on this node (what "serving" means for the overlap check). */
  serving(): string[] {
    const out: string[] = [];
    if (this.running === null || this.crashed || this.paused) return out;
    for (const [clientId, session] of this.running.broker.sessions) if (session.link !== null) out.push(clientId);
    return out;
  }

  /** SIGKILL: every connection resets at the client; nothing the process had in memory survives. */
  crash(): void {
    this.faults.crash();
    for (const link of this.links) link.reset();
    this.links.clear();
  }

  pause(): void {
    this.faults.pause();
  }

  /** Cut off from the store and SQS for `ms` (its clients still reach it). */
  partition(ms: number): void {
    this.faults.partition(ms);
  }

  resume(): void {
    this.faults.unpause();
  }
}
