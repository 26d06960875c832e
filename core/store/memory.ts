import type { SubscriptionWord } from "../subscription-word.js";
import { compareUtf8, decodeCursor, encodeCursor } from "./codec.js";
import { VERSION_TOMBSTONE_MS } from "./keys.js";
import { MemoryClusterParts } from "./memory-cluster.js";
import type { Adoption } from "./routes-types.js";
import { applyKeyed } from "./memory-retries.js";
import { applySessionOp, newSession, newVersion, NO_NODES, sessionRecord, sessionSnapshot, type ClaimRecord, type MemSession } from "./memory-state.js";
import { ClaimRefused } from "./errors.js";
import type {
  ApplyKey,
  ClaimOptions, ClaimResult, ExpiredSession, Page, SessionRecord, SessionSnapshot,
  Store, StoreOp, StoreOpResult,
} from "./types.js";
import { claimHolders, distinctNodes } from "./types.js";
import * as check from "./validate.js";

/**
 * The embedded store: plain maps in this process. It behaves exactly like the Redis store (same fencing, bounds,
 * ordering, pagination and refusals; the contract suite runs on both) but nothing survives the process.
 *
 * Its base, `MemoryClusterParts` (core/store/memory-cluster.ts), declares the fields and holds the route table,
 * retained messages, node records, API keys, counters and `ping`; this file holds sessions (claim, release, expiry,
 * listing, deletion, owners), custody, subscriptions and the batched writes.
 */
export class MemoryStore extends MemoryClusterParts implements Store {
  async claimSession(clientId: string, opts: ClaimOptions): Promise<ClaimResult> {
    check.checkClaim(clientId, opts);
    this.pruneTombstones();
    const existing = this.sessions.get(clientId);
    // Both refusals change nothing: no epoch, no owner, no wipe (the same checks the claim script makes).
    if (existing !== undefined && opts.identity !== undefined && existing.identity !== null && existing.identity !== opts.identity) {
      throw new ClaimRefused("identity", clientId);
    }
    if (existing === undefined && !opts.clean && (opts.maxSessions ?? 0) > 0 && this.sessions.size >= (opts.maxSessions as number)) {
      throw new ClaimRefused("session-limit", clientId);
    }
    const repeated = existing === undefined ? undefined : this.repeatedClaim(clientId, existing, opts);
    if (repeated !== undefined) return repeated;
    const previousNode = existing?.node ?? null;
    const previousCustodian = existing?.custodian ?? null;
    const v = this.versions.get(clientId) ?? newVersion();
    // The holders the claim being superseded took the session from (its node may have died before kicking them),
    // and the ones the claim before it took it from (a cascade of two).
    const prior = existing !== undefined && v.claim !== undefined && v.claim.epoch === v.epoch ? v.claim : undefined;
    const oneBack = prior === undefined ? NO_NODES : orNone(claimHolders(prior.previousNode, prior.previousCustodian));
    const earlierHolders = prior === undefined ? NO_NODES : orNone(owedBy(prior));
    v.epoch++;
    this.versions.set(clientId, v);
    this.tombstones.delete(clientId);
    // `discard` (MQTT 5 Clean Start) decides whether the state is kept; `clean` whether the session outlives the
    // connection. 3.1.1's Clean Session is both, hence the default.
    const discard = opts.discard ?? opts.clean;
    const s = discard || existing === undefined ? newSession(v.seq) : existing;
    const identity = opts.identity ?? existing?.identity ?? null;
    const expiryMs = opts.clean ? 0 : (opts.expiryMs ?? 0);
    Object.assign(s, { clean: opts.clean, node: opts.node, custodian: opts.node, username: opts.username, identity, expiryMs, connectedAt: opts.now, disconnectedAt: null });
    this.sessions.set(clientId, s);
    this.sessionIds.add(clientId);
    // It cannot expire before now + expiryMs (it is online now); an earlier entry stays and is rescheduled when due.
    if (expiryMs > 0) this.expiry.set(clientId, opts.now + expiryMs, true);
    const present = !discard && existing !== undefined;
    if (opts.claimId !== undefined) v.claim = { id: opts.claimId, epoch: v.epoch, present, previousNode, previousCustodian, earlierHolders, oneBack };
    return claimResult(clientId, s, v.epoch, { present, previousNode, previousCustodian, earlierHolders, oneBack });
  }

