import type { QoS } from "mqtt-packet";
import { outgoingSuffix, putMessageExtras, readOutgoingSuffix, SUFFIX_MARK, takeMessageExtras } from "./codec-props.js";
import { InvalidStoreInput, StoreDataError } from "./errors.js";
import { retainedDue } from "./retained-index.js";
import type { ApiKeyRecord, NodeRecord, NodeStats, RetainedRecord, StoredMessage, StoredOutgoing } from "./types.js";

/*
 * How values are written to Redis. Upstash REST carries commands and replies as JSON and @upstash/redis decodes
 * every reply with a UTF-8 TextDecoder, so raw bytes >= 0x80 would not survive; ioredis hands back strings too.
 * Payloads are therefore base64 inside small JSON objects, and everything else is text. The fields that Lua
 * scripts must read or rewrite (packet id and state of an outgoing message, heartbeat of a node, hash of an API
 * key) sit in a plain-text header before the JSON, so no script needs cjson.
 */

/** `{t, p, q, r}`, then the MQTT 5 part only when the message has one (`x`, `pa`: codec-props.ts). */
function messageJson(msg: StoredMessage): Record<string, unknown> {
  const o: Record<string, unknown> = { t: msg.topic, p: msg.payload.toString("base64"), q: msg.qos, r: msg.retain ? 1 : 0 };
  putMessageExtras(o, msg);
  return o;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoreDataError(`unreadable ${what} in the store`);
  }
  if (typeof value !== "object" || value === null) throw new StoreDataError(`unreadable ${what} in the store`);
  return value as Record<string, unknown>;
}

function qosOf(v: unknown, what: string): QoS {
  if (v === 0 || v === 1 || v === 2) return v;
  throw new StoreDataError(`bad QoS in stored ${what}`);
}

function messageFrom(o: Record<string, unknown>, what: string): StoredMessage {
  if (typeof o.t !== "string" || typeof o.p !== "string") throw new StoreDataError(`bad stored ${what}`);
  return takeMessageExtras(o, { topic: o.t, payload: Buffer.from(o.p, "base64"), qos: qosOf(o.q, what), retain: o.r === 1 }, what);
}

/** A retained message: JSON with a base64 payload (and `x`, `pa` for MQTT 5 properties, codec-props.ts). */
export function encodeMessage(msg: StoredMessage): string {
  return JSON.stringify(messageJson(msg));
}

export function decodeMessage(text: string): StoredMessage {
  return messageFrom(parseJson(text, "message"), "message");
}

/**
 * A retained message as stored: `<size>:<JSON>` (size in plain text for the scripts' byte budget; JSON with `u`,
 * and for a message that expires, `d`: when, as the last key, so the sweep script reads it from the end of the
 * value without cjson). Readers ignore `d`: it follows from `pa` and the props.
 */
export function encodeRetained(msg: StoredMessage, size: number, updatedAt: number): string {
  const due = retainedDue(msg);
  const o = due === undefined ? { ...messageJson(msg), u: updatedAt } : { ...messageJson(msg), u: updatedAt, d: due };
  return `${size}:${JSON.stringify(o)}`;
}

export function decodeRetained(text: string): RetainedRecord {
  const colon = text.indexOf(":");
  const o = parseJson(colon >= 0 && text.charCodeAt(0) !== 0x7b ? text.slice(colon + 1) : text, "retained message");
  return { ...messageFrom(o, "retained message"), updatedAt: typeof o.u === "number" ? o.u : 0 };
}

/**
 * The immutable part of an outgoing message (what `enqueue` writes after the `<packetId>:<state>:` header), compact
 * since decision 021: four flag digits (message QoS, RETAIN, delivery QoS, wire RETAIN), the topic's length in
 * UTF-16 units, `:`, the topic, then the payload in base64. No JSON: about half the bytes of the old body and no
 * JSON.stringify/parse per message. Bodies written before (JSON, starting with `{`) still decode.
 * A message with MQTT 5 properties, a publication time or Subscription Identifiers adds a suffix after the payload:
 * `|` and their JSON (codec-props.ts, decision 024); a body without one is exactly the 3.1.1 body.
 */
export function encodeOutgoingBody(entry: Omit<StoredOutgoing, "seq" | "packetId" | "state">): string {
  const m = entry.msg;
  const flags = m.qos * 1000 + (m.retain ? 100 : 0) + entry.qos * 10 + (entry.retain ? 1 : 0);
  const body = `${flags < 1000 ? "0" : ""}${flags < 100 ? "0" : ""}${flags < 10 ? "0" : ""}${flags}${m.topic.length}:${m.topic}${m.payload.toString("base64")}`;
  return m.props === undefined && m.publishedAt === undefined && m.order === undefined && entry.subIds === undefined ? body : body + outgoingSuffix(m, entry.subIds);
}

function flagQos(code: number): QoS {
  const q = code - 48;
  if (q === 0 || q === 1 || q === 2) return q;
  throw new StoreDataError("bad QoS in stored outgoing message");
}

function flagBit(code: number): boolean {
  if (code === 48 || code === 49) return code === 49;
  throw new StoreDataError("bad flag in stored outgoing message");
}

