import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { SQS_BATCH_ENTRIES } from "./constants.js";
import { type CommunicatorErrorListener, MalformedMessage, ReceiveFailed } from "./errors.js";
import { decodeNodeMessages } from "./schema.js";
import { isQueueMissing, sleep } from "./sqs-client.js";
import type { Arrival, NodeMessage } from "./types.js";

export interface ReceiverOptions {
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
  /** Visibility after a handler failure (the redelivery delay); >= visibilityTimeoutSeconds leaves it as is. */
  retryDelaySeconds: number;
  /** Deliveries of one message before it is deleted and reported instead of handled again. */
  maxReceiveCount: number;
  /** Ids of recently handled messages remembered to skip a redelivery (after a failed delete). */
  dedupWindow: number;
  onError: CommunicatorErrorListener;
}

/**
 * A failed DeleteMessageBatch or ChangeMessageVisibilityBatch (the SDK's own retries come on top) is tried again
 * after DELETE_RETRY_MS, doubling up to DELETE_RETRY_MAX_MS, for as long as the receipt handles hold: until the
 * visibility timeout of the receive.
 */
const DELETE_RETRY_MS = 50;
const DELETE_RETRY_MAX_MS = 1000;

/** Received messages sorted out: what to hand to the handler and what to delete without handling. */
interface Sorted {
  messages: NodeMessage[];
  /** How each of `messages` came (ApproximateReceiveCount, SentTimestamp). */
  arrivals: Map<NodeMessage, Arrival>;
  raw: Message[];
  discard: Message[];
  malformed: number;
}

/**
 * The calls a receiver makes on its queue (core/communicator/sqs-receiver.ts, `SqsReceiver`, is the rest of the same
 * object): one ReceiveMessage, the sorting of a batch into what to handle and what to delete unhandled (malformed,
 * or handled before), the ids remembered to skip a redelivery, and the deletes and visibility changes, retried for
 * as long as the receipt handles hold. The loop, the drain and the batches being handled are `SqsReceiver`'s.
 */
export abstract class SqsQueueReader {
  private readonly handled = new Set<string>();

  constructor(
    private readonly client: SQSClient,
    protected readonly nodeId: string,
    private readonly queueUrl: string,
    protected readonly opts: ReceiverOptions,
  ) {}