  /**
   * The first answer again when `claimId` names the session's last claim, nothing claimed it since and the claiming
   * node still owns it (not released meanwhile) (decision 034).
   */
  private repeatedClaim(clientId: string, s: MemSession, opts: ClaimOptions): ClaimResult | undefined {
    const v = this.versions.get(clientId);
    const rec = v?.claim;
    if (opts.claimId === undefined || v === undefined || rec === undefined || rec.id !== opts.claimId || rec.epoch !== v.epoch || s.node !== opts.node) return undefined;
    return claimResult(clientId, s, v.epoch, rec);
  }

  async releaseSession(clientId: string, epoch: number, now: number, expiryMs?: number): Promise<boolean> {
    check.checkInt(epoch, "epoch");
    check.checkInt(now, "now");
    if (expiryMs !== undefined) check.checkInt(expiryMs, "expiryMs");
    const s = this.sessions.get(clientId);
    if (s === undefined || this.versions.get(clientId)?.epoch !== epoch) return false;
    if (s.clean || expiryMs === 0) {
      this.drop(clientId);
      return true;
    }
    Object.assign(s, { node: null, disconnectedAt: now });
    if (expiryMs !== undefined) {
      s.expiryMs = expiryMs;
      this.expiry.set(clientId, now + expiryMs, true);
    }
    return true;
  }

  async getSession(clientId: string): Promise<SessionSnapshot | null> {
    const s = this.sessions.get(clientId);
    return s === undefined ? null : sessionSnapshot(clientId, s, this.epochOf(clientId));
  }

  async listSessions(opts: { cursor?: string | null; limit: number; connected?: boolean }): Promise<Page<SessionRecord>> {
    check.checkLimit(opts.limit);
    let after = decodeCursor(opts.cursor);
    const items: SessionRecord[] = [];
    for (;;) {
      const want = opts.limit + 1 - items.length;
      const ids = this.sessionIds.after(after, want);
      for (const id of ids) {
        const s = this.sessions.get(id) as MemSession;
        if (opts.connected !== undefined && (s.node !== null) !== opts.connected) continue;
        if (items.length === opts.limit) return { items, cursor: encodeCursor((items[items.length - 1] as SessionRecord).clientId) };
        items.push(sessionRecord(id, s, this.epochOf(id)));
      }
      if (ids.length < want) return { items, cursor: null };
      after = ids[ids.length - 1] as string;
    }
  }

  async deleteSession(clientId: string): Promise<boolean> {
    if (!this.sessions.has(clientId)) return false;
    this.drop(clientId);
    return true;
  }

  async sessionsOwnedBy(node: string): Promise<string[]> {
    const ids: string[] = [];
    for (const [id, s] of this.sessions) if (s.node === node) ids.push(id);
    return ids.sort(compareUtf8);
  }

  // --- custody (routes-types.ts) ---

  async custodianOf(clientId: string): Promise<string | null> {
    return this.sessions.get(clientId)?.custodian ?? null;
  }

  async sessionsInCustodyOf(node: string): Promise<string[]> {
    const ids: string[] = [];
    for (const [id, s] of this.sessions) if (s.custodian === node || (s.custodian === null && s.node === node)) ids.push(id);
    return ids.sort(compareUtf8);
  }

  async adoptSession(clientId: string, from: string, to: string, now: number, leaseEnd?: number): Promise<Adoption | null> {
    check.checkInt(now, "now");
    if (leaseEnd !== undefined) check.checkInt(leaseEnd, "leaseEnd");
    const s = this.sessions.get(clientId);
    const v = this.versions.get(clientId);
    if (s === undefined || v === undefined) return null;
    if (s.custodian !== from && !(s.custodian === null && s.node === from)) return null;
    if (leaseEnd !== undefined && s.node === from && (s.connectedAt ?? 0) >= leaseEnd) return null;
    // The dead node's last claim, if it set the epoch superseded here: whom it may have died before kicking.
    const owed = v.claim !== undefined && v.claim.epoch === v.epoch ? owedBy(v.claim) : [];
    v.epoch++;
    const connected = s.node !== null;
    const adoption: Adoption = { epoch: v.epoch, connected, username: s.username, snapshot: null };
    if (owed.length > 0) adoption.earlierHolders = owed;
    if (s.clean) {
      this.drop(clientId);
      return adoption;
    }
    if (connected) Object.assign(s, { node: null, disconnectedAt: now });
    s.custodian = to;
    adoption.snapshot = sessionSnapshot(clientId, s, v.epoch);
    return adoption;
  }