/** Decodes a compact body (see encodeOutgoingBody) starting at `from`. */
function decodeCompactBody(value: string, from: number): { msg: StoredMessage; qos: QoS; retain: boolean; subIds?: number[] } {
  const colon = value.indexOf(":", from + 4);
  const topicLength = colon < 0 ? Number.NaN : Number(value.slice(from + 4, colon));
  if (!Number.isInteger(topicLength) || topicLength < 0 || colon + 1 + topicLength > value.length) {
    throw new StoreDataError("bad stored outgoing message");
  }
  const end = colon + 1 + topicLength;
  const mark = value.indexOf(SUFFIX_MARK, end);
  const msg: StoredMessage = {
    topic: value.slice(colon + 1, end),
    payload: Buffer.from(mark < 0 ? value.slice(end) : value.slice(end, mark), "base64"),
    qos: flagQos(value.charCodeAt(from)),
    retain: flagBit(value.charCodeAt(from + 1)),
  };
  const decoded = { msg, qos: flagQos(value.charCodeAt(from + 2)), retain: flagBit(value.charCodeAt(from + 3)) };
  if (mark < 0) return decoded;
  const subIds = readOutgoingSuffix(value.slice(mark + 1), msg);
  return subIds === undefined ? decoded : { ...decoded, subIds };
}

/**
 * An outgoing message is stored as `<packetId>:<state>:<body>`; the scripts rewrite the header only. The body is
 * compact (encodeOutgoingBody) or, when written before decision 021, JSON.
 */
export function decodeOutgoing(seq: number, value: string): StoredOutgoing {
  const a = value.indexOf(":");
  const b = a < 0 ? -1 : value.indexOf(":", a + 1);
  const packetId = Number(value.slice(0, a));
  const state = Number(value.slice(a + 1, b));
  if (b < 0 || !Number.isInteger(packetId) || (state !== 0 && state !== 1)) {
    throw new StoreDataError("bad stored outgoing message");
  }
  if (value.charCodeAt(b + 1) !== 0x7b) return { seq, ...decodeCompactBody(value, b + 1), packetId, state };
  const o = parseJson(value.slice(b + 1), "outgoing message");
  return { seq, msg: messageFrom(o, "outgoing message"), qos: qosOf(o.dq, "outgoing message"), retain: o.dr === 1, packetId, state };
}

/**
 * A node is stored as `<heartbeatAt>:<ttlMs>:<JSON of the rest>`, then optionally a newline and the JSON of its
 * stats (JSON text never holds a raw newline). The heartbeat script rewrites the header and, when given, the stats
 * part; a script that predates the stats keeps the whole tail as it is.
 */
export function encodeNode(node: NodeRecord, ttlMs: number): string {
  const rest: Record<string, unknown> = { nodeId: node.nodeId, address: node.address, queueUrl: node.queueUrl, startedAt: node.startedAt };
  if (typeof node.linkAddress === "string") rest.linkAddress = node.linkAddress;
  const stats = node.stats === undefined ? "" : `\n${encodeNodeStats(node.stats)}`;
  return `${node.heartbeatAt}:${ttlMs}:${JSON.stringify(rest)}${stats}`;
}

export function encodeNodeStats(stats: NodeStats): string {
  return JSON.stringify(stats);
}

function decodeNodeStats(text: string): NodeStats | undefined {
  try {
    const o = JSON.parse(text) as NodeStats;
    // Figures written by this code's checkNodeStats; anything else (a newer writer's extra fields) is kept as is.
    return o !== null && typeof o === "object" && typeof o.sampledAt === "number" ? o : undefined;
  } catch {
    return undefined; // an unreadable snapshot is no reason to lose the node
  }
}

export function decodeNode(value: string): { node: NodeRecord; ttlMs: number } {
  const m = /^(\d+):(\d+):/.exec(value);
  if (!m) throw new StoreDataError("bad stored node");
  const tail = value.slice(m[0].length);
  const nl = tail.indexOf("\n");
  const o = parseJson(nl === -1 ? tail : tail.slice(0, nl), "node");
  if (typeof o.nodeId !== "string" || typeof o.address !== "string" || typeof o.startedAt !== "number") {
    throw new StoreDataError("bad stored node");
  }
  const queueUrl = typeof o.queueUrl === "string" ? o.queueUrl : null;
  const node: NodeRecord = { nodeId: o.nodeId, address: o.address, queueUrl, startedAt: o.startedAt, heartbeatAt: Number(m[1]) };
  if (typeof o.linkAddress === "string") node.linkAddress = o.linkAddress;
  const stats = nl === -1 ? undefined : decodeNodeStats(tail.slice(nl + 1));
  if (stats !== undefined) node.stats = stats;
  return { node, ttlMs: Number(m[2]) };
}

/** An API key is stored as `<hash> <JSON record>` so scripts can find the hash without cjson. */
export function encodeApiKey(key: ApiKeyRecord): string {
  return `${key.hash} ${JSON.stringify(key)}`;
}

export function decodeApiKey(value: string): ApiKeyRecord {
  const space = value.indexOf(" ");
  const o = parseJson(value.slice(space + 1), "API key");
  if (space < 0 || typeof o.id !== "string" || typeof o.hash !== "string" || !Array.isArray(o.scopes) || !Array.isArray(o.topics)) {
    throw new StoreDataError("bad stored API key");
  }
  return o as unknown as ApiKeyRecord;
}

const CURSOR_PREFIX = "c1.";

/** Page cursors name the last item returned (a client id or topic), base64url-encoded so they are URL-safe. */
export function encodeCursor(lastKey: string): string {
  return CURSOR_PREFIX + Buffer.from(lastKey, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined) return null;
  if (!cursor.startsWith(CURSOR_PREFIX) || !/^[A-Za-z0-9_-]*$/.test(cursor.slice(CURSOR_PREFIX.length))) {
    throw new InvalidStoreInput(`invalid cursor '${cursor}'`);
  }
  return Buffer.from(cursor.slice(CURSOR_PREFIX.length), "base64url").toString("utf8");
}

/**
 * Orders strings as Redis orders their UTF-8 bytes (ZRANGEBYLEX), i.e. by code point. Plain `<` compares UTF-16
 * code units, which puts U+E000..U+FFFF after the surrogate pairs of U+10000 and above.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
