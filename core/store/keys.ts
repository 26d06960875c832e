/**
 * Every Redis key mqgate uses is built here and nowhere else. See docs/store.md for what each key holds.
 *
 * The keys of one session share the hash tag `{c:<clientId>}`, so they live in one Redis Cluster slot and the
 * session scripts (which touch several of them) are legal on a cluster. Global indexes are separate keys
 * (other slots) and are written with separate commands; see docs/store.md, "Atomicity".
 */

export const KEY_PREFIX = "mqg:";

/**
 * Escapes `%`, `{` and `}` so a client id cannot end the hash tag early or make two ids share a key
 * (`a}b` becomes `a%7Db`).
 */
export function escapeKeyPart(s: string): string {
  return s.replace(/[%{}]/g, (c) => (c === "%" ? "%25" : c === "{" ? "%7B" : "%7D"));
}

/** The keys of one session, in the order the session scripts take them as KEYS[1..8]. */
export interface SessionKeys {
  /** Hash: clean, node, username, identity, expiry, connectedAt, disconnectedAt. Exists iff the session exists. */
  readonly meta: string;
  /** Hash: topic filter -> granted QoS. */
  readonly subs: string;
  /** Hash: seq -> `<packetId>:<state>:<JSON>` (every outgoing message, queued or in flight). */
  readonly out: string;
  /** Sorted set: seqs of the queued (packetId 0) outgoing messages, score = seq. */
  readonly queue: string;
  /** Set: inbound QoS 2 packet ids not yet released. */
  readonly inbound2: string;
  /** Hash: epoch, seq counters. Outlives the session for a while so epochs and seqs never go back. */
  readonly version: string;
  /**
   * Sorted set: dedup ids of recent enqueues, score = when each is forgotten (ms; enqueue time + DEDUP_WINDOW_MS):
   * a delivery handled twice within the window (a node queue message redelivered after its handler's node died) is
   * enqueued once. Trimmed by time on every enqueue that carries a dedup id, and the key expires with the last one.
   */
  readonly seen: string;
  /**
   * Sorted set: the dedup ids under which an enqueue that may land after a claim read the queue stored an entry
   * (neither an owner write nor refused while any node owns the session: a forward stored regardless of its owner
   * after `maxHops`, or stored while a named node owns it, `exceptOwner`), score = its seq; forgotten once below the
   * oldest queued entry. An owner's enqueue refused as duplicate is told that seq while the entry is queued: its
   * snapshot may not have it. Written by those enqueues only; expires with `seen`.
   */
  readonly placed: string;
  /** The eight keys above as a KEYS array. */
  readonly list: readonly string[];
}

/**
 * How long an enqueue's dedup id is remembered (see SessionKeys.seen; decision 021): longer than a node message can
 * be redelivered (SQS visibility timeout 30 s × 5 receives, plus a dead node's lease and hand-over), so the state
 * is bounded by time × message rate, not by a count per session.
 */
export const DEDUP_WINDOW_MS = 10 * 60 * 1000;

export function sessionKeys(clientId: string): SessionKeys {
  const tag = `${KEY_PREFIX}{c:${escapeKeyPart(clientId)}}:`;
  const meta = `${tag}meta`;
  const subs = `${tag}subs`;
  const out = `${tag}out`;
  const queue = `${tag}queue`;
  const inbound2 = `${tag}in2`;
  const version = `${tag}ver`;
  const seen = `${tag}seen`;
  const placed = `${tag}placed`;
  return { meta, subs, out, queue, inbound2, version, seen, placed, list: [meta, subs, out, queue, inbound2, version, seen, placed] };
}

/** Sorted set (all scores 0, ordered by member bytes): every session's client id. Listing, allSubscriptions. */
export const SESSIONS_KEY = `${KEY_PREFIX}sessions`;

/**
 * Sorted set: client id -> when its session is next checked for expiry (ms). A superset of the sessions that can
 * expire: a claim adds (never raises) the entry, the sweep (`Store.expireSessions`) reads the due ones, checks each
 * session atomically and moves or removes the entry. See docs/store.md, "Session expiry".
 */
export const EXPIRY_KEY = `${KEY_PREFIX}expiry`;

/** Set: client ids of the sessions owned by `nodeId` (a superset; readers check each session's meta). */
export function ownedKey(nodeId: string): string {
  return `${KEY_PREFIX}owned:${escapeKeyPart(nodeId)}`;
}

/**
 * Hash: topic -> `<size>:<JSON>` (size = topic + payload bytes, JSON with the update time, and last `d`, the time
 * the message expires, when it can). The five retained keys share the `{r}` tag (one slot: the scripts touch them
 * together). See retained-index.ts and docs/store.md.
 */
