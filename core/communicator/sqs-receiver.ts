import type { Message } from "@aws-sdk/client-sqs";
import { DeliveryFailed, NodeUnreachable, ReceiveFailed } from "./errors.js";
import { isAborted, isQueueMissing, sleep } from "./sqs-client.js";
import { receiveCount, SqsQueueReader } from "./sqs-queue-reader.js";
import type { NodeMessageHandler } from "./types.js";

export type { ReceiverOptions } from "./sqs-queue-reader.js";

/** Batches of one queue handled at once (received while earlier ones are handled). */
const MAX_HANDLING = 4;

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

/**
 * Reads one queue: the long-poll loop of a running node, and the one-shot drain of a dead node's queue. Messages
 * are deleted only after the handler resolved; a rejected batch is made visible again after `retryDelaySeconds`.
 *
 * Its base, `SqsQueueReader` (core/communicator/sqs-queue-reader.ts), holds the receive, the sorting of a batch, the
 * ids remembered, and the deletes and visibility changes; this file holds the loop, the drain and the hand-back.
 */
export class SqsReceiver extends SqsQueueReader {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  /** Batches whose handler has not finished (at most MAX_HANDLING), with what was received. */
  private readonly handling = new Map<Promise<void>, InFlight>();
  /** Wakes the poll loop waiting for room (MAX_HANDLING): a batch was given back, or the receiver stops. */
  private wake: (() => void) | null = null;

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
}
