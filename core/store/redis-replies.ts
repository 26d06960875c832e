import type { SubscriptionWord } from "../subscription-word.js";
import { decodeOutgoing, decodeRetained } from "./codec.js";
import { StoreDataError } from "./errors.js";
import { sentPacketId } from "./sent-boundary.js";
import { distinctNodes, type RetainedRecord, type SessionRecord, type SessionSnapshot, type StoredOutgoing, type StoreOpResult } from "./types.js";

/*
 * Readers of script replies. Both transports hand back the same shapes: arrays, strings, integers, null.
 */

function bad(what: string): never {
  throw new StoreDataError(`unexpected Redis reply: ${what}`);
}

export function asArray(v: unknown, what: string): unknown[] {
  return Array.isArray(v) ? v : bad(what);
}

export function asString(v: unknown, what: string): string {
  return typeof v === "string" ? v : bad(what);
}

export function asInt(v: unknown, what: string): number {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : bad(what);
}

export function asNullableString(v: unknown, what: string): string | null {
  return v === null || v === undefined ? null : asString(v, what);
}

/** A flat HGETALL reply (field, value, field, value...) as a Map. */
export function flatMap(v: unknown, what: string): Map<string, string> {
  const a = asArray(v, what);
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < a.length; i += 2) m.set(asString(a[i], what), asString(a[i + 1], what));
  return m;
}

function optionalInt(v: string | undefined): number | null {
  return v === undefined ? null : Number(v);
}

export function sessionRecord(clientId: string, epoch: unknown, meta: unknown): SessionRecord {
  return recordOf(clientId, epoch, flatMap(meta, "session meta"));
}

function recordOf(clientId: string, epoch: unknown, m: Map<string, string>): SessionRecord {
  return {
    clientId,
    clean: m.get("clean") === "1",
    node: m.get("node") ?? null,
    epoch: asInt(epoch, "epoch"),
    username: m.get("username") ?? null,
    identity: m.get("identity") ?? null,
    connectedAt: optionalInt(m.get("connectedAt")),
    disconnectedAt: optionalInt(m.get("disconnectedAt")),
  };
}

/**
 * Reads the five snapshot parts (epoch, meta, subs, out, in2) starting at `parts[0]`. An entry without a packet id of
 * its own at or below the sent boundary (meta `sent`; absent in sessions written before it) is in flight with the
 * packet id derived from its seq.
 */
export function sessionSnapshot(clientId: string, parts: unknown[]): SessionSnapshot {
  const meta = flatMap(parts[1], "session meta");
  const sent = Number(meta.get("sent") ?? "0");
  if (!Number.isSafeInteger(sent)) bad("sent boundary");
  const subscriptions: Record<string, SubscriptionWord> = {};
  for (const [filter, qos] of flatMap(parts[2], "subscriptions")) subscriptions[filter] = Number(qos);
  const outgoing: StoredOutgoing[] = [];
  for (const [key, value] of flatMap(parts[3], "outgoing")) {
    const seq = Number(key);
    const o = decodeOutgoing(seq, value);
    if (o.packetId === 0 && seq <= sent) o.packetId = sentPacketId(seq);
    outgoing.push(o);
  }
  outgoing.sort((a, b) => a.seq - b.seq);
  // Members '<id>' or '<id>|<root>' (an id still being routed under root; decision 025).
  const inboundQos2: number[] = [];
  let inboundRoots: Record<number, string> | undefined;
  for (const member of asArray(parts[4], "inbound QoS 2")) {
    const text = String(member);
    const bar = text.indexOf("|");
    const id = asInt(bar < 0 ? text : text.slice(0, bar), "packet id");
    inboundQos2.push(id);
    if (bar >= 0) (inboundRoots ??= {})[id] = text.slice(bar + 1);
  }
  inboundQos2.sort((a, b) => a - b);
  const snapshot: SessionSnapshot = { ...recordOf(clientId, parts[0], meta), subscriptions, outgoing, inboundQos2 };
  if (inboundRoots !== undefined) snapshot.inboundRoots = inboundRoots;
  return snapshot;
}

const REASONS = new Set(["fenced", "full", "no-session", "duplicate"]);

/** An APPLY reply: {1, seq?, dropped?} or {0, reason}. */
export function opResult(v: unknown): StoreOpResult {
  const a = asArray(v, "op result");
  if (a[0] === 0) {
    const reason = asString(a[1], "op refusal");
    if (reason === "owned") return { ok: false, reason, node: asString(a[2], "owner node") };
    return REASONS.has(reason) ? { ok: false, reason: reason as "fenced" | "full" | "no-session" | "duplicate" } : bad(`refusal '${reason}'`);
  }
  if (a[0] !== 1) bad("op status");
  const r: { ok: true; seq?: number; dropped?: number } = { ok: true };
  if (a[1] !== undefined && a[1] !== null) r.seq = asInt(a[1], "seq");
  if (a[2] !== undefined && a[2] !== null) r.dropped = asInt(a[2], "dropped seq");
  return r;
}

/** A (topic, message JSON, topic, message JSON...) reply. */
export function retainedPairs(v: unknown, from = 0): RetainedRecord[] {
  const a = asArray(v, "retained");
  const out: RetainedRecord[] = [];
  for (let i = from; i + 1 < a.length; i += 2) out.push(decodeRetained(asString(a[i + 1], "retained message")));
  return out;
}

/** The nodes named in `count` reply elements from `start` (nil or absent: none), each once, in order. */
export function nodesAt(reply: unknown[], start: number, count: number, what: string): string[] {
  const nodes: (string | null)[] = [];
  for (let i = start; i < start + count && i < reply.length; i++) nodes.push(asNullableString(reply[i], what));
  return distinctNodes(nodes);
}