  async expireSessions(now: number, limit: number): Promise<ExpiredSession[]> {
    check.checkInt(now, "now");
    check.checkLimit(limit);
    const expired: ExpiredSession[] = [];
    for (const id of this.expiry.takeDue(now, limit)) {
      const s = this.sessions.get(id);
      if (s === undefined || s.expiryMs <= 0) {
        this.expiry.delete(id);
      } else if (s.node !== null) {
        this.expiry.set(id, now + s.expiryMs);
      } else if ((s.disconnectedAt ?? 0) + s.expiryMs > now) {
        this.expiry.set(id, (s.disconnectedAt ?? 0) + s.expiryMs);
      } else {
        expired.push({ clientId: id, epoch: this.epochOf(id), username: s.username, identity: s.identity });
        this.drop(id);
      }
    }
    return expired;
  }

  async updateSubscriptions(clientId: string, epoch: number | null, add: Record<string, SubscriptionWord>, remove: string[]): Promise<boolean> {
    check.checkSubscriptions(add, remove);
    if (epoch !== null) check.checkInt(epoch, "epoch");
    const s = this.sessions.get(clientId);
    if (s === undefined || (epoch !== null && epoch !== this.epochOf(clientId))) return false;
    for (const filter of remove) s.subs.delete(filter);
    for (const [filter, qos] of Object.entries(add)) s.subs.set(filter, qos);
    return true;
  }

  async allSubscriptions(): Promise<{ clientId: string; filter: string; word: SubscriptionWord }[]> {
    const all: { clientId: string; filter: string; word: SubscriptionWord }[] = [];
    for (const [clientId, s] of this.sessions) for (const [filter, word] of s.subs) all.push({ clientId, filter, word });
    return all.sort((a, b) => compareUtf8(a.clientId, b.clientId) || compareUtf8(a.filter, b.filter));
  }

  async apply(ops: StoreOp[], key?: ApplyKey): Promise<StoreOpResult[]> {
    for (const op of ops) check.checkOp(op);
    if (key === undefined) return ops.map((op) => this.applyOp(op));
    check.checkApplyKey(key);
    const lookup = (clientId: string) => ({ s: this.sessions.get(clientId), v: this.versions.get(clientId) });
    return applyKeyed(ops, key, lookup, (op) => this.applyOp(op), Date.now());
  }

  private applyOp(op: StoreOp): StoreOpResult {
    if (op.op === "retained.set") return this.retained.set(op.msg, op.maxRetained, op.maxBytes, op.now ?? Date.now());
    if (op.op === "retained.delete") return this.retained.delete(op.topic);
    return applySessionOp(op, this.sessions.get(op.clientId), this.versions.get(op.clientId));
  }

  private epochOf(clientId: string): number {
    return this.versions.get(clientId)?.epoch ?? 0;
  }

  /** Deletes a session's state; its counters stay as a tombstone so epochs and seqs never go back. */
  private drop(clientId: string): void {
    this.sessions.delete(clientId);
    this.expiry.delete(clientId);
    this.sessionIds.delete(clientId);
    this.tombstones.delete(clientId);
    this.tombstones.set(clientId, Date.now() + VERSION_TOMBSTONE_MS);
  }

  private pruneTombstones(): void {
    const now = Date.now();
    for (const [id, expiresAt] of this.tombstones) {
      if (expiresAt > now) break;
      this.tombstones.delete(id);
      this.versions.delete(id);
    }
  }
}

/** `nodes`, or the shared empty list when there are none (a claim record is kept per session). */
function orNone(nodes: readonly string[]): readonly string[] {
  return nodes.length === 0 ? NO_NODES : nodes;
}

/** The earlier holders a claim superseding `claim` is answered with: the ones `claim` took it from, then its `oneBack`. */
function owedBy(claim: ClaimRecord): string[] {
  return distinctNodes([...claimHolders(claim.previousNode, claim.previousCustodian), ...claim.oneBack]);
}

function claimResult(clientId: string, s: MemSession, epoch: number, answer: Omit<ClaimRecord, "id" | "epoch">): ClaimResult {
  const result: ClaimResult = { epoch, present: answer.present, previousNode: answer.previousNode, snapshot: sessionSnapshot(clientId, s, epoch) };
  if (answer.previousCustodian !== null) result.previousCustodian = answer.previousCustodian;
  if (answer.earlierHolders.length > 0) result.earlierHolders = [...answer.earlierHolders];
  return result;
}
