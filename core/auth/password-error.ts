/** An encoded password hash that cannot be used. The message says why, never echoing the hash. */
export class PasswordHashError extends Error {
  override readonly name = "PasswordHashError";
}
