/**
 * Mosquitto's password-file hashes, so that a file written by `mosquitto_passwd` imports as it is:
 *
 *     $7$<iterations>$<salt base64>$<hash base64>    PBKDF2-HMAC-SHA512 (mosquitto_passwd's default since 2.0)
 *     $6$<salt base64>$<hash base64>                 SHA-512(password || salt) (Mosquitto 1.6 and earlier)
 *
 * As in Mosquitto (common/password_mosq.c): the hash is 64 bytes, the salt 12 bytes (mosquitto_passwd 2.0) or
 * 64 bytes (later versions); base64 is the standard alphabet with padding. This module also accepts salts of
 * 8..64 bytes, which Mosquitto itself would refuse, so files written by other tools load too.
 *
 * `$7$` is meant for machine credentials: a device secret of 128 random bits cannot be brute-forced whatever the
 * iteration count, so a cheap hash keeps a reconnect storm short (decision 010). Human passwords belong in
 * scrypt (password.ts). `$6$` is a single unsalted-strength SHA-512: accepted for imports, never generated.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { PasswordHashError } from "./password-error.js";

export interface Pbkdf2Hash {
  kind: "pbkdf2-sha512";
  iterations: number;
  salt: Buffer;
  hash: Buffer;
}

export interface Sha512Hash {
  kind: "sha512";
  salt: Buffer;
  hash: Buffer;
}

/** Limits on what a password file may ask for: a hostile file must not make every CONNECT cost seconds. */
export const MOSQUITTO_HASH_LIMITS = Object.freeze({
  maxIterations: 1_000_000,
  minSaltBytes: 8,
  maxSaltBytes: 64,
  hashBytes: 64,
});

/** Defaults of `hashPbkdf2` (and `npm run passwd -- --pbkdf2`): see docs/auth.md for the choice. */
export const PBKDF2_DEFAULTS = Object.freeze({ iterations: 1000, saltLength: 12 });

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decode(s: string, what: string, min: number, max: number): Buffer {
  if (!B64.test(s)) throw new PasswordHashError(`${what} is not base64`);
  const buf = Buffer.from(s, "base64");
  if (buf.length < min || buf.length > max) {
    throw new PasswordHashError(
      min === max ? `${what} must decode to ${min} bytes, got ${buf.length}` : `${what} must decode to ${min}..${max} bytes, got ${buf.length}`,
    );
  }
  return buf;
}

const L = MOSQUITTO_HASH_LIMITS;

/** True when `encoded` claims to be a Mosquitto hash (`$6$...` or `$7$...`). */
export function isMosquittoHash(encoded: string): boolean {
  return encoded.startsWith("$6$") || encoded.startsWith("$7$");
}

/** Validates and decodes a `$7$` or `$6$` hash; throws PasswordHashError saying what is wrong (never the hash). */
export function parseMosquittoHash(encoded: string): Pbkdf2Hash | Sha512Hash {
  const parts = encoded.split("$");
  if (parts[1] === "7") {
    if (parts.length !== 5) throw new PasswordHashError("a Mosquitto PBKDF2 hash must look like '$7$<iterations>$<salt>$<hash>'");
    const raw = parts[2]!;
    const iterations = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
    if (!(iterations >= 1 && iterations <= L.maxIterations)) {
      throw new PasswordHashError(`PBKDF2 iterations must be an integer 1..${L.maxIterations}, got '${raw.slice(0, 12)}'`);
    }
    const salt = decode(parts[3]!, "salt", L.minSaltBytes, L.maxSaltBytes);
    const hash = decode(parts[4]!, "hash", L.hashBytes, L.hashBytes);
    return { kind: "pbkdf2-sha512", iterations, salt, hash };
  }
  if (parts[1] === "6") {
    if (parts.length !== 4) throw new PasswordHashError("a Mosquitto SHA-512 hash must look like '$6$<salt>$<hash>'");
    const salt = decode(parts[2]!, "salt", L.minSaltBytes, L.maxSaltBytes);
    const hash = decode(parts[3]!, "hash", L.hashBytes, L.hashBytes);
    return { kind: "sha512", salt, hash };
  }
  throw new PasswordHashError("not a Mosquitto hash ('$7$...' or '$6$...')");
}

/** Hashes `plain` with PBKDF2-HMAC-SHA512 and a random salt, in mosquitto_passwd's `$7$` format. */
export async function hashPbkdf2(plain: string | Buffer, opts: { iterations?: number; saltLength?: number } = {}): Promise<string> {
  const iterations = opts.iterations ?? PBKDF2_DEFAULTS.iterations;
  const saltLength = opts.saltLength ?? PBKDF2_DEFAULTS.saltLength;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > L.maxIterations) {
    throw new RangeError(`iterations must be an integer 1..${L.maxIterations}`);
  }
  if (!Number.isInteger(saltLength) || saltLength < L.minSaltBytes || saltLength > L.maxSaltBytes) {
    throw new RangeError(`saltLength must be an integer ${L.minSaltBytes}..${L.maxSaltBytes}`);
  }
  const salt = randomBytes(saltLength);
  const hash = await derivePbkdf2(typeof plain === "string" ? Buffer.from(plain, "utf8") : plain, salt, iterations);
  return `$7$${iterations}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

function derivePbkdf2(password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, L.hashBytes, "sha512", (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Does `password` match? PBKDF2 runs on the libuv pool; SHA-512 is one digest, computed here. Constant-time compare. */
export async function verifyMosquittoHash(password: Buffer, parsed: Pbkdf2Hash | Sha512Hash): Promise<boolean> {
  const key =
    parsed.kind === "pbkdf2-sha512"
      ? await derivePbkdf2(password, parsed.salt, parsed.iterations)
      : createHash("sha512").update(password).update(parsed.salt).digest();
  return timingSafeEqual(key, parsed.hash);
}
