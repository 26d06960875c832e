import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { SQS_BATCH_ENTRIES } from "./constants.js";
import { BufferFull, SendFailed } from "./errors.js";
import { describeError, sleep } from "./sqs-client.js";

/**
 * Sends FIFO messages to one queue in SendMessageBatch calls of up to 10 entries and `maxBatchBytes`, for the
 * node queues and the events queue.
 *
 * Order: entries are spread over `lanes` by MessageGroupId; a lane sends one batch at a time, in arrival order, and
 * retries a batch's failed entries before it takes new ones. So entries of one group are enqueued in the order
 * they were given to `send`, while different groups go out in parallel. Entries that arrive while a lane is busy
 * are coalesced into its next batch; `lingerMs` > 0 also waits that long for a batch to fill.
 *
 * Bounds: at most `maxBuffered` entries wait or are in flight (a `send` beyond is refused with BufferFull);
 * `attempts` tries per entry (the SDK's own retries of a whole call come on top), then SendFailed.
 */

export interface OutEntry {
  /** Identifies the entry in errors (the message or event id). */
  id: string;
  body: string;
  /** UTF-8 size of `body`. */
  bytes: number;
  groupId: string;
  dedupId: string;
}

export interface BatchSenderOptions {
  client: SQSClient;
  /** Names the destination in errors (a node id, or the events queue). */
  target: string;
  /** The queue URL, looked up when needed (may be cached by the caller). */
  queueUrl: () => Promise<string>;
  lanes: number;
  maxBuffered: number;
  maxBatchBytes: number;
  lingerMs: number;
  attempts: number;
  retryBaseMs: number;
  /** An error of a whole call that no retry can fix, as callers should see it (e.g. NodeUnreachable); else null. */
  fatal?: (err: unknown) => Error | null;
}

interface Ticket {
  remaining: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Pending {
  entry: OutEntry;
  ticket: Ticket;
}

class Lane {
  readonly queue: Pending[] = [];
  running: Promise<void> | null = null;
  timer: NodeJS.Timeout | null = null;
}

export class SqsBatchSender {
  private readonly lanes: Lane[];
  private buffered = 0;

  constructor(private readonly opts: BatchSenderOptions) {
    this.lanes = Array.from({ length: Math.max(1, opts.lanes) }, () => new Lane());
  }

  /** Entries waiting or in flight. */
  get size(): number {
    return this.buffered;
  }

  /** Resolves once SQS accepted every entry; rejects on the first that cannot be sent (the others still go). */
  send(entries: readonly OutEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    if (this.buffered + entries.length > this.opts.maxBuffered) {
      return Promise.reject(new BufferFull(this.opts.target, this.opts.maxBuffered));
    }
    return new Promise<void>((resolve, reject) => {
      const ticket: Ticket = { remaining: entries.length, settled: false, resolve, reject };
      for (const entry of entries) {
        const lane = this.laneOf(entry.groupId);
        lane.queue.push({ entry, ticket });
        this.buffered++;
        this.schedule(lane);
      }
    });
  }

  /** Sends what is buffered now and resolves when nothing is left. */
  async flush(): Promise<void> {
    for (;;) {
      for (const lane of this.lanes) {
        if (lane.timer !== null) {
          clearTimeout(lane.timer);
          lane.timer = null;
          this.run(lane);
        }
      }
      const running = this.lanes.map((l) => l.running).filter((r) => r !== null);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  private laneOf(groupId: string): Lane {
    if (this.lanes.length === 1) return this.lanes[0] as Lane;
    let h = 0;
    for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
    return this.lanes[(h >>> 0) % this.lanes.length] as Lane;
  }

  private schedule(lane: Lane): void {
    if (lane.running !== null || lane.timer !== null) return;
    if (this.opts.lingerMs > 0 && lane.queue.length < SQS_BATCH_ENTRIES) {
      lane.timer = setTimeout(() => {
        lane.timer = null;
        this.run(lane);
      }, this.opts.lingerMs);
      return;
    }
    this.run(lane);
  }

  /** Starts the lane after the caller's synchronous code (sends made in the same tick share a batch). */
  private run(lane: Lane): void {
    if (lane.running === null) lane.running = Promise.resolve().then(() => this.drain(lane));
  }

  private async drain(lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) await this.sendBatch(this.take(lane));
    } finally {
      lane.running = null;
    }
  }

  /** Up to 10 entries and maxBatchBytes (at least one), skipping entries of calls that already failed. */
  private take(lane: Lane): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (batch.length < SQS_BATCH_ENTRIES) {
      const next = lane.queue[0];
      if (next === undefined) break;
      if (next.ticket.settled) {
        lane.queue.shift();
        this.buffered--;
        continue;
      }
      if (batch.length > 0 && bytes + next.entry.bytes > this.opts.maxBatchBytes) break;
      lane.queue.shift();
      batch.push(next);
      bytes += next.entry.bytes;
    }
    return batch;
  }

  private async sendBatch(batch: Pending[]): Promise<void> {
    let pending = batch;
    let reason = "";
    for (let attempt = 1; pending.length > 0 && attempt <= this.opts.attempts; attempt++) {
      if (attempt > 1) await sleep(this.opts.retryBaseMs * 2 ** (attempt - 2));
      try {
        const url = await this.opts.queueUrl();
        const res = await this.opts.client.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: pending.map((p, i) => ({
              Id: String(i),
              MessageBody: p.entry.body,
              MessageGroupId: p.entry.groupId,
              MessageDeduplicationId: p.entry.dedupId,
            })),
          }),
        );
        for (const ok of res.Successful ?? []) {
          const p = pending[Number(ok.Id)];
          if (p !== undefined) this.succeed(p);
        }
        const retry: Pending[] = [];
        for (const failed of res.Failed ?? []) {
          const p = pending[Number(failed.Id)];
          if (p === undefined) continue;
          reason = `${failed.Code ?? "error"}: ${failed.Message ?? ""}`;
          if (failed.SenderFault === true) this.fail(p, new SendFailed(this.opts.target, [p.entry.id], reason));
          else retry.push(p);
        }
        pending = retry;
      } catch (err) {
        const fatal = this.opts.fatal?.(err) ?? null;
        if (fatal !== null) {
          for (const p of pending) this.fail(p, fatal);
          return;
        }
        reason = describeError(err);
      }
    }
    if (pending.length > 0) {
      const err = new SendFailed(this.opts.target, pending.map((p) => p.entry.id), reason);
      for (const p of pending) this.fail(p, err);
    }
  }

  private succeed(p: Pending): void {
    this.buffered--;
    const t = p.ticket;
    if (--t.remaining === 0 && !t.settled) {
      t.settled = true;
      t.resolve();
    }
  }

  private fail(p: Pending, err: Error): void {
    this.buffered--;
    const t = p.ticket;
    t.remaining--;
    if (!t.settled) {
      t.settled = true;
      t.reject(err);
    }
  }
}
