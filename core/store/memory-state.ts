import { SubscriptionMap } from "../subscription-map.js";
import { fromWireProperties, toWireProperties } from "../message-properties.js";
import { DEDUP_WINDOW_MS } from "./keys.js";
import { sentPacketId } from "./sent-boundary.js";
import type { SessionRecord, SessionSnapshot, StoredMessage, StoredOutgoing, StoreOp, StoreOpResult } from "./types.js";

/** One session of the memory store: the same state the Redis keys `mqg:{c:<id>}:*` hold. */
export interface MemSession {
  clean: boolean;
  node: string | null;
  /** The node that last served it and keeps it in its trie while offline (decision 017). */
  custodian: string | null;
  username: string | null;
  /** Identity that created the session (SessionRecord.identity). */
  identity: string | null;
  /** Offline lifetime in ms; 0 = never expires. */
  expiryMs: number;
  connectedAt: number | null;
  disconnectedAt: number | null;
  /** One filter in two fields, a Map only from the second (decision 029): most devices have one. */
  subs: SubscriptionMap;
  /**
   * Every outgoing message by seq. Seqs only grow, so insertion order is seq order. This map, `inbound2` and `seen`
   * are created by the first op that writes them: most sessions never have any (decision 029).
   */
  out: Map<number, StoredOutgoing> | null;
  /** How many entries of `out` are queued (packetId 0): the number `maxQueued` bounds. */
  queued: number;
  /**
   * The sent boundary (`outgoing.sent`): entries up to this seq are in flight. Their packet id, `sentPacketId(seq)`,
   * is written into the entry when the boundary passes it, so here an entry is queued exactly when its packet id is
   * 0. A new session starts at the seq counter (no entry of it is at or below), which keeps the walk per move short.
   */
  sent: number;
  /** Inbound QoS 2 packet ids; the value is the root of one still being routed, else null (decision 025). */
  inbound2: Map<number, string | null> | null;
  /** Dedup id -> when it is forgotten (ms), in insertion order: the enqueues of the last DEDUP_WINDOW_MS. */
  seen: Map<string, number> | null;
  /**
   * Dedup id -> seq of the entry an enqueue that may land after a claim read the queue (neither an owner write nor
   * refused while any node owns the session) stored under it, in seq order, forgotten
   * once below the oldest queued entry (as the script's `placed` set): named to an owner write it refuses as
   * duplicate while that entry is queued (StoreOp `enqueue`).
   */
  placed: Map<string, number> | null;
}

/** Epoch and seq counters of a client id; they outlive the session (see docs/store.md, "Tombstones"). */
export interface MemVersion {
  epoch: number;
  seq: number;
  /** Keyed `apply` calls, per writer: the last one and its results for this session (memory-retries.ts). */
  applied: Map<string, { batch: number; at: number; results: StoreOpResult[] }> | undefined;
  /** The last claim that carried an id, and what it answered (ClaimOptions.claimId, decision 034). */
  claim: ClaimRecord | undefined;
}

/**
 * A client id's first version. Every field is there from the start: a field added later would give each such
 * object a separate property array (40 bytes per device, seen in a heap snapshot of 2,000 devices).
 */
export function newVersion(): MemVersion {
  return { epoch: 0, seq: 0, applied: undefined, claim: undefined };
}

/** A claim's answer, kept to answer its repeat: valid while the epoch it gave is still the client id's. */
export interface ClaimRecord {
  id: string;
  epoch: number;
  present: boolean;
  previousNode: string | null;
  previousCustodian: string | null;
  /** ClaimResult.earlierHolders as answered (empty: none, NO_NODES, shared). */
  earlierHolders: readonly string[];
  /** Its first part: the holders the claim this one superseded took the session from (empty: none, NO_NODES). */
  oneBack: readonly string[];
}

/** The empty node list every claim record without earlier holders shares (one array less per session). */
export const NO_NODES: readonly string[] = Object.freeze([]);

