import type { SubscriptionWord } from "../subscription-word.js";
import type { StoredOutgoing } from "./message-types.js";

/**
 * Sessions in the store: a session's record and snapshot, what a claim asks for and answers (`ClaimOptions`,
 * `ClaimResult`, the nodes it took the session from) and what `expireSessions` reports. Part of the Store contract
 * (core/store/types.ts, which says how claims fence a session's writes by epoch), which re-exports them.
 */

export interface SessionRecord {
  clientId: string;
  clean: boolean;
  /** Node that owns the live connection, or null when offline. */
  node: string | null;
  epoch: number;
  username: string | null;
  /**
   * The identity that created the session (`user:<name>`, `anonymous`; later `cert:<subject>`), or null for a
   * session created without one (before identities were recorded). Only this identity may claim it again.
   */
  identity: string | null;
  /** Epoch milliseconds. */
  connectedAt: number | null;
  disconnectedAt: number | null;
}

export interface SessionSnapshot extends SessionRecord {
  /** Filter -> subscription (QoS, and MQTT 5 options and identifier: core/subscription-word.ts). */
  subscriptions: Record<string, SubscriptionWord>;
  /** Outgoing messages ordered by seq: in flight first in practice, then queued. */
  outgoing: StoredOutgoing[];
  /** Inbound QoS 2 packet ids received and not yet released. */
  inboundQos2: number[];
  /**
   * Of those, the ones whose routing is not known to have finished, with the root (dedup id) they are routed under
   * (`inbound2.add` with `root`): a PUBLISH re-sent with such an id is routed again under that root, so the
   * subscribers' stores keep one copy (decision 025). Absent when there are none.
   */
  inboundRoots?: Record<number, string>;
}

export interface ClaimOptions {
  node: string;
  /** The session ends with its connection: `releaseSession` deletes it, and it records no expiry. */
  clean: boolean;
  /**
   * Start from an empty session (MQTT 5 Clean Start), whatever `clean` says; absent: the same as `clean` (3.1.1's
   * Clean Session is both). MQTT 5 separates them: Clean Start 1 with an expiry discards the old session and keeps
   * the new one; Clean Start 0 with expiry 0 resumes it and ends it at disconnect.
   */
  discard?: boolean | undefined;
  username: string | null;
  now: number;
  /**
   * The claiming client's identity (see SessionRecord.identity). When given, a claim of a session recorded under
   * another identity is refused with `ClaimRefused` ("identity") and changes nothing, clean or not; a session
   * without a recorded identity adopts it; a new session records it. Absent: no check, nothing recorded.
   */
  identity?: string | undefined;
  /**
   * Offline lifetime of the session in ms (0 or absent: it never expires). Recorded with the session; once it has
   * been offline this long, `expireSessions` deletes it. A clean claim records none (a clean session ends with its
   * connection).
   */
  expiryMs?: number | undefined;
  /**
   * Cap on stored sessions (0 or absent: none). A persistent claim that would create a new session while this many
   * sessions are stored is refused with `ClaimRefused` ("session-limit"). See docs/store.md for how exact it is.
   */
  maxSessions?: number | undefined;
  /**
   * Names this claim so that a repeat is recognised (a reply lost on the way back, decision 034): a claim whose
   * id is the last claim the session saw, with no claim since, changes nothing and is answered as the first time
   * (`present`, `previousNode`, `previousCustodian`, the epoch), with the session as it is now. The claiming node
   * repeats a claim it got no answer to with the same id, so it still learns which node to take the client from.
   */
  claimId?: string | undefined;
}

/** A session `expireSessions` deleted. */
export interface ExpiredSession {
  clientId: string;
  /** Its last epoch (other nodes drop routing state older than or equal to it). */
  epoch: number;
  username: string | null;
  identity: string | null;
}

export interface ClaimResult {
  /** The new epoch; every later owner write carries it. */
  epoch: number;
  /** True when an existing session was resumed (clean = false and state existed) [MQTT-3.2.2-2]. */
  present: boolean;
  /** Node that owned the session before this claim, if it was connected (for take-over). */
  previousNode: string | null;
  /** The node that had the session in its custody before this claim (decision 017), when one had it. */
  previousCustodian?: string;
  /**
   * The nodes the claim before this one took the session from (its `previousNode` and `previousCustodian`), when
   * that claim carried an id and is the one this claim supersedes; then also the nodes the claim before that one
   * took it from, when it carried an id and the claim after it superseded it (two claims back: a cascade of two
   * claimers that died in a row). A node that died between its claim and its take-over kicks never told them:
   * they may still serve the client. The claiming node kicks them when the previous holder does not answer its own
   * kick (broker/move-settle.ts, decision 040). Absent: none known.
   */
  earlierHolders?: string[];
  snapshot: SessionSnapshot;
}

/** The nodes a claim took its session from: its connection's node and its custodian, each once, in that order. */
export function claimHolders(previousNode: string | null, custodian: string | null): string[] {
  return distinctNodes([previousNode, custodian]);
}

/** The nodes named in `nodes`, each once, in order of first mention (null: none). */
export function distinctNodes(nodes: readonly (string | null)[]): string[] {
  const out: string[] = [];
  for (const n of nodes) if (n !== null && !out.includes(n)) out.push(n);
  return out;
}
