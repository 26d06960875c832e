import type { Prng } from "./prng.js";
import type { NodeFaults } from "./faults.js";
import type { SqsTrail } from "./trail.js";

/**
 * A model of SQS FIFO queues at the API level, so the simulation drives the real SqsCommunicator (sender lanes,
 * packing, receiver, drain) and not a stand-in. What it models, from the SQS documentation:
 * - message groups: a group's messages are received in order, and none of a group while one of it is in flight;
 * - at most 10 messages per ReceiveMessage, long polls up to WaitTimeSeconds, cut short by the abort signal;
 * - visibility timeout: a received message not deleted in time is received again (ApproximateReceiveCount + 1),
 *   and a receipt handle of an earlier receive no longer deletes it;
 * - deduplication per message group for 5 minutes by MessageDeduplicationId;
 * - a deleted queue still accepts sends for 60 s (the messages are dropped), then refuses them; its name cannot be
 *   reused for 60 s;
 * - GetQueueAttributes counts (exact here, unless `approximateCountsLie`: then it may say 0 while messages exist).
 * Faults come from the calling node's NodeFaults (latency, errors, pauses, a crashed node's calls never answer).
 */

const DEDUP_MS = 5 * 60_000;
/** SIM_SQSLOG=<text>: prints sends, receives and deletes of the queues whose name contains it (e.g. `n3`). */
const SQS_LOG = process.env.SIM_SQSLOG;

