/**
 * Idempotency records of the REST publish routes (decision 022): a caller's `Idempotency-Key` remembered per API
 * key, so a retried request answers what the first one answered and publishes nothing again.
 *
 * A record is first *pending* (a request with this key is being handled; it expires after `pendingMs`, so a crashed
 * handler cannot block the key for long), then *done* with the first answer (kept for `ttlMs`, 24 h on the routes).
 * Each record holds a fingerprint of the request (sha256 hex of method, path, query and body): a request with the
 * same key and another fingerprint is a mistake the caller must hear about.
 */

/** Longest answer a done record keeps (the routes' answers are far smaller: a batch of 100 results is ~7 KiB). */
export const MAX_IDEMPOTENT_ANSWER_BYTES = 64 * 1024;
/** Longest idempotency key (the header's limit). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

export type IdempotencyBegin =
  /** No record: a pending one was written for this request; `token` proves it is this request's. */
  | { state: "new"; token: string }
  /** A request with this key and fingerprint is being handled. */
  | { state: "pending" }
  /** A record with this key holds another fingerprint. */
  | { state: "mismatch" }
  /** The first request with this key and fingerprint answered `answer`. */
  | { state: "done"; answer: string };

export interface IdempotencyStore {
  /**
   * Looks up `key` in `scope` (an API key id) and, when there is no record, atomically writes a pending one for
   * `fingerprint` that lives `pendingMs`. Two concurrent calls never both get "new".
   */
  beginIdempotent(scope: string, key: string, fingerprint: string, pendingMs: number): Promise<IdempotencyBegin>;
  /**
   * Turns this request's pending record (`token` from beginIdempotent) into a done record holding `answer` (at most
   * MAX_IDEMPOTENT_ANSWER_BYTES UTF-8 bytes) for `ttlMs`. False when the pending record is no longer this
   * request's (it expired): nothing is written.
   */
  finishIdempotent(scope: string, key: string, fingerprint: string, token: string, answer: string, ttlMs: number): Promise<boolean>;
  /** Deletes this request's pending record (the request failed: a retry may run it again). */
  abandonIdempotent(scope: string, key: string, fingerprint: string, token: string): Promise<void>;
}
