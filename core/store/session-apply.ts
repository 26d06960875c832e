import { StoreDataError } from "./errors.js";
import { encodeOutgoingBody } from "./codec.js";
import { DEDUP_WINDOW_MS, sessionKeys } from "./keys.js";
import { asArray, asInt, asString } from "./redis-replies.js";
import { SESSION_APPLY } from "./scripts-session.js";
import type { ScriptCall } from "./transport.js";
import type { StoreOp, StoreOpResult } from "./types.js";

/** Most session ops in one `sessionApply` call (about 3 ms of Redis time; see RedisStore.apply). */
export const SESSION_CALL_OPS = 1000;

export type SessionOp = Exclude<StoreOp, { op: "retained.set" } | { op: "retained.delete" }>;

/**
 * A run of ops sent as one: where its last argument is in the call's ops and its value (the highest seq of sends, the
 * last seq of a delete range, the count of an 'E' run), written into the ops when the call is made.
 */
interface Run {
  at: number;
  value: number;
}

/** A run of sends or deletes: one op of the call, answering for the batch positions of all of them. */
interface FoldedRun extends Run {
  positions: number[];
}

const REFUSALS: Record<string, StoreOpResult> = {
  f: { ok: false, reason: "fenced" },
  n: { ok: false, reason: "no-session" },
  F: { ok: false, reason: "full" },
  u: { ok: false, reason: "duplicate" },
};

/**
 * The ops of one session in one `apply` batch, as one SESSION_APPLY call (scripts-session.ts, decision 021): built op
 * by op, then sent, then its reply read into the batch's results.
 *
 * Under fan-in a batch is runs of "PUBACK → delete, next message → sent" between runs of enqueues, and Redis pays
 * for every argument and every Lua step, so runs are sent as one op: consecutive enqueues without a dedup id share
 * one 'E' (one argument per message: its value); the sends of a run become one boundary move to the highest seq, and
 * deletes of consecutive seqs one range, as long as no enqueue and no other epoch comes between them. Folding the
 * sends and deletes forward does not change what the ops do: neither reads anything the ops between them write (an
 * update of a deleted entry does nothing, before or after the delete), only an enqueue looks at the boundary (its
 * bound counts what is queued), so a run ends at one, and fencing is decided by the epoch, the same for the run.
 */
export class SessionCall {
  /** Ops taken, folded or not (a call takes at most SESSION_CALL_OPS). */
  size = 0;
  /** Per op of the call that answers (one reply character): the batch position, or positions of a folded run. */
  private readonly positions: (number | number[])[] = [];
  /** Seqs of the updates, in op order (ARGV[3..]; each 'u' takes the next). */
  private readonly names: string[] = [];
  private readonly ops: string[] = [];
  /** The last 'p' and 'k' sent: consecutive ops that share them do not repeat them. */
  private params = "";
  private epoch: string | null = null;
  /** Every run of the call; the open ones below may still grow. */
  private readonly runs: Run[] = [];
  private sent: FoldedRun | null = null;
  private deleted: FoldedRun | null = null;
  /** The open 'E' run (enqueues without a dedup id), while nothing else follows it in `ops`. */
  private enqueues: Run | null = null;
  private enqueuesEnd = -1;

  /**
   * `clientId`'s ops of one batch; with `record` (apply-key.ts: the record field of this call and the batch number),
   * a retry of the call is answered from the record instead of applied again (decision 030).
   */
  constructor(
    readonly clientId: string,
    private readonly record: { field: string; batch: number } | null = null,
  ) {}

  push(op: SessionOp, position: number, now: number): void {
    this.size++;
    if (op.op === "enqueue") {
      this.pushEnqueue(op, position, now);
      return;
    }
    const epoch = String(op.epoch);
    if (epoch !== this.epoch) {
      this.ops.push("k", epoch);
      this.epoch = epoch;
      this.sent = null;
      this.deleted = null;
    }
    switch (op.op) {
      case "outgoing.sent":
        if (this.sent === null) this.sent = this.fold("s", op.seq, op.seq, position);
        else {
          this.sent.value = Math.max(this.sent.value, op.seq);
          this.sent.positions.push(position);
        }
        return;
      case "outgoing.delete":
        if (this.deleted !== null && op.seq === this.deleted.value + 1) {
          this.deleted.value = op.seq;
          this.deleted.positions.push(position);
        } else this.deleted = this.fold("x", op.seq, op.seq, position);
        return;
      case "outgoing.update":
        this.names.push(String(op.seq));
        this.ops.push("u", `${op.packetId}:${op.state}`);
        this.positions.push(position);
        return;
      case "inbound2.add":
      case "inbound2.delete":
        // A root travels as "<packetId>|<root>" (the set member of an id still being routed, decision 025).
        this.ops.push(op.op === "inbound2.add" ? "a" : "r", op.op === "inbound2.add" && op.root !== undefined ? `${op.packetId}|${op.root}` : String(op.packetId));
        this.positions.push(position);
        return;
    }
  }

