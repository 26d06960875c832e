import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { SQS_BATCH_ENTRIES } from "./constants.js";
import { type CommunicatorErrorListener, DeliveryFailed, MalformedMessage, NodeUnreachable, ReceiveFailed } from "./errors.js";
import { decodeNodeMessages } from "./schema.js";
import { isAborted, isQueueMissing, sleep } from "./sqs-client.js";
import type { Arrival, NodeMessage, NodeMessageHandler } from "./types.js";

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

/** Batches of one queue handled at once (received while earlier ones are handled). */
const MAX_HANDLING = 4;

/**
 * A failed DeleteMessageBatch or ChangeMessageVisibilityBatch (the SDK's own retries come on top) is tried again
 * after DELETE_RETRY_MS, doubling up to DELETE_RETRY_MAX_MS, for as long as the receipt handles hold: until the
 * visibility timeout of the receive.
 */
const DELETE_RETRY_MS = 50;
const DELETE_RETRY_MAX_MS = 1000;

/**
 * A batch being handled: its messages, when they were received, whether they were given back (`handBack`), and
 * whether its handler ended (then nothing is given back: it is being deleted or made visible already).
 */
interface InFlight {
  raw: Message[];
  receivedAt: number;
  back: boolean;
  ended: boolean;
}

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
 * Reads one queue: the long-poll loop of a running node, and the one-shot drain of a dead node's queue. Messages
 * are deleted only after the handler resolved; a rejected batch is made visible again after `retryDelaySeconds`.
 */
export class SqsReceiver {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private readonly handled = new Set<string>();
  /** Batches whose handler has not finished (at most MAX_HANDLING), with what was received. */
  private readonly handling = new Map<Promise<void>, InFlight>();
  /** Wakes the poll loop waiting for room (MAX_HANDLING): a batch was given back, or the receiver stops. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly client: SQSClient,
    private readonly nodeId: string,
    private readonly queueUrl: string,
    private readonly opts: ReceiverOptions,
  ) {}

  /** Starts the long-poll loop. */
  start(handler: NodeMessageHandler): void {
    this.loop ??= this.poll(handler);
  }

  /**
   * Aborts the long poll and waits for the batches being handled (and their deletion), except those given back
   * (`handBack`): their handlers may wait for a store this node cannot reach.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.handling].filter(([, batch]) => !batch.back).map(([handling]) => handling));
  }

  /**
   * The node lost its lease (broker/lease.ts): what it received and has not finished handling is no longer its to
   * finish. Those messages are made visible again after `retryDelaySeconds`, for whoever reads the queue next (a
   * survivor draining it, or this node once it registered again), instead of holding their FIFO groups back for
   * the visibility timeout while a handler waits for a store it cannot reach. The handlers go on; what they finish
   * is not deleted (handled twice, their effects are deduplicated like any redelivery's).
   */
  handBack(): void {
    for (const batch of this.handling.values()) {
      if (batch.back || batch.ended) continue;
      batch.back = true;
      void this.makeVisible(batch.raw, batch.receivedAt);
    }
    this.wake?.();
  }

  /** Batches whose handler runs and that were not given back: what MAX_HANDLING counts. */
  private get busy(): number {
    let n = 0;
    for (const batch of this.handling.values()) if (!batch.back) n++;
    return n;
  }

  /** Receives until the queue looks empty, handing every batch to `handler`; a rejection stops and propagates. */
  async drain(handler: NodeMessageHandler): Promise<{ drained: number; malformed: number }> {
    let drained = 0;
    let malformed = 0;
    for (;;) {
      // A short poll (wait 0) samples only some SQS servers and may answer empty while messages exist.
      const receivedAt = Date.now();
      const batch = await this.receive(1, undefined);
      if (batch.length === 0) return { drained, malformed };
      const sorted = this.sort(batch);
      malformed += sorted.malformed;
      if (sorted.messages.length > 0) {
        try {
          await handler(sorted.messages, sorted.arrivals);
        } catch (err) {
          // The rest reappears after the retry delay (else the visibility timeout), for whoever reads the queue.
          await this.delete(sorted.discard, receivedAt);
          await this.makeVisible(sorted.raw, receivedAt);
          throw err;
        }
        this.remember(sorted.messages);
        drained += sorted.messages.length;
      }
      await this.delete([...sorted.discard, ...sorted.raw], receivedAt);
    }
  }