/** A new, empty session; `seq` is the client id's seq counter (its entries will all be above it). */
export function newSession(seq: number): MemSession {
  return { clean: false, node: null, custodian: null, username: null, identity: null, expiryMs: 0, connectedAt: null, disconnectedAt: null, subs: new SubscriptionMap(), out: null, queued: 0, sent: seq, inbound2: null, seen: null, placed: null };
}

/**
 * A copy that shares nothing with `m`. Props go through their JSON form, as in the Redis store, so both keep exactly
 * the same fields; a message without them stays without them.
 */
export function copyMessage(m: StoredMessage): StoredMessage {
  const c: StoredMessage = { topic: m.topic, payload: Buffer.from(m.payload), qos: m.qos, retain: m.retain };
  if (m.props !== undefined) c.props = fromWireProperties(toWireProperties(m.props));
  if (m.publishedAt !== undefined) c.publishedAt = m.publishedAt;
  if (m.order !== undefined) c.order = m.order;
  return c;
}

function copyOutgoing(o: StoredOutgoing): StoredOutgoing {
  const c: StoredOutgoing = { ...o, msg: copyMessage(o.msg) };
  if (o.subIds !== undefined) c.subIds = [...o.subIds];
  return c;
}

export function sessionRecord(clientId: string, s: MemSession, epoch: number): SessionRecord {
  return { clientId, clean: s.clean, node: s.node, epoch, username: s.username, identity: s.identity, connectedAt: s.connectedAt, disconnectedAt: s.disconnectedAt };
}

export function sessionSnapshot(clientId: string, s: MemSession, epoch: number): SessionSnapshot {
  return {
    ...sessionRecord(clientId, s, epoch),
    subscriptions: Object.fromEntries(s.subs),
    outgoing: s.out === null ? [] : [...s.out.values()].map(copyOutgoing),
    inboundQos2: s.inbound2 === null ? [] : [...s.inbound2.keys()].sort((a, b) => a - b),
    ...(s.inbound2 === null ? {} : inboundRoots(s.inbound2)),
  };
}

function inboundRoots(inbound2: Map<number, string | null>): { inboundRoots?: Record<number, string> } {
  let roots: Record<number, string> | undefined;
  for (const [packetId, root] of inbound2) if (root !== null) (roots ??= {})[packetId] = root;
  return roots === undefined ? {} : { inboundRoots: roots };
}

const NO_SESSION: StoreOpResult = { ok: false, reason: "no-session" };
const FENCED: StoreOpResult = { ok: false, reason: "fenced" };
const FULL: StoreOpResult = { ok: false, reason: "full" };
const OK: StoreOpResult = { ok: true };

/** Records `id` until now + DEDUP_WINDOW_MS and forgets the oldest ids whose window ended (as the script trims). */
function rememberDedup(seen: Map<string, number>, id: string, now: number): void {
  for (const [old, until] of seen) {
    if (until > now) break;
    seen.delete(old);
  }
  seen.delete(id);
  seen.set(id, now + DEDUP_WINDOW_MS);
}

/**
 * An enqueue under a dedup id seen within the window: refused as duplicate, naming to an owner write the entry a
 * write that may land after a claim read the queue stored under it while that entry is queued (packet id 0: not sent, not dropped).
 */
function duplicate(s: MemSession, id: string, owner: boolean): StoreOpResult {
  const seq = owner ? s.placed?.get(id) : undefined;
  return seq !== undefined && s.out?.get(seq)?.packetId === 0 ? { ok: false, reason: "duplicate", seq } : { ok: false, reason: "duplicate" };
}

/** Records the entry `seq` a write that may land after a claim stored under `id`; forgets those below the oldest queued. */
function place(s: MemSession, id: string, seq: number): void {
  const placed = (s.placed ??= new Map());
  placed.delete(id);
  placed.set(id, seq);
  let oldest = seq;
  for (const [at, o] of s.out ?? []) {
    if (o.packetId !== 0) continue;
    oldest = at;
    break;
  }
  for (const [old, at] of placed) {
    if (at >= oldest) break;
    placed.delete(old);
  }
}