export const RETAINED_KEY = `${KEY_PREFIX}{r}:msgs`;
/** Sorted set (scores 0): retained topics, for cursor pagination and prefix ranges. */
export const RETAINED_TOPICS_KEY = `${KEY_PREFIX}{r}:topics`;
/** Sorted set (scores 0): `<level>:<word>/<topic>` per topic and level 1..INDEXED_LEVELS (the retained index). */
export const RETAINED_LEVELS_KEY = `${KEY_PREFIX}{r}:levels`;
/** Hash: bytes (topic + payload bytes of the retained set; the count is HLEN of RETAINED_KEY). */
export const RETAINED_STATS_KEY = `${KEY_PREFIX}{r}:stats`;
/**
 * Sorted set: topic -> when its retained message expires (ms), for the messages with an MQTT 5 Message Expiry
 * Interval; `sweepRetained` takes the due ones (docs/store.md, "Retained expiry").
 */
export const RETAINED_EXPIRY_KEY = `${KEY_PREFIX}{r}:expiry`;
/** The retained keys as a KEYS array, in the order the scripts take them. */
export const RETAINED_KEYS: readonly string[] = [RETAINED_KEY, RETAINED_TOPICS_KEY, RETAINED_LEVELS_KEY, RETAINED_STATS_KEY, RETAINED_EXPIRY_KEY];

/** String: 64 hex digits, the secret page cursors are sealed with (created once, by SET NX; core/store/cursor.ts). */
export const CURSOR_SECRET_KEY = `${KEY_PREFIX}cursor-secret`;

/** Hash: nodeId -> `<heartbeatAt>:<ttlMs>:<JSON>`. */
export const NODES_KEY = `${KEY_PREFIX}nodes`;

/** Hash: API key id -> `<hash> <JSON record>`. Shares the `{k}` tag with API_KEYS_BY_HASH_KEY. */
export const API_KEYS_KEY = `${KEY_PREFIX}{k}:byid`;
/** Hash: sha256 hex -> API key id. */
export const API_KEYS_BY_HASH_KEY = `${KEY_PREFIX}{k}:byhash`;
export const API_KEY_KEYS: readonly string[] = [API_KEYS_KEY, API_KEYS_BY_HASH_KEY];

/**
 * String: one idempotency record of the REST publish routes (idempotency-types.ts, decision 022), with a TTL. The
 * scope (an API key id) is percent-encoded, so `:` cannot make two scopes share a key.
 */
export function idempotencyKey(scope: string, key: string): string {
  return `${KEY_PREFIX}idem:${encodeURIComponent(scope)}:${key}`;
}

/** Hash: counter name -> integer. */
export const COUNTERS_KEY = `${KEY_PREFIX}counters`;

/** TTL of a deleted session's `ver` key: epochs and seqs of a client id never go back within this time. */
export const VERSION_TOMBSTONE_MS = 24 * 60 * 60 * 1000;

/**
 * Users and roles (issue 15), all under the `{i}` tag so the identity scripts may touch them together:
 * users (hash: username -> JSON), user names (sorted set, scores 0, for pages), roles (hash: name -> JSON),
 * version (string counter, bumped by every write) and log (list of "u:<name>" / "r:<name>", newest first).
 */
export const IDENTITY_KEYS: readonly string[] = [
  `${KEY_PREFIX}{i}:users`,
  `${KEY_PREFIX}{i}:usernames`,
  `${KEY_PREFIX}{i}:roles`,
  `${KEY_PREFIX}{i}:ver`,
  `${KEY_PREFIX}{i}:log`,
];

/**
 * The route table (decision 017), under the `{rt}` tag so the route scripts may touch it together: per node a set
 * of filters, the log of changes (a list, bounded), its version counter and the digests (hash node -> count:sum).
 */
export function routeKeys(nodeId: string): { set: string; log: string; version: string; digests: string } {
  const tag = `${KEY_PREFIX}{rt}:`;
  return { set: `${tag}set:${escapeKeyPart(nodeId)}`, log: `${tag}log`, version: `${tag}ver`, digests: `${tag}digests` };
}

/** Set: client ids of the sessions in the custody of `nodeId` (a superset; readers check each session's meta). */
export function custodyKey(nodeId: string): string {
  return `${KEY_PREFIX}custody:${escapeKeyPart(nodeId)}`;
}

/**
 * The wills held by node `nodeId` (decision 019): a hash `<epoch>:<clientId>` -> will, and a sorted set of the same
 * members scored by the holding incarnation. One hash tag per node, so the will scripts touch one slot.
 */
export function willKeys(nodeId: string): readonly [string, string] {
  const tag = `${KEY_PREFIX}{w:${escapeKeyPart(nodeId)}}:`;
  return [`${tag}wills`, `${tag}willinc`];
}