  private async poll(handler: NodeMessageHandler): Promise<void> {
    const signal = this.abort.signal;
    let backoff = 0;
    while (!signal.aborted) {
      let batch: Message[];
      // Before the call: the visibility timeout of what it returns runs from some moment during it.
      const receivedAt = Date.now();
      try {
        batch = await this.receive(this.opts.waitTimeSeconds, signal);
        backoff = 0;
      } catch (err) {
        if (signal.aborted && isAborted(err)) return;
        if (isQueueMissing(err)) {
          // The queue was deleted under a running node (someone judged it dead): stop, and say so.
          this.opts.onError(new NodeUnreachable(this.nodeId, { cause: err }));
          return;
        }
        this.opts.onError(new ReceiveFailed(this.nodeId, "ReceiveMessage", { cause: err }));
        backoff = Math.min(Math.max(100, backoff * 2), 5_000);
        await sleep(backoff, signal);
        continue;
      }
      if (batch.length === 0) continue;
      // Received on while a batch is handled: a handler may wait (deliveries held for a session that moved here
      // wait for a reply from another node, decision 031), and its groups stay in flight meanwhile, so only other
      // groups are received; their order within a group is kept by the queue.
      const inFlight: InFlight = { raw: batch, receivedAt, back: false, ended: false };
      const handling = this.handle(batch, handler, receivedAt, inFlight)
        .catch((err: unknown) => this.opts.onError(new ReceiveFailed(this.nodeId, "handle", { cause: err })))
        .finally(() => this.handling.delete(handling));
      this.handling.set(handling, inFlight);
      while (this.busy >= MAX_HANDLING && !signal.aborted) {
        await Promise.race([...this.handling.keys(), new Promise<void>((resolve) => (this.wake = resolve))]);
        this.wake = null;
      }
    }
  }

  private async handle(batch: Message[], handler: NodeMessageHandler, receivedAt: number, inFlight: InFlight): Promise<void> {
    const sorted = this.sort(batch);
    // What a hand-back gives back: the messages handled. Those not handled (malformed, or handled before and their
    // delete failed) are deleted at once: left in flight behind a waiting handler, they would hold their groups.
    inFlight.raw = sorted.raw;
    const discarded = this.delete(sorted.discard, receivedAt);
    const toDelete: Message[] = [];
    if (sorted.messages.length > 0) {
      try {
        await handler(sorted.messages, sorted.arrivals);
        inFlight.ended = true;
        this.remember(sorted.messages);
        if (!inFlight.back) toDelete.push(...sorted.raw);
      } catch (err) {
        inFlight.ended = true;
        const retry: Message[] = [];
        let attempts = 0;
        for (const m of sorted.raw) {
          const n = receiveCount(m);
          attempts = Math.max(attempts, n);
          if (n >= this.opts.maxReceiveCount) toDelete.push(m);
          else retry.push(m);
        }
        const ids = sorted.messages.map((m) => m.id);
        this.opts.onError(new DeliveryFailed(this.nodeId, ids, attempts, retry.length === 0, { cause: err }));
        // Given back already: another reader may hold them now; they are its to delete.
        if (inFlight.back) toDelete.length = 0;
        else await this.makeVisible(retry, receivedAt);
      }
    }
    await Promise.all([discarded, this.delete(toDelete, receivedAt)]);
  }

  /**
   * One ReceiveMessage. Its `ReceiveRequestAttemptId` is fixed for the call, so when the SDK retries it after a
   * lost response, a FIFO queue answers the retry with the same messages instead of hiding them (and the rest of
   * their groups) for the visibility timeout.
   */
  private async receive(waitTimeSeconds: number, signal: AbortSignal | undefined): Promise<Message[]> {
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

  private sort(batch: Message[]): Sorted {
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

  private remember(messages: NodeMessage[]): void {
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
  private async delete(messages: Message[], receivedAt: number): Promise<void> {
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
  private async makeVisible(messages: Message[], receivedAt: number): Promise<void> {
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

function receiveCount(m: Message): number {
  const n = Number(m.Attributes?.ApproximateReceiveCount ?? "1");
  return Number.isFinite(n) && n > 0 ? n : 1;
}