/** Applies one session op (everything but retained.*), exactly as the `sessionApply` Lua script does. */
export function applySessionOp(
  op: Exclude<StoreOp, { op: "retained.set" } | { op: "retained.delete" }>,
  s: MemSession | undefined,
  v: MemVersion | undefined,
): StoreOpResult {
  if (s === undefined || v === undefined) return { ...NO_SESSION };
  if (op.op === "enqueue") {
    if (op.epoch !== undefined && op.epoch !== v.epoch) return { ...FENCED };
    if (op.unowned === true && s.node !== null && s.node !== op.exceptOwner) return { ok: false, reason: "owned", node: s.node };
    const now = op.dedupId === undefined ? 0 : (op.now ?? Date.now());
    if (op.dedupId !== undefined && (s.seen?.get(op.dedupId) ?? 0) > now) return duplicate(s, op.dedupId, op.epoch !== undefined);
    const out = (s.out ??= new Map());
    let dropped: number | undefined;
    const inflight = op.entry.packetId !== 0;
    if (!inflight && s.queued >= op.maxQueued) {
      if (op.dropPolicy === "newest" || op.maxQueued === 0) return { ...FULL };
      for (const [seq, o] of out) {
        if (s.queued < op.maxQueued) break;
        if (o.packetId !== 0) continue;
        out.delete(seq);
        s.queued--;
        dropped = seq;
      }
    }
    const seq = ++v.seq;
    const e = op.entry;
    const stored: StoredOutgoing = { seq, msg: copyMessage(e.msg), qos: e.qos, retain: e.retain, packetId: e.packetId, state: 0 };
    if (e.subIds !== undefined) stored.subIds = [...e.subIds];
    out.set(seq, stored);
    if (!inflight) s.queued++;
    if (op.dedupId !== undefined) {
      rememberDedup((s.seen ??= new Map()), op.dedupId, now);
      // Not an owner write, nor one refused while any node owns the session: it may land after a claim read the queue.
      if (op.epoch === undefined && (op.unowned !== true || op.exceptOwner !== undefined)) place(s, op.dedupId, seq);
    }
    return dropped === undefined ? { ok: true, seq } : { ok: true, seq, dropped };
  }
  if (op.epoch !== v.epoch) return { ...FENCED };
  switch (op.op) {
    case "outgoing.update": {
      const o = s.out?.get(op.seq);
      if (o !== undefined) {
        // At or below the boundary an entry stays in flight: without an id of its own it has the derived one.
        const packetId = op.packetId === 0 && op.seq <= s.sent ? sentPacketId(op.seq) : op.packetId;
        s.queued += (packetId === 0 ? 1 : 0) - (o.packetId === 0 ? 1 : 0);
        o.packetId = packetId;
        o.state = op.state;
      }
      return { ...OK };
    }
    case "outgoing.sent": {
      // Never beyond the last seq assigned: later enqueues are above the boundary, queued.
      const to = Math.min(op.seq, v.seq);
      const out = s.out;
      for (let seq = s.sent + 1; out !== null && seq <= to; seq++) {
        const o = out.get(seq);
        if (o !== undefined && o.packetId === 0) {
          o.packetId = sentPacketId(seq);
          s.queued--;
        }
      }
      if (to > s.sent) s.sent = to;
      return { ...OK };
    }
    case "outgoing.delete": {
      const o = s.out?.get(op.seq);
      if (o !== undefined) {
        if (o.packetId === 0) s.queued--;
        s.out?.delete(op.seq);
      }
      return { ...OK };
    }
    case "inbound2.add": {
      const inbound2 = (s.inbound2 ??= new Map());
      if (op.root === undefined) inbound2.set(op.packetId, null);
      else if (!inbound2.has(op.packetId)) inbound2.set(op.packetId, op.root);
      return { ...OK };
    }
    case "inbound2.delete":
      s.inbound2?.delete(op.packetId);
      return { ...OK };
  }
}
