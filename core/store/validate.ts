import type { QoS } from "mqtt-packet";
import { isOrderKey } from "../order-key.js";
import type { MessageProperties } from "../message-properties.js";
import { isSubscriptionWord, MAX_SUB_IDS, type SubscriptionWord } from "../subscription-word.js";
import { InvalidStoreInput } from "./errors.js";
import { type ApiKeyRecord, type ApplyKey, type ClaimOptions, MAX_NODE_STATS_BYTES, MAX_NODE_TOP_TOPICS, type NodeRecord, type NodeStats, type StoredMessage, type StoreOp } from "./types.js";

/*
 * Input checks shared by every implementation, so memory and Redis refuse exactly the same things, before
 * anything is written. They guard the store's own invariants (integers, QoS values, encodable text); topic
 * syntax is checked once at the edge (core/topic), not here.
 */

/** Largest page a list call may ask for. */
export const MAX_PAGE_LIMIT = 10_000;

function fail(message: string): never {
  throw new InvalidStoreInput(message);
}

export function checkInt(v: number, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(v) || v < min) fail(`${what} must be an integer >= ${min}, got ${v}`);
  if (v > max) fail(`${what} must be <= ${max}, got ${v}`);
}

export function checkQos(v: number, what: string): asserts v is QoS {
  if (v !== 0 && v !== 1 && v !== 2) fail(`${what} must be 0, 1 or 2, got ${v}`);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Rejects lone surrogates, which UTF-8 (and so Redis and Upstash JSON) cannot carry. */
export function checkText(s: string, what: string): void {
  if (typeof s !== "string" || LONE_SURROGATE.test(s)) fail(`${what} must be a well-formed string`);
}

export function checkMessage(msg: StoredMessage): void {
  checkText(msg.topic, "topic");
  if (msg.topic.length === 0) fail("topic must not be empty");
  if (!Buffer.isBuffer(msg.payload)) fail("payload must be a Buffer");
  checkQos(msg.qos, "message QoS");
  if (msg.props !== undefined) checkProps(msg.props);
  if (msg.publishedAt !== undefined) checkInt(msg.publishedAt, "publishedAt");
  if (msg.order !== undefined && !isOrderKey(msg.order)) fail("order must be an order key (core/order-key.ts)");
}

/** The checks fromWireProperties makes on the JSON form, on the object form, plus text UTF-8 can carry. */
export function checkProps(props: MessageProperties): void {
  if (typeof props !== "object" || props === null || Array.isArray(props)) fail("props must be an object");
  const { payloadFormatIndicator: pfi, messageExpiryInterval: exp, userProperties: up } = props;
  if (pfi !== undefined && pfi !== 0 && pfi !== 1) fail(`props.payloadFormatIndicator must be 0 or 1, got ${String(pfi)}`);
  if (exp !== undefined && (!Number.isInteger(exp) || exp < 0 || exp > 0xffff_ffff)) fail(`props.messageExpiryInterval must be a 32-bit unsigned integer, got ${String(exp)}`);
  if (props.contentType !== undefined) checkText(props.contentType, "props.contentType");
  if (props.responseTopic !== undefined) checkText(props.responseTopic, "props.responseTopic");
  if (props.correlationData !== undefined && !Buffer.isBuffer(props.correlationData)) fail("props.correlationData must be a Buffer");
  if (up === undefined) return;
  if (!Array.isArray(up)) fail("props.userProperties must be a list of pairs");
  for (const pair of up) {
    if (!Array.isArray(pair) || pair.length !== 2) fail("props.userProperties must be a list of pairs");
    checkText(pair[0], "user property name");
    checkText(pair[1], "user property value");
  }
}

export { MAX_SUB_IDS };

/** Subscription Identifiers: 1..268,435,455 (a Variable Byte Integer; 0 is a Protocol Error, MQTT 5 section 3.8.2.1.2). */
export function checkSubIds(subIds: readonly number[]): void {
  if (!Array.isArray(subIds) || subIds.length > MAX_SUB_IDS) fail(`subIds must be a list of at most ${MAX_SUB_IDS} identifiers`);
  for (const id of subIds) {
    if (!Number.isInteger(id) || id < 1 || id > 268_435_455) fail(`a subscription identifier must be 1..268435455, got ${String(id)}`);
  }
}

export function checkLimit(limit: number): void {
  checkInt(limit, "limit", 1);
  if (limit > MAX_PAGE_LIMIT) fail(`limit must be <= ${MAX_PAGE_LIMIT}, got ${limit}`);
}

export function checkClaim(clientId: string, opts: ClaimOptions): void {
  checkText(clientId, "clientId");
  checkText(opts.node, "node");
  if (opts.username !== null) checkText(opts.username, "username");
  checkInt(opts.now, "now");
  if (opts.identity !== undefined) checkText(opts.identity, "identity");
  if (opts.expiryMs !== undefined) checkInt(opts.expiryMs, "expiryMs");
  if (opts.maxSessions !== undefined) checkInt(opts.maxSessions, "maxSessions");
  if (opts.discard !== undefined && typeof opts.discard !== "boolean") fail("discard must be a boolean");
  if (opts.claimId !== undefined) {
    checkText(opts.claimId, "claimId");
    if (opts.claimId.length === 0) fail("claimId must not be empty");
  }
}

export function checkSubscriptions(add: Record<string, SubscriptionWord>, remove: string[]): void {
  for (const [filter, word] of Object.entries(add)) {
    checkText(filter, "filter");
    if (!isSubscriptionWord(word)) fail(`subscription of '${filter}' must be a QoS 0-2 with MQTT 5 options (core/subscription-word.ts), got ${String(word)}`);
  }
  for (const filter of remove) checkText(filter, "filter");
}

const APPLY_WRITER = /^[A-Za-z0-9_.:-]{1,64}$/;

/** An `apply` call's idempotency key (types.ts ApplyKey). */
export function checkApplyKey(key: ApplyKey): void {
  if (typeof key.writer !== "string" || !APPLY_WRITER.test(key.writer)) fail("apply key: writer must be 1-64 characters of [A-Za-z0-9_.:-]");
  checkInt(key.batch, "apply key batch", 1);
}

export function checkOp(op: StoreOp): void {
  switch (op.op) {
    case "enqueue":
      checkText(op.clientId, "clientId");
      checkMessage(op.entry.msg);
      if (op.entry.qos !== 1 && op.entry.qos !== 2) fail(`enqueue: delivery QoS must be 1 or 2 (QoS 0 is never stored), got ${op.entry.qos}`);
      checkInt(op.entry.packetId, "packetId");
      if (op.entry.packetId > 65_535) fail(`packetId must be <= 65535, got ${op.entry.packetId}`);
      if (op.entry.subIds !== undefined) checkSubIds(op.entry.subIds);
      checkInt(op.maxQueued, "maxQueued");
      if (op.dropPolicy !== "oldest" && op.dropPolicy !== "newest") fail(`dropPolicy must be 'oldest' or 'newest'`);
      if (op.epoch !== undefined) checkInt(op.epoch, "epoch");
      if (op.dedupId !== undefined) checkText(op.dedupId, "dedupId");
      if (op.exceptOwner !== undefined) checkText(op.exceptOwner, "exceptOwner");
      if (op.now !== undefined) checkInt(op.now, "now");
      return;
    case "outgoing.update":
    case "outgoing.sent":
    case "outgoing.delete":
      checkText(op.clientId, "clientId");
      checkInt(op.epoch, "epoch");
      checkInt(op.seq, "seq", 1);
      if (op.op !== "outgoing.update") return;
      checkInt(op.packetId, "packetId");
      if (op.packetId > 65_535) fail(`packetId must be <= 65535, got ${op.packetId}`);
      if (op.state !== 0 && op.state !== 1) fail(`state must be 0 or 1, got ${String(op.state)}`);
      return;
    case "inbound2.add":
    case "inbound2.delete":
      checkText(op.clientId, "clientId");
      checkInt(op.epoch, "epoch");
      checkInt(op.packetId, "packetId", 1);
      if (op.packetId > 65_535) fail(`packetId must be <= 65535, got ${op.packetId}`);
      if (op.op === "inbound2.add" && op.root !== undefined) {
        checkText(op.root, "root");
        if (op.root.includes("|")) fail("root must not contain '|'");
      }
      return;
    case "retained.set":
      checkMessage(op.msg);
      checkInt(op.maxRetained, "maxRetained");
      if (op.maxBytes !== undefined) checkInt(op.maxBytes, "maxBytes");
      if (op.now !== undefined) checkInt(op.now, "now");
      return;
    case "retained.delete":
      checkText(op.topic, "topic");
      return;
    default:
      fail(`unknown store op '${(op as { op: unknown }).op as string}'`);
  }
}

export function checkNode(node: NodeRecord, ttlMs: number): void {
  checkText(node.nodeId, "nodeId");
  checkText(node.address, "address");
  if (node.queueUrl !== null) checkText(node.queueUrl, "queueUrl");
  if (typeof node.linkAddress === "string" && !/^\S+:\d{1,5}$/.test(node.linkAddress)) fail("linkAddress must be host:port");
  checkInt(node.startedAt, "startedAt");
  checkInt(node.heartbeatAt, "heartbeatAt");
  checkInt(ttlMs, "ttlMs", 1);
  if (node.stats !== undefined) checkNodeStats(node.stats);
}

/** A node's stats snapshot: finite non-negative figures, bounded topics and size. */
export function checkNodeStats(stats: NodeStats): void {
  checkInt(stats.sampledAt, "stats.sampledAt");
  checkText(stats.version, "stats.version");
  const nonNegative = (n: unknown, what: string) => {
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) fail(`${what} must be a finite number >= 0`);
  };
  for (const k of ["connections", "sessions", "queued", "inflight"] as const) nonNegative(stats[k], `stats.${k}`);
  for (const k of ["received", "sent", "dropped"] as const) {
    nonNegative(stats.messages[k], `stats.messages.${k}`);
    nonNegative(stats.rates[k], `stats.rates.${k}`);
  }
  if (!Array.isArray(stats.topTopics) || stats.topTopics.length > MAX_NODE_TOP_TOPICS) fail(`stats.topTopics must hold at most ${MAX_NODE_TOP_TOPICS} topics`);
  for (const t of stats.topTopics) {
    checkText(t.topic, "stats topic");
    nonNegative(t.messages, "stats topic messages");
    nonNegative(t.rate, "stats topic rate");
  }
  if (Buffer.byteLength(JSON.stringify(stats)) > MAX_NODE_STATS_BYTES) fail(`stats must fit ${MAX_NODE_STATS_BYTES} bytes as JSON`);
}

export function checkApiKey(key: ApiKeyRecord): void {
  checkText(key.id, "API key id");
  if (!/^[0-9a-f]{64}$/.test(key.hash)) fail("API key hash must be a lowercase sha256 hex digest");
  checkText(key.name, "API key name");
  for (const t of key.topics) checkText(t, "API key topic");
  checkInt(key.createdAt, "createdAt");
}

export function checkCounters(deltas: Record<string, number>): void {
  for (const [name, delta] of Object.entries(deltas)) {
    checkText(name, "counter name");
    if (!Number.isSafeInteger(delta)) fail(`counter '${name}' delta must be an integer, got ${delta}`);
  }
}