  /** The script call: the record (decision 030), then the updates' seqs (one HMGET), then the ops. */
  call(now: number): ScriptCall {
    for (const run of this.runs) this.ops[run.at] = String(run.value);
    const rec = this.record;
    const head = [String(DEDUP_WINDOW_MS), rec?.field ?? "", rec === null ? "" : String(rec.batch), String(now)];
    return { script: SESSION_APPLY, keys: sessionKeys(this.clientId).list, args: [...head, String(this.names.length), ...this.names, ...this.ops] };
  }

  /** Reads the script's reply into the results of this call's ops. */
  read(reply: unknown, ops: readonly StoreOp[], results: StoreOpResult[]): void {
    const a = asArray(reply, "session apply");
    const codes = asString(a[0], "session apply codes");
    if (codes.length !== this.positions.length) throw new StoreDataError("unexpected Redis reply: session apply length");
    // The enqueues done take the seqs after the counter's value before the call, in order.
    let next = asInt(a[1], "seq counter") + 1;
    let x = 2;
    for (let k = 0; k < codes.length; k++) {
      const pos = this.positions[k] as number | number[];
      const c = codes[k] as string;
      if (typeof pos !== "number") {
        // A folded run: one answer for all its ops (done, fenced or no-session: decided by the epoch alone).
        const r = c === "1" ? { ok: true } : REFUSALS[c];
        if (r === undefined) throw new StoreDataError(`unexpected Redis reply: session apply code '${c}'`);
        for (const p of pos) results[p] = { ...r } as StoreOpResult;
      } else if (c === "1") {
        results[pos] = ops[pos]?.op === "enqueue" ? { ok: true, seq: next++ } : { ok: true };
      } else if (c === "D") {
        results[pos] = { ok: true, seq: next++, dropped: asInt(a[x++], "dropped seq") };
      } else if (c === "U") {
        results[pos] = { ok: false, reason: "duplicate", seq: asInt(a[x++], "queued seq") };
      } else if (c === "o") {
        results[pos] = { ok: false, reason: "owned", node: asString(a[x++], "owner node") };
      } else {
        const r = REFUSALS[c];
        if (r === undefined) throw new StoreDataError(`unexpected Redis reply: session apply code '${c}'`);
        results[pos] = { ...r } as StoreOpResult;
      }
    }
  }

  private pushEnqueue(op: Extract<StoreOp, { op: "enqueue" }>, position: number, now: number): void {
    // An enqueue reads the boundary and the queue (its bound): no run folds across it.
    this.sent = null;
    this.deleted = null;
    const dedup = op.dedupId ?? "";
    const epoch = op.epoch === undefined ? "" : String(op.epoch);
    // '1' refuses any owner; '=<node>' any owner but that node (exceptOwner)
    const unowned = op.unowned !== true ? "0" : op.exceptOwner === undefined ? "1" : `=${op.exceptOwner}`;
    const at = String(op.now ?? now);
    const params = `${op.maxQueued}|${op.dropPolicy}|${epoch}|${unowned}|${at}`;
    if (params !== this.params) {
      this.ops.push("p", String(op.maxQueued), op.dropPolicy, epoch, unowned, at);
      this.params = params;
    }
    const value = `${op.entry.packetId}:0:${encodeOutgoingBody(op.entry)}`;
    this.positions.push(position);
    if (dedup !== "") {
      this.ops.push("e", value, dedup);
      return;
    }
    // Consecutive enqueues (nothing else in between) share one 'E' and its count: one argument per message.
    if (this.enqueues !== null && this.enqueuesEnd === this.ops.length) this.enqueues.value++;
    else {
      this.ops.push("E", "");
      this.enqueues = { at: this.ops.length - 1, value: 1 };
      this.runs.push(this.enqueues);
    }
    this.ops.push(value);
    this.enqueuesEnd = this.ops.length;
  }

  /** Starts a run of sends or deletes: `code` with its seq argument(s) (a delete range has two, from and to). */
  private fold(code: "s" | "x", from: number, seq: number, position: number): FoldedRun {
    if (code === "x") this.ops.push(code, String(from), "");
    else this.ops.push(code, "");
    const run = { at: this.ops.length - 1, value: seq, positions: [position] };
    this.runs.push(run);
    this.positions.push(run.positions);
    return run;
  }
}
