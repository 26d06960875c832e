import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { SQS_BATCH_ENTRIES } from "./constants.js";
import { BufferFull, SendFailed } from "./errors.js";
import { describeError, sleep, sqsToken } from "./sqs-client.js";

/**
 * Sends FIFO messages to one queue in SendMessageBatch calls of up to 10 entries and `maxBatchBytes`, for the
 * node queues and the events queue.
 *
 * Order: entries are spread over `lanes` by MessageGroupId; a lane sends one batch at a time, in arrival order, and
 * retries a batch's failed entries before it takes new ones. So entries of one group are enqueued in the order
 * they were given to `send`, while different groups go out in parallel. Entries that arrive while a lane is busy
 * are coalesced into its next batch; `lingerMs` > 0 also waits that long for a batch to fill.
 *
 * Packing (`pack`, node queues only): consecutive entries of one group in a batch travel as ONE SQS message whose
 * body is a JSON array of their bodies. A FIFO group delivers one receive's worth at a time, so this multiplies
 * what one group (one publishing node) can move per round trip; the receiver unpacks (schema.ts).
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
  /** Pack entries of one group into one SQS message (a JSON array of their bodies). Default false. */
  pack?: boolean;
}

/** One SQS entry of a batch: one entry, or (packing) several of one group. */
interface Slot {
  items: Pending[];
  groupId: string;
  /** Bytes of the SQS body this slot becomes. */
  bytes: number;
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

  /**
   * Up to 10 SQS entries and maxBatchBytes (at least one entry), skipping entries of calls that already failed.
   * Packing appends an entry to its group's slot (one slot per group and batch, so order within a group holds).
   */
  private take(lane: Lane): Slot[] {
    const slots: Slot[] = [];
    const byGroup = this.opts.pack === true ? new Map<string, Slot>() : null;
    let bytes = 0;
    for (;;) {
      const next = lane.queue[0];
      if (next === undefined) break;
      if (next.ticket.settled) {
        lane.queue.shift();
        this.buffered--;
        continue;
      }
      const slot = byGroup?.get(next.entry.groupId);
      // A packed entry adds its bytes and a comma; a new slot its bytes (and brackets, counted when it grows).
      const extra = slot !== undefined ? next.entry.bytes + (slot.items.length === 1 ? 3 : 1) : next.entry.bytes;
      if (slots.length > 0 && bytes + extra > this.opts.maxBatchBytes) break;
      if (slot === undefined && slots.length >= SQS_BATCH_ENTRIES) break;
      lane.queue.shift();
      bytes += extra;
      if (slot !== undefined) {
        slot.items.push(next);
        slot.bytes += extra;
      } else {
        const created: Slot = { items: [next], groupId: next.entry.groupId, bytes: next.entry.bytes };
        slots.push(created);
        byGroup?.set(created.groupId, created);
      }
    }
    return slots;
  }

  private async sendBatch(batch: Slot[]): Promise<void> {
    let pending = batch;
    let reason = "";
    for (let attempt = 1; pending.length > 0 && attempt <= this.opts.attempts; attempt++) {
      if (attempt > 1) await sleep(this.opts.retryBaseMs * 2 ** (attempt - 2));
      try {
        const url = await this.opts.queueUrl();
        const res = await this.opts.client.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: pending.map((slot, i) => ({
              Id: String(i),
              MessageBody: slotBody(slot),
              MessageGroupId: slot.groupId,
              MessageDeduplicationId: slotDedupId(slot),
            })),
          }),
        );
        for (const ok of res.Successful ?? []) {
          const slot = pending[Number(ok.Id)];
          if (slot !== undefined) for (const p of slot.items) this.succeed(p);
        }
        const retry: Slot[] = [];
        for (const failed of res.Failed ?? []) {
          const slot = pending[Number(failed.Id)];
          if (slot === undefined) continue;
          reason = `${failed.Code ?? "error"}: ${failed.Message ?? ""}`;
          if (failed.SenderFault === true) {
            const err = new SendFailed(this.opts.target, slot.items.map((p) => p.entry.id), reason);
            for (const p of slot.items) this.fail(p, err);
          } else {
            retry.push(slot);
          }
        }
        pending = retry;
      } catch (err) {
        const fatal = this.opts.fatal?.(err) ?? null;
        if (fatal !== null) {
          for (const slot of pending) for (const p of slot.items) this.fail(p, fatal);
          return;
        }
        reason = describeError(err);
      }
    }
    if (pending.length > 0) {
      const items = pending.flatMap((slot) => slot.items);
      const err = new SendFailed(this.opts.target, items.map((p) => p.entry.id), reason);
      for (const p of items) this.fail(p, err);
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

/** The SQS body of a slot: the entry's body, or a JSON array of the packed bodies. */
function slotBody(slot: Slot): string {
  if (slot.items.length === 1) return (slot.items[0] as Pending).entry.body;
  return `[${slot.items.map((p) => p.entry.body).join(",")}]`;
}

/** A packed message's dedup id: fixed by its first entry and size, so a retry of the same slot repeats it. */
function slotDedupId(slot: Slot): string {
  const first = (slot.items[0] as Pending).entry;
  if (slot.items.length === 1) return first.dedupId;
  return sqsToken(`p${slot.items.length}:${first.dedupId}`);
}
