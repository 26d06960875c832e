import type { StoredMessage, StoredOutgoing } from "./message-types.js";

/**
 * The batched writes of `Store.apply`: the ops (`StoreOp`), the key that makes a retried call recognisable
 * (`ApplyKey`) and each op's answer (`StoreOpResult`). Part of the Store contract (core/store/types.ts), which
 * re-exports them.
 */

/** One write in a batch. Owner writes carry the epoch; `enqueue` may come from anyone. */
export type StoreOp =
  /**
   * Appends an outgoing message (seq assigned by the store, above the sent boundary). `packetId` non-zero stores it
   * directly as in flight (the owner sends it at once); 0 queues it. The bound `maxQueued` counts queued entries
   * only (packet id 0 and above the boundary): when full, "oldest" drops the oldest queued entry (its seq is
   * returned as `dropped`), "newest" refuses this one.
   * `epoch` makes it an owner write (fenced like the others). `unowned` (a node that does not own the session
   * queues for it) refuses with "owned" and the owner's node id while a node owns the session: the message must
   * go to that node instead, which otherwise would never see it (it read the session when it claimed it).
   * `exceptOwner` (with `unowned`): not refused while that node owns the session (the caller is that node, which
   * holds the session without a connection, or a dead node being drained): stored then, and refused as "owned" if
   * another node claimed the session meanwhile (decision 041).
   */
  | {
      op: "enqueue";
      clientId: string;
      entry: Omit<StoredOutgoing, "seq" | "state">;
      maxQueued: number;
      dropPolicy: "oldest" | "newest";
      epoch?: number;
      unowned?: boolean;
      exceptOwner?: string;
      /**
       * Idempotency key (the id of the node message that caused it): refused as "duplicate" when this session
       * enqueued a message under it within the last DEDUP_WINDOW_MS (keys.ts), so a redelivered node message is
       * not delivered twice. An owner write (`epoch`) refused so is told the `seq` of the entry stored under the key
       * by a write that may land after a claim read the queue (neither an owner's nor refused while any node owns the
       * session: a forward stored regardless of its owner after `maxHops`, or while `exceptOwner` owns it) while
       * that entry is still queued: the owner's snapshot may not have it, so it takes it (broker/session-outbox.ts).
       */
      dedupId?: string;
      /** The time the dedup window counts from (epoch ms; default: the store's clock). */
      now?: number;
    }
  /**
   * Sets an entry's packet id and state (QoS 2: PUBREC received, state 1). An entry at or below the sent boundary
   * stays in flight: packet id 0 gives it back `sentPacketId(seq)`, it never becomes queued again.
   */
  | { op: "outgoing.update"; clientId: string; epoch: number; seq: number; packetId: number; state: 0 | 1 }
  /**
   * The sent boundary: every entry up to and including `seq` was sent (the owner sends in seq order). Those without
   * a packet id of their own are in flight from now on, with `sentPacketId(seq)` and state 0. The boundary only
   * moves forward and never beyond the last seq assigned; a session started over (discarded, deleted) has none.
   * One number per session: a batch of sends costs one write, not one per message (decision 021).
   */
  | { op: "outgoing.sent"; clientId: string; epoch: number; seq: number }
  | { op: "outgoing.delete"; clientId: string; epoch: number; seq: number }
  /**
   * With `root`: the id was received and is being routed under `root` (kept unless the id is already there);
   * without: its routing finished (the root, if any, is dropped). Decision 025.
   */
  | { op: "inbound2.add"; clientId: string; epoch: number; packetId: number; root?: string }
  | { op: "inbound2.delete"; clientId: string; epoch: number; packetId: number }
  /**
   * Stores a retained message. Refused with "full" when it would take the retained set beyond `maxRetained`
   * messages or (when given) `maxBytes` bytes (topic + payload; a replace that does not grow is always accepted),
   * counting no message expired at `now` (see sweepRetained). `now` is its update time (epoch ms; default: the
   * store's clock).
   */
  | { op: "retained.set"; msg: StoredMessage; maxRetained: number; maxBytes?: number; now?: number }
  | { op: "retained.delete"; topic: string };

/**
 * Names one `apply` call of a writer that sends its calls one at a time and retries each one, unchanged (the same
 * ops in the same order), until it is answered: the broker's journal. `writer` is unique per writer instance (a
 * journal of one process), `batch` grows with each new call. The store remembers, per session, the last call of
 * each writer and its results, so a retry after a lost reply gets the first results instead of a second
 * application (decision 030). A writer that does not send one call at a time must not pass a key.
 */
export interface ApplyKey {
  /** 1-64 characters of [A-Za-z0-9_.:-]. */
  writer: string;
  /** A positive integer, larger than every earlier call of this writer. */
  batch: number;
}

export type StoreOpResult =
  | { ok: true; seq?: number; dropped?: number }
  | { ok: false; reason: "fenced" | "full" | "no-session" }
  /** `seq`: an entry stored under the dedup id by a write that may land after a claim, still queued (see `enqueue`). */
  | { ok: false; reason: "duplicate"; seq?: number }
  | { ok: false; reason: "owned"; node: string };
