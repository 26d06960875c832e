import type { SubscriptionWord } from "../subscription-word.js";
import { appliedField } from "./apply-key.js";
import { compareUtf8, decodeCursor, encodeCursor } from "./codec.js";
import { ClaimRefused, StoreDataError } from "./errors.js";
import { custodyKey, EXPIRY_KEY, ownedKey, sessionKeys, SESSIONS_KEY } from "./keys.js";
import { RedisClusterParts } from "./redis-cluster.js";
import { indexCommands, unindex } from "./redis-index.js";
import { asArray, asInt, asNullableString, asString, flatMap, nodesAt, opResult, sessionRecord, sessionSnapshot } from "./redis-replies.js";
import { retainedCall } from "./redis-retained.js";
import * as S from "./scripts.js";
import { SESSION_CALL_OPS, SessionCall } from "./session-apply.js";
import { type ScriptCall, unwrap } from "./transport.js";
import type {
  ApplyKey,
  ClaimOptions, ClaimResult, ExpiredSession, Page, SessionRecord, SessionSnapshot,
  Store, StoreOp, StoreOpResult,
} from "./types.js";
import * as check from "./validate.js";

export { SESSION_CALL_OPS };

type RetainedOp = Extract<StoreOp, { op: "retained.set" } | { op: "retained.delete" }>;

/** Sessions read per round trip when walking `mqg:sessions`. */
const SCAN_CHUNK = 1000;

function sessionCall(script: S.LuaScript, clientId: string, args: readonly string[]): ScriptCall {
  return { script, keys: sessionKeys(clientId).list, args };
}

/**
 * The Store on Redis, over either transport (TCP or Upstash REST): one schema (keys.ts), one set of Lua scripts
 * (scripts.ts). Binary payloads are encoded as described in codec.ts. See docs/store.md.
 *
 * Its base, `RedisClusterParts` (core/store/redis-cluster.ts), holds the connection and the parts built on it, the
 * route table, custody and retained calls handed to those parts, node records, API keys, counters and `ping`; this
 * file holds sessions (claim, release, expiry, listing, deletion, owners), subscriptions and the batched writes.
 */
export class RedisStore extends RedisClusterParts implements Store {
  /**
   * One round trip: index entries, the claim script, index entries again (redis-index.ts). With `maxSessions`, a
   * persistent claim first reads whether the session exists and how many are stored (one more round trip).
   */
  async claimSession(clientId: string, opts: ClaimOptions): Promise<ClaimResult> {
    check.checkClaim(clientId, opts);
    const expiryMs = opts.clean ? 0 : (opts.expiryMs ?? 0);
    const index: string[][] = [...indexCommands(clientId, opts.node), ["SADD", custodyKey(opts.node), clientId]];
    // The entry can only be lowered (LT): a refused claim cannot push an offline session's expiry back.
    if (expiryMs > 0) index.push(["ZADD", EXPIRY_KEY, "LT", String(opts.now + expiryMs), clientId]);
    const refuseNew = !opts.clean && (opts.maxSessions ?? 0) > 0 && (await this.sessionLimitReached(clientId, opts.maxSessions as number));
    const hasUser = opts.username === null ? "0" : "1";
    const claim = sessionCall(S.CLAIM, clientId, [
      opts.node,
      opts.clean ? "1" : "0",
      hasUser,
      opts.username ?? "",
      String(opts.now),
      opts.identity ?? "",
      String(expiryMs),
      refuseNew ? "1" : "0",
      // '' when not given: the script discards exactly when clean (3.1.1), and records no claim id.
      opts.discard === undefined ? "" : opts.discard ? "1" : "0",
      opts.claimId ?? "",
    ]);
    const res = (await this.client.batch([...index, claim, ...index], { replayPlain: true })).map(unwrap);
    const a = asArray(res[index.length], "claim");
    if (a[0] === -1) {
      // Nothing changed; the index entries this claim added go again unless the session exists (or is owned) after all.
      await unindex(this.client, [{ clientId, node: opts.node, session: true }]);
      const reason = asString(a[1], "claim refusal");
      if (reason !== "identity" && reason !== "session-limit") throw new StoreDataError(`unexpected claim refusal '${reason}'`);
      throw new ClaimRefused(reason, clientId);
    }
    const previousNode = asNullableString(a[1], "previous node");
    if (previousNode !== null && previousNode !== opts.node) await unindex(this.client, [{ clientId, node: previousNode, session: false }]);
    const result: ClaimResult = { epoch: asInt(a[2], "epoch"), present: a[0] === 1, previousNode, snapshot: sessionSnapshot(clientId, a.slice(2)) };
    const previousCustodian = asNullableString(a[7], "previous custodian");
    if (previousCustodian !== null) result.previousCustodian = previousCustodian;
    // Absent from a reply of a script loaded by an older version (the elements end at the custodian, or at the
    // earlier custodian).
    const earlier = nodesAt(a, 8, 4, "earlier holder");
    if (earlier.length > 0) result.earlierHolders = earlier;
    return result;
  }

