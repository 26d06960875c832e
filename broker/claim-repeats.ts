import { randomBytes } from "node:crypto";
import { ClaimRefused } from "../core/store/errors.js";
import type { ClaimOptions, ClaimResult, Store } from "../core/store/types.js";

/**
 * A claim whose store reply is lost took effect all the same: the store names this node as the session's owner, and
 * only the answer knows which node served the client before and must be told to let it go (finding S12, decision
 * 034). So a claim carries an id (ClaimOptions.claimId) and is repeated with it when it fails with anything but a
 * refusal: the store answers the repeat as it answered the first time, while nothing else claimed the session.
 */

/** The waits before each repeat of a claim that failed (ms): at most three repeats... */
export const CLAIM_REPEAT_DELAYS_MS: readonly number[] = [50, 200, 500];

/**
 * ...and none that would start more than this long after the first attempt (ms). A lost reply fails at once, so
 * its repeats come quickly; a store that is down fails each call only after the client's own retries, and the
 * CONNECT is refused (0x03) within about this time plus one call.
 */
export const CLAIM_REPEAT_BUDGET_MS = 1000;

/** At most this many client ids' unanswered claims are remembered (the oldest goes first). */
const MAX_UNANSWERED = 10_000;

type Terms = Omit<ClaimOptions, "claimId" | "now" | "maxSessions">;

/**
 * The id of each client id's last claim from this node that got no answer, with the terms it claimed on. A CONNECT
 * with the same terms (while the client is still connecting, or when it comes back after being refused) claims
 * with that id again, so an answer lost even after every repeat can still be had; other terms get a new id.
 */
export class ClaimIds {
  private readonly unanswered = new Map<string, { id: string; terms: string }>();

  /** The id for a claim of `clientId` on `terms`: the unanswered one on the same terms, else a new one. */
  begin(clientId: string, terms: Terms): string {
    const key = termsKey(terms);
    const last = this.unanswered.get(clientId);
    if (last !== undefined && last.terms === key) return last.id;
    const id = randomBytes(12).toString("base64url");
    this.unanswered.delete(clientId);
    this.unanswered.set(clientId, { id, terms: key });
    if (this.unanswered.size > MAX_UNANSWERED) this.unanswered.delete(this.unanswered.keys().next().value as string);
    return id;
  }

  /** The store answered the claim `id` (or refused it): it is not repeated. */
  answered(clientId: string, id: string): void {
    if (this.unanswered.get(clientId)?.id === id) this.unanswered.delete(clientId);
  }

  get size(): number {
    return this.unanswered.size;
  }
}

function termsKey(t: Terms): string {
  return JSON.stringify([t.node, t.clean, t.discard ?? null, t.username, t.identity ?? null, t.expiryMs ?? null]);
}

/**
 * `store.claimSession` with an id from `ids`, repeated after each failure but a refusal (waits from
 * CLAIM_REPEAT_DELAYS_MS, within CLAIM_REPEAT_BUDGET_MS) while `wanted()` holds. Each failure but the last is passed to `onError` with its attempt
 * number; the last one is thrown.
 */
export async function claimRepeating(
  store: Store,
  clientId: string,
  opts: ClaimOptions,
  ids: ClaimIds,
  wanted: () => boolean,
  onError: (err: Error, attempt: number) => void,
): Promise<ClaimResult> {
  const claimId = ids.begin(clientId, opts);
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await store.claimSession(clientId, { ...opts, claimId });
      ids.answered(clientId, claimId);
      return result;
    } catch (err) {
      if (err instanceof ClaimRefused) {
        ids.answered(clientId, claimId);
        throw err;
      }
      const delay = CLAIM_REPEAT_DELAYS_MS[attempt - 1];
      if (delay === undefined || Date.now() + delay - start > CLAIM_REPEAT_BUDGET_MS || !wanted()) throw err;
      onError(err as Error, attempt);
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (!wanted()) throw err;
    }
  }
}
