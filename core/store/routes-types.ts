import { createHash } from "node:crypto";
import type { Page, SessionSnapshot } from "./types.js";

/**
 * The cluster's route table in the store (decision 017): per node, the set of topic filters it has at least one
 * local subscriber for, a versioned, bounded log of the changes to those sets, and per node a digest of its set.
 * Nodes apply the log incrementally into their route trie; a reader whose version fell out of the log, or whose
 * view of a node disagrees with that node's digest, reloads just that node's set. Also the custody of offline
 * sessions (the node that keeps a session's filters in its trie) and the adoption of a dead node's sessions.
 */

/** Count and additive checksum (mod 2^48) of a node's route set, both order-independent. */
export interface RouteDigest {
  count: number;
  sum: number;
}

export interface RouteChange {
  /** The log version of this change (consecutive, starting at 1). */
  version: number;
  node: string;
  /** add/remove one filter of `node`; clear: every route of `node` is gone (filter ""). */
  op: "add" | "remove" | "clear";
  filter: string;
}

export interface RouteChanges {
  /** The store's current version. */
  version: number;
  /** False when changes after `after` are no longer in the log: reload every node's set (routesOf). */
  complete: boolean;
  /** The changes after `after`, in order, at most `limit`. */
  changes: RouteChange[];
}

/** What `adoptSession` did. */
export interface Adoption {
  /** The new epoch: the dead node's late writes are fenced from now on. */
  epoch: number;
  /** The session was connected to the dead node (its client is gone: a "node-failure" disconnect). */
  connected: boolean;
  username: string | null;
  /** The session, now offline in the adopter's custody; null when it was clean (deleted). */
  snapshot: SessionSnapshot | null;
  /**
   * The nodes the dead node's last claim took the session from, then the ones the claim before it took it from,
   * when that claim carried an id and set the epoch this adoption supersedes (what a claim in the adoption's place
   * would answer as ClaimResult.earlierHolders). The dead node may have died before its take-over kicks: the adopter
   * kicks them (decision 040). Absent: none known.
   */
  earlierHolders?: string[];
}

export interface RouteStore {
  /**
   * Adds and removes filters of `node`'s route set (removals first), appends each actual change to the route log
   * and updates the node's digest, atomically. Resolves with the log version after the change.
   */
  updateRoutes(node: string, add: readonly string[], remove: readonly string[]): Promise<number>;
  /** Drops every route of `node` (a dead node, after its sessions were adopted): one "clear" entry in the log. */
  clearRoutes(node: string): Promise<number>;
  /** The logged changes after version `after`, at most `limit` (1..ROUTE_PAGE_MAX). */
  routeChanges(after: number, limit: number): Promise<RouteChanges>;
  /** One page of `node`'s route set (a page may repeat a filter of an earlier page; order unspecified). */
  routesOf(node: string, opts: { cursor?: string | null; limit: number }): Promise<Page<string>>;
  /** The log version and every node's digest, read atomically. */
  routeDigests(): Promise<{ version: number; digests: Record<string, RouteDigest> }>;
  /** The custodian of a session (null: no such session, or recorded before custody existed). */
  custodianOf(clientId: string): Promise<string | null>;
  /** Client ids of the sessions whose custodian is `node` (the node that last served them). */
  sessionsInCustodyOf(node: string): Promise<string[]>;
  /**
   * Takes a session from the custody of `from` (a dead node) into that of `to`, only if `from` is still its
   * custodian (or, for a session recorded before custody existed, its connected owner): bumps the epoch, marks it
   * offline, deletes it when clean. Null when it is gone or someone else has it. `leaseEnd`: when the lease of
   * `from` that the adopter saw run out ended (its last heartbeat + TTL, in `from`'s clock); a session `from`
   * claimed at or after it was claimed under a new registration (the node came back from a pause) and is not
   * adopted. Absent: no such fence (a node that left gracefully).
   */
  adoptSession(clientId: string, from: string, to: string, now: number, leaseEnd?: number): Promise<Adoption | null>;
}

/** Length of the route log: a reader further behind reloads the sets. */
export const ROUTE_LOG_MAX = 100_000;
/** Most entries one routeChanges / routesOf call returns. */
export const ROUTE_PAGE_MAX = 5000;

export const ROUTE_SUM_MOD = 2 ** 48;

/** A filter's 48-bit hash (the first 12 hex digits of its SHA-1): exact in a double, in JS and in Lua. */
export function routeHash(filter: string): number {
  return parseInt(createHash("sha1").update(filter).digest("hex").slice(0, 12), 16);
}

/** Adds (sign 1) or removes (sign -1) a filter's hash from a digest. */
export function digestStep(d: RouteDigest, hash: number, sign: 1 | -1): void {
  d.count += sign;
  d.sum = (((d.sum + sign * hash) % ROUTE_SUM_MOD) + ROUTE_SUM_MOD) % ROUTE_SUM_MOD;
}

/** Log entry encoding, shared by the stores: `<a|r|c><node length>:<node><filter>`. */
export function encodeRouteEntry(op: RouteChange["op"], node: string, filter: string): string {
  return `${op[0]}${node.length}:${node}${filter}`;
}

export function decodeRouteEntry(entry: string, version: number): RouteChange {
  const colon = entry.indexOf(":");
  const len = Number(entry.slice(1, colon));
  const node = entry.slice(colon + 1, colon + 1 + len);
  const filter = entry.slice(colon + 1 + len);
  const op = entry[0] === "a" ? "add" : entry[0] === "r" ? "remove" : "clear";
  return { version, node, op, filter };
}