  /** Whether a claim of `clientId` would create a session beyond `max` (the index may count a few extra entries). */
  private async sessionLimitReached(clientId: string, max: number): Promise<boolean> {
    const [exists, count] = (await this.client.batch([["EXISTS", sessionKeys(clientId).meta], ["ZCARD", SESSIONS_KEY]])).map(unwrap);
    return asInt(exists, "EXISTS") === 0 && asInt(count, "ZCARD") >= max;
  }

  /**
   * Three or four round trips: the due entries of `mqg:expiry`, one pipeline of `expire` scripts, the conditional
   * index update, and for entries removed, a re-check that puts back the entry of a session claimed meanwhile.
   */
  async expireSessions(now: number, limit: number): Promise<ExpiredSession[]> {
    check.checkInt(now, "now");
    check.checkLimit(limit);
    const raw = asArray(await this.client.command(["ZRANGEBYSCORE", EXPIRY_KEY, "-inf", String(now), "WITHSCORES", "LIMIT", "0", String(limit)]), "ZRANGEBYSCORE");
    const due: { id: string; score: string }[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) due.push({ id: asString(raw[i], "client id"), score: String(raw[i + 1]) });
    if (due.length === 0) return [];
    const checks = await this.client.batch(due.map((d) => sessionCall(S.EXPIRE, d.id, [String(now)])));
    const expired: ExpiredSession[] = [];
    const removed: string[] = [];
    const args: string[] = [];
    due.forEach((d, i) => {
      const r = asArray(unwrap(checks[i]), "expire");
      if (r[0] === 1) {
        args.push(d.id, d.score, String(asInt(r[1], "next check")));
        return;
      }
      args.push(d.id, d.score, "");
      removed.push(d.id);
      if (r[0] === 2) {
        expired.push({ clientId: d.id, epoch: asInt(r[1], "epoch"), username: asNullableString(r[2], "username"), identity: asNullableString(r[3], "identity") });
      }
    });
    await this.client.eval(S.EXPIRY_REINDEX, [EXPIRY_KEY], args);
    await this.restoreExpiryEntries(removed, now);
    await unindex(this.client, expired.map((e) => ({ clientId: e.clientId, node: null, session: true })));
    return expired;
  }

  /** Puts back the expiry entry of sessions claimed again (with an expiry) while their entry was being removed. */
  private async restoreExpiryEntries(ids: string[], now: number): Promise<void> {
    if (ids.length === 0) return;
    const res = await this.client.batch(ids.map((id) => ["HGET", sessionKeys(id).meta, "expiry"]));
    const restore: string[][] = [];
    ids.forEach((id, i) => {
      const v = unwrap(res[i]);
      if (v !== null && Number(v) > 0) restore.push(["ZADD", EXPIRY_KEY, "LT", String(now), id]);
    });
    if (restore.length > 0) (await this.client.batch(restore)).forEach(unwrap);
  }

  async releaseSession(clientId: string, epoch: number, now: number, expiryMs?: number): Promise<boolean> {
    check.checkInt(epoch, "epoch");
    check.checkInt(now, "now");
    if (expiryMs !== undefined) check.checkInt(expiryMs, "expiryMs");
    const args = [String(epoch), String(now), expiryMs === undefined ? "" : String(expiryMs)];
    const a = asArray(await this.client.eval(S.RELEASE, sessionKeys(clientId).list, args), "release");
    if (a[0] === 0) return false;
    await unindex(this.client, [{ clientId, node: asNullableString(a[1], "node"), session: a[0] === 2 }]);
    // A new lifetime may be shorter than the one indexed at the claim: the sweep looks at it in time.
    if (a[0] === 1 && expiryMs !== undefined && expiryMs > 0) await this.client.command(["ZADD", EXPIRY_KEY, "LT", String(now + expiryMs), clientId]);
    return true;
  }

  async getSession(clientId: string): Promise<SessionSnapshot | null> {
    const r = await this.client.eval(S.SNAPSHOT, sessionKeys(clientId).list, []);
    return r === null ? null : sessionSnapshot(clientId, asArray(r, "snapshot"));
  }

  async listSessions(opts: { cursor?: string | null; limit: number; connected?: boolean }): Promise<Page<SessionRecord>> {
    check.checkLimit(opts.limit);
    let after = decodeCursor(opts.cursor);
    const items: SessionRecord[] = [];
    for (;;) {
      const want = opts.limit + 1 - items.length;
      const ids = await this.sessionIds(after, want);
      const records = await this.client.batch(ids.map((id) => sessionCall(S.RECORD, id, [])));
      for (let i = 0; i < ids.length; i++) {
        const rec = unwrap(records[i]);
        if (rec === null) continue; // an index entry whose session is gone (see redis-index.ts)
        const [epoch, meta] = asArray(rec, "record");
        const r = sessionRecord(ids[i] as string, epoch, meta);
        if (opts.connected !== undefined && (r.node !== null) !== opts.connected) continue;
        if (items.length === opts.limit) return { items, cursor: encodeCursor((items[items.length - 1] as SessionRecord).clientId) };
        items.push(r);
      }
      if (ids.length < want) return { items, cursor: null };
      after = ids[ids.length - 1] as string;
    }
  }

