import { ownedKey, sessionKeys, SESSIONS_KEY } from "./keys.js";
import { asArray } from "./redis-replies.js";
import { type Call, type RedisClient, unwrap } from "./transport.js";

/*
 * The global session indexes (`mqg:sessions`, `mqg:owned:<node>`) live outside the session's hash slot, so on
 * Redis Cluster they cannot change in the same script as the session. They are kept a superset of the truth:
 *
 * - a claim adds the entries before its script (a crash in between leaves an extra entry, which readers skip)
 *   and again after it (so a concurrent removal that ran between the two cannot win);
 * - a removal runs after the session script, then re-reads the session and puts the entry back if the session
 *   (or, for `owned`, its ownership by that node) exists again by then.
 *
 * Readers check every entry against the session's meta. See docs/store.md, "Atomicity".
 */

/** Index commands a claim of `clientId` by `node` sends around its script. */
export function indexCommands(clientId: string, node: string): string[][] {
  return [
    ["ZADD", SESSIONS_KEY, "0", clientId],
    ["SADD", ownedKey(node), clientId],
  ];
}

export interface Unindex {
  clientId: string;
  /** Remove from this node's `owned` set, unless the node owns the session again. */
  node: string | null;
  /** Remove from `mqg:sessions`, unless the session exists again. */
  session: boolean;
}

/** Removes index entries (one round trip; one more when some must be restored). */
export async function unindex(client: RedisClient, entries: readonly Unindex[]): Promise<void> {
  if (entries.length === 0) return;
  const calls: Call[] = [];
  for (const e of entries) {
    if (e.session) calls.push(["ZREM", SESSIONS_KEY, e.clientId]);
    if (e.node !== null) calls.push(["SREM", ownedKey(e.node), e.clientId]);
  }
  const removals = calls.length;
  for (const e of entries) calls.push(["HMGET", sessionKeys(e.clientId).meta, "clean", "node"]);
  const res = await client.batch(calls);
  res.forEach(unwrap);
  const restore: string[][] = [];
  entries.forEach((e, i) => {
    const [clean, node] = asArray(res[removals + i], "HMGET");
    if (clean === null || clean === undefined) return;
    if (e.session) restore.push(["ZADD", SESSIONS_KEY, "0", e.clientId]);
    if (e.node !== null && node === e.node) restore.push(["SADD", ownedKey(e.node), e.clientId]);
  });
  if (restore.length > 0) (await client.batch(restore)).forEach(unwrap);
}
