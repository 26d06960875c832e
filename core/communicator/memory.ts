import { DEFAULT_MAX_MESSAGE_BYTES } from "./constants.js";
import {
  BufferFull,
  CommunicatorError,
  type CommunicatorErrorListener,
  DeliveryFailed,
  MalformedMessage,
  NodeUnreachable,
  PayloadTooLarge,
} from "./errors.js";
import { bodyBytes, decodeNodeMessage, encodeNodeMessage } from "./schema.js";
import type { Arrival, Communicator, DrainResult, NodeMessage, NodeMessageHandler } from "./types.js";

/**
 * The in-process communicator: one process, any number of "nodes" (the embedded broker and the local REST
 * adapter). It models a node queue faithfully enough to run the same contract suite as SQS: messages travel as
 * JSON text and are validated on receipt, a stopped node's mailbox keeps accepting (bounded) until deleted, a
 * failed batch is redelivered (bounded attempts). Unlike SQS, batches arrive exactly as they were sent.
 */

interface Entry {
  bodies: string[];
  /** Set once the bodies were decoded (malformed ones reported and removed). */
  messages: NodeMessage[] | null;
  attempts: number;
  /** When the batch was queued (Date.now()). */
  queuedAt: number;
}

/** One node's queue. */
class Mailbox {
  readonly entries: Entry[] = [];
  /** Messages (not batches) waiting. */
  size = 0;
  receiver: MemoryCommunicator | null = null;
  constructor(readonly nodeId: string, readonly maxQueued: number) {}
}

/** Where the nodes of one process find each other. Tests give each test its own. */
export class MemoryRegistry {
  readonly mailboxes = new Map<string, Mailbox>();

  /** Test hook: puts raw bodies in a node's mailbox as one batch, bypassing encoding and limits. */
  injectRaw(nodeId: string, bodies: string[]): void {
    const box = this.mailboxes.get(nodeId);
    if (box === undefined) throw new NodeUnreachable(nodeId);
    box.entries.push({ bodies, messages: null, attempts: 0, queuedAt: Date.now() });
    box.size += bodies.length;
    box.receiver?.wake();
  }
}

/** The process-wide registry used when none is given. */
export const processRegistry = new MemoryRegistry();

export interface MemoryCommunicatorOptions {
  registry?: MemoryRegistry;
  /** Largest encoded message; larger ones are refused with PayloadTooLarge, like SQS. Default 256 KiB. */
  maxMessageBytes?: number;
  /** Messages a node's mailbox holds (while its handler is slow or it is stopped). Default 10,000. */
  maxQueued?: number;
  /** Deliveries of a batch before it is dropped (and reported). Default 5. */
  maxDeliveries?: number;
  /** Wait before delivering a failed batch again. Default 1,000 ms. */
  retryDelayMs?: number;
  onError?: CommunicatorErrorListener;
}

export class MemoryCommunicator implements Communicator {
  readonly kind = "memory" as const;
  private readonly registry: MemoryRegistry;
  private readonly maxMessageBytes: number;
  private readonly maxQueued: number;
  private readonly maxDeliveries: number;
  private readonly retryDelayMs: number;
  private readonly onError: CommunicatorErrorListener;
  private box: Mailbox | null = null;
  private handler: NodeMessageHandler | null = null;
  private pumping: Promise<void> | null = null;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryWake: (() => void) | null = null;

  constructor(opts: MemoryCommunicatorOptions = {}) {
    this.registry = opts.registry ?? processRegistry;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxQueued = opts.maxQueued ?? 10_000;
    this.maxDeliveries = opts.maxDeliveries ?? 5;
    this.retryDelayMs = opts.retryDelayMs ?? 1_000;
    this.onError = opts.onError ?? (() => {});
  }

  async start(nodeId: string, handler: NodeMessageHandler): Promise<string> {
    if (this.box !== null) throw new CommunicatorError(`already started as node ${JSON.stringify(this.box.nodeId)}`);
    let box = this.registry.mailboxes.get(nodeId);
    if (box !== undefined && box.receiver !== null) throw new CommunicatorError(`node ${JSON.stringify(nodeId)} is already receiving`);
    if (box === undefined) {
      box = new Mailbox(nodeId, this.maxQueued);
      this.registry.mailboxes.set(nodeId, box);
    }
    box.receiver = this;
    this.box = box;
    this.handler = handler;
    this.wake();
    return `memory://${encodeURIComponent(nodeId)}`;
  }

