import { randomBytes } from "node:crypto";
import { decodeRetained, encodeRetained } from "./codec.js";
import { CursorSeal } from "./cursor.js";
import { CURSOR_SECRET_KEY, RETAINED_KEY, RETAINED_KEYS, RETAINED_STATS_KEY } from "./keys.js";
import { asArray, asInt, asNullableString, asString, retainedPairs } from "./redis-replies.js";
import { levelEntries, retainedDue, retainedSize, SCAN_BUDGET, type Source, SWEEP_BUDGET } from "./retained-index.js";
import { matchAllRetained, openListCursor, scanRetainedPages, sealListCursor, type ScanStep } from "./retained-scan.js";
import * as S from "./scripts-retained.js";
import { type RedisClient, type ScriptCall, unwrap } from "./transport.js";
import type { Page, RetainedRecord, RetainedStats, StoredMessage, StoreOp } from "./types.js";
import * as check from "./validate.js";

/**
 * The APPLY call of one retained op of a batch (scripts-retained.ts). A set sweeps at its `now` when refused for a
 * limit, and (re)indexes the message's due time when it has one.
 */
export function retainedCall(op: Extract<StoreOp, { op: "retained.set" } | { op: "retained.delete" }>, now: number): ScriptCall {
  if (op.op === "retained.delete") return { script: S.APPLY, keys: RETAINED_KEYS, args: [op.op, op.topic] };
  const at = op.now ?? now;
  const size = retainedSize(op.msg.topic, op.msg.payload);
  const due = retainedDue(op.msg);
  const value = encodeRetained(op.msg, size, at);
  const args = [op.op, op.msg.topic, value, String(op.maxRetained), String(size), op.maxBytes === undefined ? "" : String(op.maxBytes)];
  args.push(due === undefined ? "" : String(due), String(at));
  return { script: S.APPLY, keys: RETAINED_KEYS, args: [...args, ...levelEntries(op.msg.topic)] };
}

/**
 * Retained messages on Redis (either transport): reads through the retained index (retained-index.ts), and the
 * sweep of expired messages. Writes go through `RedisStore.apply` with `retainedCall`. See docs/store.md.
 */
export class RedisRetained {
  /** The cursor seal, once its secret was read from (or created in) Redis. */
  private seal: Promise<CursorSeal> | null = null;

  constructor(private readonly client: RedisClient) {}

  async get(topic: string): Promise<RetainedRecord | null> {
    const v = await this.client.command(["HGET", RETAINED_KEY, topic]);
    return v === null ? null : decodeRetained(asString(v, "retained message"));
  }

  /** Every match, walked page by page through the index (bounded calls; for small results). */
  match(filter: string): Promise<StoredMessage[]> {
    return matchAllRetained(filter, (f, opts) => this.scan(f, opts));
  }

  async list(opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    check.checkLimit(opts.limit);
    const seal = await this.cursorSeal();
    const after = openListCursor(seal, opts.cursor);
    // At most SCAN_BUDGET messages per page, so one script never reads more (whatever `limit` asks).
    const limit = Math.min(opts.limit, SCAN_BUDGET);
    const args = [after === null ? "0" : "1", after ?? "", String(limit + 1)];
    const msgs = retainedPairs(await this.client.eval(S.RETAINED_PAGE, RETAINED_KEYS, args));
    const items = msgs.slice(0, limit);
    return { items, cursor: msgs.length > limit ? sealListCursor(seal, (items[items.length - 1] as StoredMessage).topic) : null };
  }

  async scan(filter: string, opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    const step = async (sources: readonly Source[], source: number | null, after: string | null, limit: number): Promise<ScanStep> => {
      const args = [filter, source === null ? "" : String(source), after ?? "", String(limit)];
      for (const s of sources) args.push(s.kind, s.prefix);
      const a = asArray(await this.client.eval(S.RETAINED_SCAN, RETAINED_KEYS, args), "retained scan");
      return { source: asInt(a[0], "source"), next: asNullableString(a[1], "next entry"), items: retainedPairs(a, 2) };
    };
    return scanRetainedPages(filter, opts, await this.cursorSeal(), (t) => this.get(t), step);
  }

  async stats(): Promise<RetainedStats> {
    const [count, bytes] = (await this.client.batch([["HLEN", RETAINED_KEY], ["HGET", RETAINED_STATS_KEY, "bytes"]])).map(unwrap);
    return { count: asInt(count, "HLEN"), bytes: bytes === null ? 0 : Number(asString(bytes, "bytes")) };
  }

  /** One `retainedSweep` script per SWEEP_BUDGET due entries, until `limit` entries were looked at or none is left. */
  async sweep(now: number, limit: number): Promise<number> {
    check.checkInt(now, "now");
    check.checkLimit(limit);
    let removed = 0;
    for (let left = limit; left > 0; ) {
      const n = Math.min(left, SWEEP_BUDGET);
      const a = asArray(await this.client.eval(S.RETAINED_SWEEP, RETAINED_KEYS, [String(now), String(n)]), "retained sweep");
      removed += asInt(a[0], "removed");
      const examined = asInt(a[1], "examined");
      if (examined < n) break;
      left -= examined;
    }
    return removed;
  }

  /** The seal for page cursors: its secret is created once per Redis (SET NX) and read once per store. */
  private cursorSeal(): Promise<CursorSeal> {
    this.seal ??= this.client
      .batch([["SET", CURSOR_SECRET_KEY, randomBytes(32).toString("hex"), "NX"], ["GET", CURSOR_SECRET_KEY]])
      .then((r) => new CursorSeal(Buffer.from(asString(unwrap(r[1]), "cursor secret"), "hex")));
    this.seal.catch(() => (this.seal = null));
    return this.seal;
  }
}