  async deleteSession(clientId: string): Promise<boolean> {
    const a = asArray(await this.client.eval(S.DELETE, sessionKeys(clientId).list, []), "delete");
    await unindex(this.client, [{ clientId, node: asNullableString(a[1], "node"), session: true }]);
    return a[0] === 1;
  }

  async sessionsOwnedBy(node: string): Promise<string[]> {
    const ids = asArray(await this.client.command(["SMEMBERS", ownedKey(node)]), "SMEMBERS").map((v) => asString(v, "client id"));
    const owners = await this.client.batch(ids.map((id) => ["HGET", sessionKeys(id).meta, "node"]));
    const mine = ids.filter((_, i) => unwrap(owners[i]) === node);
    const stale = ids.filter((_, i) => owners[i] !== node).map((clientId) => ({ clientId, node, session: false }));
    await unindex(this.client, stale);
    return mine.sort(compareUtf8);
  }

  async updateSubscriptions(clientId: string, epoch: number | null, add: Record<string, SubscriptionWord>, remove: string[]): Promise<boolean> {
    check.checkSubscriptions(add, remove);
    if (epoch !== null) check.checkInt(epoch, "epoch");
    const args = [epoch === null ? "" : String(epoch), String(remove.length), ...remove];
    for (const [filter, qos] of Object.entries(add)) args.push(filter, String(qos));
    return asInt(await this.client.eval(S.SUBSCRIPTIONS, sessionKeys(clientId).list, args), "subscriptions") === 1;
  }

  async allSubscriptions(): Promise<{ clientId: string; filter: string; word: SubscriptionWord }[]> {
    const all: { clientId: string; filter: string; word: SubscriptionWord }[] = [];
    let after: string | null = null;
    for (;;) {
      const ids = await this.sessionIds(after, SCAN_CHUNK);
      const subs = await this.client.batch(ids.map((id) => ["HGETALL", sessionKeys(id).subs]));
      ids.forEach((clientId, i) => {
        for (const [filter, qos] of flatMap(unwrap(subs[i]), "subscriptions")) all.push({ clientId, filter, word: Number(qos) });
      });
      if (ids.length < SCAN_CHUNK) break;
      after = ids[ids.length - 1] as string;
    }
    return all.sort((a, b) => compareUtf8(a.clientId, b.clientId) || compareUtf8(a.filter, b.filter));
  }

  /**
   * One round trip (one HTTP request on Upstash): one SESSION_APPLY call per session with all its ops of the batch
   * in order (decision 021; session-apply.ts), one APPLY call per retained op. Sessions are independent, so only
   * each session's own order matters; each call touches one hash slot.
   */
  async apply(ops: StoreOp[], key?: ApplyKey): Promise<StoreOpResult[]> {
    for (const op of ops) check.checkOp(op);
    if (key !== undefined) check.checkApplyKey(key);
    const now = Date.now();
    /** With a key: how many calls each session has had in this batch (each call has its own record). */
    const parts = key === undefined ? null : new Map<string, number>();
    /** Per call: its session ops, or the batch position of its retained op. */
    const calls: (SessionCall | number)[] = [];
    const open = new Map<string, SessionCall>();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as StoreOp;
      if (op.op === "retained.set" || op.op === "retained.delete") {
        calls.push(i);
        continue;
      }
      let call = open.get(op.clientId);
      // A long batch (after a store outage) is cut into calls of at most SESSION_CALL_OPS ops, still one round
      // trip: no single script blocks Redis for long. They run in order, so the session's order is kept.
      if (call === undefined || call.size >= SESSION_CALL_OPS) {
        let record: { field: string; batch: number } | null = null;
        if (key !== undefined && parts !== null) {
          const part = parts.get(op.clientId) ?? 0;
          parts.set(op.clientId, part + 1);
          record = { field: appliedField(key, part), batch: key.batch };
        }
        call = new SessionCall(op.clientId, record);
        open.set(op.clientId, call);
        calls.push(call);
      }
      call.push(op, i, now);
    }
    const res = await this.client.batch(calls.map((c) => (typeof c === "number" ? retainedCall(ops[c] as RetainedOp, now) : c.call(now))));
    const results: StoreOpResult[] = new Array<StoreOpResult>(ops.length);
    calls.forEach((c, k) => {
      const reply = unwrap(res[k]);
      if (typeof c === "number") results[c] = opResult(reply);
      else c.read(reply, ops, results);
    });
    return results;
  }

  /** Up to `count` client ids of `mqg:sessions` after `after`, in byte order. */
  private async sessionIds(after: string | null, count: number): Promise<string[]> {
    const min = after === null ? "-" : `(${after}`;
    const ids = await this.client.command(["ZRANGEBYLEX", SESSIONS_KEY, min, "+", "LIMIT", "0", String(count)]);
    return asArray(ids, "ZRANGEBYLEX").map((v) => asString(v, "client id"));
  }
}