  async send(nodeId: string, messages: NodeMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const box = this.registry.mailboxes.get(nodeId);
    if (box === undefined) throw new NodeUnreachable(nodeId);
    const bodies = new Array<string>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as NodeMessage;
      const body = encodeNodeMessage(m);
      const bytes = bodyBytes(body);
      if (bytes > this.maxMessageBytes) throw new PayloadTooLarge(m.id, bytes, this.maxMessageBytes);
      bodies[i] = body;
    }
    if (box.size + bodies.length > box.maxQueued) throw new BufferFull(nodeId, box.maxQueued);
    box.entries.push({ bodies, messages: null, attempts: 0, queuedAt: Date.now() });
    box.size += bodies.length;
    box.receiver?.wake();
  }

  async stop(opts: { deleteQueue?: boolean } = {}): Promise<void> {
    const box = this.box;
    this.handler = null;
    this.retryWake?.();
    await this.pumping;
    if (box === null) return;
    if (box.receiver === this) box.receiver = null;
    this.box = null;
    if (opts.deleteQueue === true && this.registry.mailboxes.get(box.nodeId) === box) this.registry.mailboxes.delete(box.nodeId);
  }

  async drainQueue(nodeId: string, handler: NodeMessageHandler): Promise<DrainResult> {
    const box = this.registry.mailboxes.get(nodeId);
    if (box === undefined) throw new NodeUnreachable(nodeId);
    if (box.receiver !== null) throw new CommunicatorError(`node ${JSON.stringify(nodeId)} is still receiving; drain only dead nodes`);
    const result: DrainResult = { drained: 0, malformed: 0, remaining: 0 };
    while (box.entries.length > 0) {
      const entry = box.entries[0] as Entry;
      result.malformed += this.decode(box, entry);
      const messages = entry.messages ?? [];
      if (messages.length > 0) await handler(messages); // a rejection leaves the batch in place
      box.entries.shift();
      box.size -= messages.length;
      result.drained += messages.length;
    }
    return result;
  }

  async deleteNodeQueue(nodeId: string): Promise<void> {
    const box = this.registry.mailboxes.get(nodeId);
    if (box === undefined) return;
    this.registry.mailboxes.delete(nodeId);
    box.receiver?.detach();
  }

  /** Schedules delivery of what is waiting (asynchronously: never inside the sender's call). */
  wake(): void {
    if (this.scheduled || this.pumping !== null || this.handler === null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.pumping !== null || this.handler === null) return;
      this.pumping = this.pump().finally(() => {
        this.pumping = null;
        // A send between the pump's last look and here found it still running: look again.
        if ((this.box?.entries.length ?? 0) > 0) this.wake();
      });
    });
  }

  /** The mailbox was deleted under a running node (deleteNodeQueue): it stops receiving. */
  private detach(): void {
    this.handler = null;
    this.retryWake?.();
    this.box = null;
  }

  private async pump(): Promise<void> {
    for (;;) {
      const box = this.box;
      const handler = this.handler;
      const entry = box?.entries[0];
      if (box === null || handler === null || entry === undefined) return;
      this.decode(box, entry);
      const messages = entry.messages ?? [];
      if (messages.length === 0) {
        box.entries.shift();
        continue;
      }
      try {
        await handler(messages, arrivals(messages, entry));
      } catch (err) {
        entry.attempts++;
        const dropped = entry.attempts >= this.maxDeliveries;
        this.onError(new DeliveryFailed(box.nodeId, messages.map((m) => m.id), entry.attempts, dropped, { cause: err }));
        if (!dropped) {
          await this.pause(this.retryDelayMs);
          continue;
        }
      }
      if (box.entries[0] === entry) {
        box.entries.shift();
        box.size -= messages.length;
      }
    }
  }

  /** Decodes an entry once; returns how many malformed bodies it removed (each reported). */
  private decode(box: Mailbox, entry: Entry): number {
    if (entry.messages !== null) return 0;
    const messages: NodeMessage[] = [];
    for (const body of entry.bodies) {
      const r = decodeNodeMessage(body);
      if (r.ok) messages.push(r.message);
      else this.onError(new MalformedMessage(box.nodeId, r.problem, body));
    }
    const malformed = entry.bodies.length - messages.length;
    box.size -= malformed;
    entry.messages = messages;
    return malformed;
  }

  /** A retry wait that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.retryTimer !== null) clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.retryWake = null;
        resolve();
      };
      this.retryWake = done;
      this.retryTimer = setTimeout(done, ms);
    });
  }
}

/** The arrival of an entry's messages (one per message, as SQS reports them). */
function arrivals(messages: readonly NodeMessage[], entry: Entry): Map<NodeMessage, Arrival> {
  const arrival: Arrival = { attempts: entry.attempts + 1, waitedMs: Date.now() - entry.queuedAt };
  return new Map(messages.map((m) => [m, arrival]));
}