function sqsLog(q: { name: string }, what: string): void {
  if (SQS_LOG !== undefined && q.name.includes(SQS_LOG)) console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} SQS ${q.name} ${what.slice(0, 300)}`);
}
const DELETE_ACCEPT_MS = 60_000;

interface QueuedMessage {
  seq: number;
  messageId: string;
  body: string;
  groupId: string;
  /** SentTimestamp: when the queue accepted it. */
  sentAt: number;
  receiveCount: number;
  invisibleUntil: number;
  receipt: string | null;
}

interface Queue {
  name: string;
  url: string;
  visibilityMs: number;
  messages: QueuedMessage[];
  dedup: Map<string, number>;
  deletedAt: number | null;
}

export interface SqsModelOptions {
  /** Error probability per call (thrown before the call takes effect, or after it for sends: a lost reply). */
  errorRate: number;
  /** Whether GetQueueAttributes may answer 0 while messages exist (what "approximate" allows). */
  approximateCountsLie: boolean;
  /** Sabotage for the checker's own test: the n-th "deliver" node message sent is dropped (0 = never). */
  dropDelivery?: number;
}

export class SqsError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export class SqsModel {
  private readonly queues = new Map<string, Queue>();
  private readonly byName = new Map<string, Queue>();
  private readonly deletedNames = new Map<string, number>();
  private seq = 0;
  private waiters = new Set<() => void>();
  /** Messages sent to a deleted queue inside its 60 s window: accepted, then dropped (what SQS does). */
  droppedAfterDelete = 0;
  private deliveries = 0;
  /** Where each message went in SQS (--classify), or null. */
  trail: SqsTrail | null = null;

  constructor(
    private readonly prng: Prng,
    private readonly opts: SqsModelOptions,
  ) {}

  /** An SQSClient-shaped facade for one node: its calls suffer that node's faults. */
  clientFor(faults: NodeFaults, reader = "?"): { send(cmd: { input: unknown }, opts?: { abortSignal?: AbortSignal }): Promise<unknown>; destroy(): void } {
    return {
      send: (cmd, opts) => faults.call("sqs", () => this.dispatch(cmd.constructor.name, cmd.input as Record<string, unknown>, opts?.abortSignal, reader)),
      destroy() {},
    };
  }

  /** Messages left in a queue (visible or in flight), for the checker's report. */
  left(name: string): number {
    return this.byName.get(name)?.messages.length ?? 0;
  }

  private fail(): boolean {
    return this.opts.errorRate > 0 && this.prng.chance(this.opts.errorRate);
  }

  private async dispatch(command: string, input: Record<string, unknown>, signal: AbortSignal | undefined, reader: string): Promise<unknown> {
    const lostReply = command === "SendMessageBatchCommand" && this.fail();
    if (!lostReply && command !== "ReceiveMessageCommand" && this.fail()) throw new SqsError("InternalError", `${command}: injected failure`);
    let result: unknown;
    switch (command) {
      case "CreateQueueCommand":
        result = this.createQueue(input);
        break;
      case "GetQueueUrlCommand":
        result = { QueueUrl: this.live(`sim://sqs/${String(input.QueueName)}`).url };
        break;
      case "SetQueueAttributesCommand":
        this.live(String(input.QueueUrl));
        result = {};
        break;
      case "DeleteQueueCommand":
        result = this.deleteQueue(String(input.QueueUrl));
        break;
      case "GetQueueAttributesCommand":
        result = this.attributes(String(input.QueueUrl));
        break;
      case "SendMessageBatchCommand":
        result = this.sendBatch(input);
        break;
      case "ReceiveMessageCommand":
        result = await this.receive(input, signal, reader);
        break;
      case "DeleteMessageBatchCommand":
        result = this.deleteBatch(input);
        break;
      case "ChangeMessageVisibilityBatchCommand":
        result = this.changeVisibility(input);
        break;
      default:
        throw new Error(`SQS model: ${command} is not modelled`);
    }
    if (lostReply) throw new SqsError("InternalError", `${command}: injected lost reply (the call took effect)`);
    return result;
  }

  private live(url: string): Queue {
    const q = this.queues.get(url);
    if (q === undefined || q.deletedAt !== null) throw new SqsError("QueueDoesNotExist", `The specified queue does not exist: ${url}`);
    return q;
  }

  private createQueue(input: Record<string, unknown>): unknown {
    const name = String(input.QueueName);
    const existing = this.byName.get(name);
    if (existing !== undefined && existing.deletedAt === null) return { QueueUrl: existing.url };
    const deleted = this.deletedNames.get(name);
    if (deleted !== undefined && Date.now() - deleted < DELETE_ACCEPT_MS) throw new SqsError("QueueDeletedRecently", `wait 60 s to reuse ${name}`);
    const attrs = (input.Attributes ?? {}) as Record<string, string>;
    const url = `sim://sqs/${name}`;
    const q: Queue = { name, url, visibilityMs: Number(attrs.VisibilityTimeout ?? 30) * 1000, messages: [], dedup: new Map(), deletedAt: null };
    this.queues.set(url, q);
    this.byName.set(name, q);
    return { QueueUrl: url };
  }

  private deleteQueue(url: string): unknown {
    const q = this.live(url);
    q.deletedAt = Date.now();
    this.deletedNames.set(q.name, q.deletedAt);
    q.messages = [];
    return {};
  }

  private attributes(url: string): unknown {
    const q = this.live(url);
    const now = Date.now();
    let visible = 0;
    let inFlight = 0;
    for (const m of q.messages) {
      if (m.invisibleUntil > now) inFlight++;
      else visible++;
    }
    if (this.opts.approximateCountsLie && this.prng.chance(0.3)) visible = inFlight = 0;
    return { Attributes: { ApproximateNumberOfMessages: String(visible), ApproximateNumberOfMessagesNotVisible: String(inFlight) } };
  }

  private sendBatch(input: Record<string, unknown>): unknown {
    const url = String(input.QueueUrl);
    const q = this.queues.get(url);
    const entries = input.Entries as { Id: string; MessageBody: string; MessageGroupId: string; MessageDeduplicationId: string }[];
    if (q !== undefined && q.deletedAt !== null && Date.now() - q.deletedAt < DELETE_ACCEPT_MS) {
      // Accepted by a queue being deleted: the sender thinks it is delivered; it never is.
      this.droppedAfterDelete += entries.length;
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: `dropped-${++this.seq}` })), Failed: [] };
    }
    const live = this.live(url);
    const now = Date.now();
    const successful: { Id: string; MessageId: string }[] = [];
    for (const e of entries) {
      const key = `${e.MessageGroupId}\u0000${e.MessageDeduplicationId}`;
      const seen = live.dedup.get(key);
      const messageId = `m-${++this.seq}`;
      successful.push({ Id: e.Id, MessageId: messageId });
      if (seen !== undefined && now - seen < DEDUP_MS) continue;
      if (this.opts.dropDelivery !== undefined && e.MessageBody.includes('"type":"deliver"') && ++this.deliveries === this.opts.dropDelivery) continue;
      live.dedup.set(key, now);
      sqsLog(live, `send m-${this.seq} g=${e.MessageGroupId} ${e.MessageBody}`);
      this.trail?.sent(live.name, e.MessageBody);
      live.messages.push({ seq: this.seq, messageId, body: e.MessageBody, groupId: e.MessageGroupId, sentAt: now, receiveCount: 0, invisibleUntil: 0, receipt: null });
    }
    if (live.dedup.size > 10_000) for (const [k, t] of live.dedup) if (now - t >= DEDUP_MS) live.dedup.delete(k);
    this.wake();
    return { Successful: successful, Failed: [] };
  }

  private take(q: Queue, max: number, reader: string): unknown[] {
    const now = Date.now();
    const blocked = new Set<string>();
    const out: unknown[] = [];
    for (const m of q.messages) {
      if (out.length >= max) break;
      if (blocked.has(m.groupId)) continue;
      if (m.invisibleUntil > now) {
        blocked.add(m.groupId); // a group waits behind its message in flight
        continue;
      }
      m.receiveCount++;
      m.invisibleUntil = now + q.visibilityMs;
      m.receipt = `r-${m.messageId}-${m.receiveCount}`;
      sqsLog(q, `recv by ${reader} ${m.messageId} g=${m.groupId} rc=${m.receiveCount} ${m.body}`);
      this.trail?.received(q.name, reader, m.receiveCount, m.body);
      out.push({ MessageId: m.messageId, ReceiptHandle: m.receipt, Body: m.body, Attributes: { ApproximateReceiveCount: String(m.receiveCount), SentTimestamp: String(m.sentAt) } });
    }
    return out;
  }

  private async receive(input: Record<string, unknown>, signal: AbortSignal | undefined, reader: string): Promise<unknown> {
    const url = String(input.QueueUrl);
    const max = Math.min(10, Number(input.MaxNumberOfMessages ?? 1));
    const deadline = Date.now() + Number(input.WaitTimeSeconds ?? 0) * 1000;
    for (;;) {
      if (signal?.aborted === true) throw new SqsError("AbortError", "Request aborted");
      const q = this.live(url);
      const got = this.take(q, max, reader);
      if (got.length > 0 || Date.now() >= deadline) return { Messages: got };
      // Wait for a send, a visibility change, the next visibility expiry, or the end of the long poll.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, Math.min(deadline - Date.now(), 250)));
        this.waiters.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  private deleteBatch(input: Record<string, unknown>): unknown {
    const q = this.live(String(input.QueueUrl));
    const entries = input.Entries as { Id: string; ReceiptHandle: string }[];
    const successful: { Id: string }[] = [];
    const failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
    for (const e of entries) {
      const i = q.messages.findIndex((m) => m.receipt === e.ReceiptHandle && m.invisibleUntil > Date.now());
      if (i < 0) {
        failed.push({ Id: e.Id, Code: "ReceiptHandleIsInvalid", Message: "stale receipt handle", SenderFault: true });
        continue;
      }
      sqsLog(q, `delete ${q.messages[i]?.messageId ?? "?"}`);
      q.messages.splice(i, 1);
      successful.push({ Id: e.Id });
    }
    this.wake();
    return { Successful: successful, Failed: failed };
  }

  private changeVisibility(input: Record<string, unknown>): unknown {
    const q = this.live(String(input.QueueUrl));
    const entries = input.Entries as { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[];
    for (const e of entries) {
      const m = q.messages.find((x) => x.receipt === e.ReceiptHandle);
      if (m !== undefined) m.invisibleUntil = Date.now() + e.VisibilityTimeout * 1000;
    }
    this.wake();
    return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
  }
}
