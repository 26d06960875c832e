import { createHash } from "node:crypto";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_IDEMPOTENT_ANSWER_BYTES } from "../core/store/idempotency-types.js";
import type { Store } from "../core/store/types.js";
import { ConflictError, IdempotencyMismatchError, ValidationError } from "./errors.js";
import { header, type RouteResponse } from "./http.js";

/**
 * The `Idempotency-Key` header of the publish routes (decision 022, docs/rest-api.md "Idempotent publishing"): a
 * retried request with the same key (per API key, for 24 h) and the same request answers what the first answered,
 * with `Idempotent-Replayed: true`, and publishes nothing again. The same key with another request is 422; while
 * the first request with a key is still being handled, a repeat is 409. Only successful answers are remembered: a
 * request that failed releases its key, so the caller's retry runs again.
 */

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
export const REPLAYED_HEADER = "idempotent-replayed";
/** How long a key and its answer are remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** How long a key stays claimed by a request still being handled (longer than any request may take: 30 s). */
export const IDEMPOTENCY_PENDING_MS = 60_000;

const PRINTABLE = /^[\x20-\x7e]+$/;

/** The header's value, validated; null when absent. @throws ValidationError (400) when malformed. */
export function idempotencyKeyOf(event: APIGatewayProxyEventV2): string | null {
  const value = header(event, IDEMPOTENCY_HEADER.toLowerCase());
  if (value === undefined) return null;
  if (value.length < 1 || value.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE.test(value)) {
    throw new ValidationError([{ header: IDEMPOTENCY_HEADER, detail: `must be 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters` }]);
  }
  return value;
}

/**
 * sha256 of what makes two requests the same: method, path, query string, the values of `headers` the request has
 * (the raw publish route's MQTT 5 property headers) and body bytes. A request without such headers hashes as it did
 * before they existed; one with them starts with a line no method can be, so the two forms never meet.
 */
export function requestFingerprint(event: APIGatewayProxyEventV2, headers: readonly string[] = []): string {
  const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
  const hash = createHash("sha256");
  const present = headers.filter((name) => header(event, name) !== undefined);
  if (present.length > 0) hash.update("with headers\n");
  hash.update(`${event.requestContext.http.method}\n${event.rawPath}\n${event.rawQueryString ?? ""}\n`);
  if (present.length > 0) {
    // Names are the route's (fixed, sorted); values cannot hold a line break. An empty line ends them.
    for (const name of [...present].sort()) hash.update(`${name}: ${header(event, name) as string}\n`);
    hash.update("\n");
  }
  return hash.update(body).digest("hex");
}

/**
 * A stable id for the request with this key: the cluster backend's node message id (so SQS FIFO deduplicates a
 * repeated send, and nodes recognise a redelivery), the same for every retry.
 */
export function idempotentRequestId(scope: string, key: string): string {
  return `rest:idem:${createHash("sha256").update(`${scope}\n${key}`).digest("base64url").slice(0, 32)}`;
}

interface StoredAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * Runs `handle` at most once per (scope, Idempotency-Key): without the header it just runs it (`requestId` null).
 * `scope` is the API key's id; `headers` the request headers the route reads (part of the fingerprint).
 */
export async function withIdempotency(
  store: Store,
  scope: string,
  event: APIGatewayProxyEventV2,
  handle: (requestId: string | null) => Promise<RouteResponse>,
  headers: readonly string[] = [],
): Promise<RouteResponse> {
  const key = idempotencyKeyOf(event);
  if (key === null) return handle(null);
  const fingerprint = requestFingerprint(event, headers);
  const begun = await store.beginIdempotent(scope, key, fingerprint, IDEMPOTENCY_PENDING_MS);
  switch (begun.state) {
    case "mismatch":
      throw new IdempotencyMismatchError(`Idempotency-Key '${key}' was already used with a different request (method, path, query or body); use a new key`);
    case "pending":
      throw new ConflictError(`a request with Idempotency-Key '${key}' is still being handled; retry once it answered`, [
        { header: IDEMPOTENCY_HEADER, detail: "is in use by a request in flight" },
      ]);
    case "done": {
      const first = JSON.parse(begun.answer) as StoredAnswer;
      return { ...first, headers: { ...first.headers, [REPLAYED_HEADER]: "true" } };
    }
    case "new":
      break;
  }
  let res: RouteResponse;
  try {
    res = await handle(idempotentRequestId(scope, key));
  } catch (err) {
    await store.abandonIdempotent(scope, key, fingerprint, begun.token).catch(() => {});
    throw err;
  }
  const answer = JSON.stringify({ status: res.status, body: res.body, ...(res.headers !== undefined ? { headers: res.headers } : {}) });
  // The publish happened: its answer goes out even when it cannot be recorded (the store failed just now). The
  // pending record then expires, and a later retry runs again; in a cluster SQS and the nodes still drop it.
  // An answer too large to keep is answered once but not remembered (the publish routes' answers are far smaller).
  try {
    if (Buffer.byteLength(answer, "utf8") <= MAX_IDEMPOTENT_ANSWER_BYTES) {
      await store.finishIdempotent(scope, key, fingerprint, begun.token, answer, IDEMPOTENCY_TTL_MS);
    } else {
      await store.abandonIdempotent(scope, key, fingerprint, begun.token);
    }
  } catch {
    // see above
  }
  return res;
}
