import { usePerTest } from "../../helpers/per-test.js";
import type { CommunicatorError } from "../../../core/communicator/errors.js";
import type { Arrival, Communicator, NodeMessage, NodeMessageHandler } from "../../../core/communicator/types.js";

/** One test's transport: every communicator it creates talks to the same queues. */
export interface CommunicatorHarness {
  /** A new communicator (one per "process"); whatever it reports goes to `errors`. */
  create(): Communicator;
  /** Everything reported through onError by this harness' communicators. */
  readonly errors: CommunicatorError[];
  /** Puts a raw body into a node's queue, bypassing encoding (malformed-message tests). */
  injectRaw(nodeId: string, body: string): Promise<void>;
  queueExists(nodeId: string): Promise<boolean>;
  /** Messages in a node's queue, visible or not. */
  depth(nodeId: string): Promise<number>;
  /** The implementation's message size limit, as configured for the suite. */
  readonly maxMessageBytes: number;
  /** Deliveries of a failing message before it is dropped, as configured for the suite. */
  readonly maxDeliveries: number;
  /** Stops every communicator and removes every queue this test made. */
  cleanup(): Promise<void>;
}

export type CommunicatorFactory = () => Promise<CommunicatorHarness>;

export interface Ctx {
  readonly h: CommunicatorHarness;
}

export function useHarness(create: CommunicatorFactory): Ctx {
  const current = usePerTest(create, "harness");
  return {
    get h(): CommunicatorHarness {
      return current();
    },
  };
}

export function deliver(origin: string, seq: number, payload = Buffer.from(`m${seq}`)): NodeMessage {
  return {
    type: "deliver",
    id: `${origin}-${seq}`,
    origin,
    seq,
    msg: { topic: `t/${origin}`, payload: payload.toString("base64"), qos: 1, retain: false },
    targets: [{ clientId: "sub-1", qos: 1 }],
  };
}

export function deliveries(origin: string, from: number, count: number): NodeMessage[] {
  return Array.from({ length: count }, (_, i) => deliver(origin, from + i));
}

/** A handler that records every batch; `fail` decides per batch whether to reject it (after recording). */
export class Inbox {
  readonly batches: NodeMessage[][] = [];
  calls = 0;
  /** How each message came, per call (in call order; a failed call's too): what the transport reported. */
  readonly arrivals: (Arrival | undefined)[][] = [];
  fail: (batch: NodeMessage[], call: number) => boolean = () => false;
  readonly handler: NodeMessageHandler = async (batch, arrivals) => {
    this.calls++;
    this.arrivals.push(batch.map((m) => arrivals?.get(m)));
    if (this.fail(batch, this.calls)) throw new Error(`handler refuses call ${this.calls}`);
    this.batches.push(batch);
  };

  get messages(): NodeMessage[] {
    return this.batches.flat();
  }

  ids(): string[] {
    return this.messages.map((m) => m.id);
  }

  async waitFor(count: number, timeoutMs = 15_000): Promise<NodeMessage[]> {
    await until(() => this.messages.length >= count, timeoutMs, () => `got ${this.messages.length} of ${count} messages`);
    return this.messages;
  }
}

export async function until(cond: () => boolean, timeoutMs = 15_000, what: () => string = () => "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(20);
  }
}

export async function eventually(cond: () => Promise<boolean>, timeoutMs = 15_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Messages per origin, in arrival order, as seq numbers. */
export function seqsByOrigin(messages: NodeMessage[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const m of messages) if (m.type === "deliver") (out[m.origin] ??= []).push(m.seq);
  return out;
}
