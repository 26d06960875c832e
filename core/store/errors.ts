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