  /**
   * One ReceiveMessage. Its `ReceiveRequestAttemptId` is fixed for the call, so when the SDK retries it after a
   * lost response, a FIFO queue answers the retry with the same messages instead of hiding them (and the rest of
   * their groups) for the visibility timeout.
   */
  protected async receive(waitTimeSeconds: number, signal: AbortSignal | undefined): Promise<Message[]> {
    const res = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: SQS_BATCH_ENTRIES,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        ReceiveRequestAttemptId: randomUUID(),
      }),
      signal === undefined ? {} : { abortSignal: signal },
    );
    return res.Messages ?? [];
  }

  protected sort(batch: Message[]): Sorted {
    const now = Date.now();
    const sorted: Sorted = { messages: [], arrivals: new Map(), raw: [], discard: [], malformed: 0 };
    for (const m of batch) {
      const body = m.Body ?? "";
      const decoded = decodeNodeMessages(body);
      // Each bad element is reported and counted; the good ones of the same body are still handled.
      for (const problem of decoded.problems) {
        sorted.malformed++;
        this.opts.onError(new MalformedMessage(this.nodeId, problem, body));
      }
      if (decoded.messages.length === 0) {
        sorted.discard.push(m);
        continue;
      }
      const fresh = decoded.messages.filter((message) => !this.handled.has(message.id));
      if (fresh.length === 0) {
        sorted.discard.push(m); // handled already; its delete had failed
        continue;
      }
      sorted.messages.push(...fresh);
      const arrival: Arrival = { attempts: receiveCount(m), waitedMs: waited(m, now) };
      for (const message of fresh) sorted.arrivals.set(message, arrival);
      sorted.raw.push(m);
    }
    return sorted;
  }

  protected remember(messages: NodeMessage[]): void {
    for (const m of messages) {
      this.handled.add(m.id);
      if (this.handled.size > this.opts.dedupWindow) {
        const oldest = this.handled.values().next();
        if (oldest.done !== true) this.handled.delete(oldest.value);
      }
    }
  }

  /**
   * Deletes handled messages, retrying a failed call (or the entries SQS failed on its side) at once and then for as
   * long as their receipt handles hold (the visibility timeout from `receivedAt`): a handled message left in flight
   * blocks the rest of its FIFO group for the visibility timeout, and a `match` forward that arrives that late may
   * find its sessions gone from this node (decision 023, S3). A node cut off from SQS for seconds (decision 036)
   * deletes them once it reaches SQS again, rather than holding its queue back until the timeout.
   */
  protected async delete(messages: Message[], receivedAt: number): Promise<void> {
    let pending = messages;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const wait = retryWait(attempt);
      const last = Date.now() + wait >= this.staleAt(receivedAt);
      try {
        const res = await this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: pending.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        const failed = res.Failed ?? [];
        // A sender fault (a stale receipt handle) does not get better with a retry.
        const retry = failed.filter((f) => f.SenderFault !== true);
        if (failed.length > 0 && (last || retry.length < failed.length)) {
          const why = failed.map((f) => `${f.Code ?? "error"}: ${f.Message ?? ""}`).join("; ");
          this.opts.onError(new ReceiveFailed(this.nodeId, "DeleteMessageBatch", { cause: new Error(why) }));
        }
        pending = retry.map((f) => pending[Number(f.Id)]).filter((m): m is Message => m !== undefined);
      } catch (err) {
        if (isQueueMissing(err)) return;
        this.opts.onError(new ReceiveFailed(this.nodeId, "DeleteMessageBatch", { cause: err }));
      }
      if (last || pending.length === 0) return;
      await sleep(wait);
    }
  }

  /**
   * Hands messages back (visible again after `retryDelaySeconds`), retried like a delete while that comes before
   * the end of their visibility timeout: a drain that stopped (the node came back, or the drainer was cut off
   * from the store) leaves its batch to the queue's owner within seconds, not 30 s later (decision 036).
   */
  protected async makeVisible(messages: Message[], receivedAt: number): Promise<void> {
    if (messages.length === 0 || this.opts.retryDelaySeconds >= this.opts.visibilityTimeoutSeconds) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: messages.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: this.opts.retryDelaySeconds,
            })),
          }),
        );
        return;
      } catch (err) {
        // Not fatal: they become visible at the end of the visibility timeout instead.
        this.opts.onError(new ReceiveFailed(this.nodeId, "ChangeMessageVisibilityBatch", { cause: err }));
        if (isQueueMissing(err)) return;
      }
      const wait = retryWait(attempt);
      if (Date.now() + wait + this.opts.retryDelaySeconds * 1000 >= this.staleAt(receivedAt)) return;
      await sleep(wait);
    }
  }

  /** When messages received at `receivedAt` become visible again by themselves (their receipt handles go stale). */
  private staleAt(receivedAt: number): number {
    return receivedAt + this.opts.visibilityTimeoutSeconds * 1000;
  }
}

/** The wait before retry `attempt` + 1 of a delete or visibility change: 50 ms doubling, at most 1 s. */
function retryWait(attempt: number): number {
  return Math.min(DELETE_RETRY_MAX_MS, DELETE_RETRY_MS * 2 ** Math.min(attempt - 1, 10));
}

/** How long `m` was in the queue (0 when SQS did not say). */
function waited(m: Message, now: number): number {
  const sent = Number(m.Attributes?.SentTimestamp ?? "");
  return Number.isFinite(sent) && sent > 0 ? Math.max(0, now - sent) : 0;
}

export function receiveCount(m: Message): number {
  const n = Number(m.Attributes?.ApproximateReceiveCount ?? "1");
  return Number.isFinite(n) && n > 0 ? n : 1;
}
