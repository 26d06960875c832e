/**
 * Typed errors of the REST gateway. Each carries its HTTP status and an RFC 9457 problem type; the router
 * turns any of them into an `application/problem+json` response in one place (`problem.ts`).
 */

/**
 * Where an invalid value was found: a JSON body field (a JSON pointer as a URI fragment, "#/messages/2/topic", as in
 * RFC 9457's example), a query or path parameter, or a header.
 */
export type FieldLocation = { pointer: string } | { parameter: string } | { header: string };
export type FieldError = FieldLocation & { detail: string };

/** Problem types (RFC 9457 `type`), documented in docs/rest-api.md. */
export const PROBLEM_TYPES = {
  "invalid-request": { status: 400, title: "Invalid request" },
  unauthorized: { status: 401, title: "Missing or invalid API key" },
  forbidden: { status: 403, title: "Not allowed for this API key" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  "too-large": { status: 413, title: "Content too large" },
  "idempotency-mismatch": { status: 422, title: "Idempotency key reused with another request" },
  "too-many-requests": { status: 429, title: "Too many requests" },
  "internal-error": { status: 500, title: "Internal error" },
  "configuration-error": { status: 500, title: "Gateway misconfigured" },
  unavailable: { status: 503, title: "Service unavailable" },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

/** Base of every error the gateway answers deliberately. */
export class HttpError extends Error {
  override readonly name: string = "HttpError";
  readonly status: number;
  readonly title: string;

  constructor(
    readonly type: ProblemType,
    readonly detail: string,
    readonly errors: readonly FieldError[] = [],
    /** Extra response headers (Allow, WWW-Authenticate). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.status = PROBLEM_TYPES[type].status;
    this.title = PROBLEM_TYPES[type].title;
  }
}

/** 400: a body field, parameter or header is invalid. `errors` lists every problem found. */
export class ValidationError extends HttpError {
  override readonly name = "ValidationError";
  constructor(errors: readonly FieldError[]) {
    super("invalid-request", describe(errors), errors);
  }
}

/** 401: no key, a malformed Authorization header, or a key the store does not know. */
export class UnauthorizedError extends HttpError {
  override readonly name = "UnauthorizedError";
  constructor(detail: string) {
    super("unauthorized", detail, [], { "www-authenticate": 'Bearer realm="mqgate"' });
  }
}

/** 403: the key lacks the scope, or the topic is outside the key's topic patterns. */
export class ForbiddenError extends HttpError {
  override readonly name = "ForbiddenError";
  constructor(detail: string, errors: readonly FieldError[] = []) {
    super("forbidden", detail, errors);
  }
}

export class NotFoundError extends HttpError {
  override readonly name = "NotFoundError";
  constructor(detail: string) {
    super("not-found", detail);
  }
}

export class MethodNotAllowedError extends HttpError {
  override readonly name = "MethodNotAllowedError";
  constructor(method: string, path: string, allowed: readonly string[]) {
    super("method-not-allowed", `${method} is not allowed on ${path}; allowed: ${allowed.join(", ")}`, [], { allow: allowed.join(", ") });
  }
}

/** 409: the request conflicts with the current state (a subscription limit reached). */
export class ConflictError extends HttpError {
  override readonly name = "ConflictError";
  constructor(detail: string, errors: readonly FieldError[] = []) {
    super("conflict", detail, errors);
  }
}

/** 422: an Idempotency-Key already used (by this API key, within 24 h) for a request with another body (decision 022). */
export class IdempotencyMismatchError extends HttpError {
  override readonly name = "IdempotencyMismatchError";
  constructor(detail: string) {
    super("idempotency-mismatch", detail, [{ header: "Idempotency-Key", detail: "was used for a different request" }]);
  }
}

/** 413: body, payload or batch larger than the limits. */
export class TooLargeError extends HttpError {
  override readonly name = "TooLargeError";
  constructor(detail: string, errors: readonly FieldError[] = []) {
    super("too-large", detail, errors);
  }
}

/**
 * 429: a service behind the gateway (the store, SQS) throttled the request. API Gateway's own throttling answers
 * 429 too, but with its fixed body (docs/rest-api.md, "Throttling").
 */
export class TooManyRequestsError extends HttpError {
  override readonly name = "TooManyRequestsError";
  constructor(detail: string, retryAfterSeconds = 1) {
    super("too-many-requests", detail, [], { "retry-after": String(retryAfterSeconds) });
  }
}

/** 503: the store or the broker could not complete the request in time; it may be retried. */
export class UnavailableError extends HttpError {
  override readonly name = "UnavailableError";
  constructor(detail: string) {
    super("unavailable", detail, [], { "retry-after": "1" });
  }
}

function where(e: FieldError): string {
  if ("pointer" in e) return `body field ${e.pointer}`;
  if ("parameter" in e) return `parameter '${e.parameter}'`;
  return `header '${e.header}'`;
}

/** "body field /topic: must not contain wildcards" (+ "and N more"). */
function describe(errors: readonly FieldError[]): string {
  const first = errors[0];
  if (first === undefined) return "invalid request";
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? "s" : ""})` : "";
  return `${where(first)}: ${first.detail}${more}`;
}
