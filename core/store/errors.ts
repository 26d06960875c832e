/** Base class of the errors the store throws itself (transport failures pass through unchanged). */
export class StoreError extends Error {
  override readonly name: string = "StoreError";
  /** HTTP status a REST handler should answer with when this error reaches it. */
  readonly statusCode: number = 500;
}

/** The caller passed something the store refuses (a programming error or unchecked input); nothing was written. */
export class InvalidStoreInput extends StoreError {
  override readonly name = "InvalidStoreInput";
  override readonly statusCode = 400;
}

/** The backend answered something the store cannot read (corrupt data or a schema mismatch). */
export class StoreDataError extends StoreError {
  override readonly name = "StoreDataError";
}

/** Redis answered a command with an error reply (as opposed to the connection failing). */
export class RedisReplyError extends StoreError {
  override readonly name = "RedisReplyError";
}

/**
 * A claim the store refused without changing anything: the session belongs to another identity ("identity",
 * CONNACK 0x05), or creating it would exceed `maxSessions` ("session-limit", CONNACK 0x03).
 */
export class ClaimRefused extends StoreError {
  override readonly name = "ClaimRefused";
  override readonly statusCode: number;
  /** The CONNACK return code that answers it. */
  readonly returnCode: 3 | 5;

  constructor(
    readonly reason: "identity" | "session-limit",
    readonly clientId: string,
  ) {
    super(reason === "identity" ? `session '${clientId}' belongs to another identity` : `session limit reached; '${clientId}' not created`);
    this.returnCode = reason === "identity" ? 5 : 3;
    this.statusCode = reason === "identity" ? 403 : 503;
  }
}
