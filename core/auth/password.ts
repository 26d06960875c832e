/**
 * Password hashes. mqgate's own format is scrypt in a self-describing string:
 *
 *     scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>
 *
 * Salt and hash are standard base64 (padding optional). The parameters travel with the hash,
 * so they can be raised later without invalidating existing entries.
 *
 * Hashing is CPU and memory heavy by design: the async `crypto.scrypt` runs on the libuv thread
 * pool and keeps the event loop free. Parameters read from a file are capped (see
 * `SCRYPT_LIMITS`) so a hostile or corrupt file cannot make every CONNECT allocate gigabytes.
 *
 * Mosquitto's `$7$` (PBKDF2-SHA512) and `$6$` (SHA-512) hashes are accepted too (mosquitto-hash.ts):
 * `parseStoredHash` reads any of the three, `verifyPassword` checks against any of them.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { isMosquittoHash, parseMosquittoHash, verifyMosquittoHash } from "./mosquitto-hash.js";
import type { Pbkdf2Hash, Sha512Hash } from "./mosquitto-hash.js";
import { PasswordHashError } from "./password-error.js";

export { PasswordHashError } from "./password-error.js";

export interface ScryptParams {
  /** CPU/memory cost: a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
}

export interface ParsedPasswordHash extends ScryptParams {
  kind: "scrypt";
  salt: Buffer;
  hash: Buffer;
}

export interface HashPasswordOptions extends Partial<ScryptParams> {
  /** Salt length in bytes (default 16). */
  saltLength?: number;
  /** Derived key length in bytes (default 32). */
  keyLength?: number;
}

/** Defaults: the values Node and OWASP recommend for interactive logins (16 MiB, ~50 ms). */
export const SCRYPT_DEFAULTS: Readonly<ScryptParams & { saltLength: number; keyLength: number }> = Object.freeze({
  N: 16384,
  r: 8,
  p: 1,
  saltLength: 16,
  keyLength: 32,
});

/** Upper bounds accepted when hashing and when reading an encoded hash. */
export const SCRYPT_LIMITS = Object.freeze({
  maxN: 2 ** 20,
  maxR: 32,
  maxP: 16,
  /** Memory of one derivation, 128 * N * r bytes. */
  maxMemoryBytes: 256 * 1024 * 1024,
  minSaltBytes: 8,
  maxSaltBytes: 64,
  minHashBytes: 16,
  maxHashBytes: 64,
});

/** Any decoded hash a user entry may hold. */
export type StoredHash = ParsedPasswordHash | Pbkdf2Hash | Sha512Hash;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const PARAMS = /^N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})$/;

/** Null when the parameters are acceptable, otherwise why not. */
function checkParams({ N, r, p }: ScryptParams): string | null {
  if (!Number.isInteger(N) || N < 2 || N > SCRYPT_LIMITS.maxN || (N & (N - 1)) !== 0) {
    return `N must be a power of two between 2 and ${SCRYPT_LIMITS.maxN} (2^20), got ${N}`;
  }
  if (!Number.isInteger(r) || r < 1 || r > SCRYPT_LIMITS.maxR) return `r must be an integer 1..${SCRYPT_LIMITS.maxR}, got ${r}`;
  if (!Number.isInteger(p) || p < 1 || p > SCRYPT_LIMITS.maxP) return `p must be an integer 1..${SCRYPT_LIMITS.maxP}, got ${p}`;
  if (128 * N * r > SCRYPT_LIMITS.maxMemoryBytes) {
    return `N=${N}, r=${r} needs ${(128 * N * r) / 2 ** 20} MiB per verification, more than the ${SCRYPT_LIMITS.maxMemoryBytes / 2 ** 20} MiB allowed (128 * N * r)`;
  }
  return null;
}

function decodeB64(s: string, what: string, min: number, max: number): Buffer {
  if (!B64.test(s)) throw new PasswordHashError(`${what} is not base64`);
  const buf = Buffer.from(s, "base64");
  if (buf.length < min || buf.length > max) {
    throw new PasswordHashError(`${what} must decode to ${min}..${max} bytes, got ${buf.length}`);
  }
  return buf;
}

/**
 * Validates and decodes `scrypt$N=<n>,r=<r>,p=<p>$<salt>$<hash>`.
 * Throws a PasswordHashError saying what is wrong (never echoing the hash itself).
 */
export function parsePasswordHash(encoded: string): ParsedPasswordHash {
  if (typeof encoded !== "string") throw new PasswordHashError("password hash must be a string");
  const parts = encoded.split("$");
  if (parts.length !== 4 || parts[0] !== "scrypt") {
    throw new PasswordHashError(
      "must be an scrypt hash 'scrypt$N=<n>,r=<r>,p=<p>$<salt>$<hash>' (generate one with `npm run passwd`), not a plain-text password",
    );
  }
  const m = PARAMS.exec(parts[1]!);
  if (!m) throw new PasswordHashError(`scrypt parameters must look like 'N=16384,r=8,p=1', got '${parts[1]}'`);
  const params: ScryptParams = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const bad = checkParams(params);
  if (bad !== null) throw new PasswordHashError(`scrypt ${bad}`);
  const salt = decodeB64(parts[2]!, "salt", SCRYPT_LIMITS.minSaltBytes, SCRYPT_LIMITS.maxSaltBytes);
  const hash = decodeB64(parts[3]!, "hash", SCRYPT_LIMITS.minHashBytes, SCRYPT_LIMITS.maxHashBytes);
  return { kind: "scrypt", ...params, salt, hash };
}

/**
 * Decodes an scrypt hash (`scrypt$...`) or a Mosquitto one (`$7$...`, `$6$...`). Throws PasswordHashError.
 */
export function parseStoredHash(encoded: string): StoredHash {
  if (typeof encoded !== "string") throw new PasswordHashError("password hash must be a string");
  if (isMosquittoHash(encoded)) return parseMosquittoHash(encoded);
  if (!encoded.startsWith("scrypt$")) {
    throw new PasswordHashError(
      "must be an scrypt hash 'scrypt$N=<n>,r=<r>,p=<p>$<salt>$<hash>' or a Mosquitto hash '$7$<iterations>$<salt>$<hash>' (generate one with `npm run passwd`), not a plain-text password",
    );
  }
  return parsePasswordHash(encoded);
}

function derive(password: Buffer, salt: Buffer, keyLength: number, { N, r, p }: ScryptParams): Promise<Buffer> {
  // Node refuses when 128 * N * r exceeds maxmem (default 32 MiB); allow what the limits allow.
  const maxmem = 128 * N * r + 128 * r * p + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function toBuffer(plain: string | Buffer): Buffer {
  return typeof plain === "string" ? Buffer.from(plain, "utf8") : plain;
}

/** Hashes `plain` (UTF-8) with a random salt; returns the encoded string for the ACL file. */
export async function hashPassword(plain: string | Buffer, opts: HashPasswordOptions = {}): Promise<string> {
  const params: ScryptParams = {
    N: opts.N ?? SCRYPT_DEFAULTS.N,
    r: opts.r ?? SCRYPT_DEFAULTS.r,
    p: opts.p ?? SCRYPT_DEFAULTS.p,
  };
  const bad = checkParams(params);
  if (bad !== null) throw new RangeError(`scrypt ${bad}`);
  const saltLength = opts.saltLength ?? SCRYPT_DEFAULTS.saltLength;
  const keyLength = opts.keyLength ?? SCRYPT_DEFAULTS.keyLength;
  if (!Number.isInteger(saltLength) || saltLength < SCRYPT_LIMITS.minSaltBytes || saltLength > SCRYPT_LIMITS.maxSaltBytes) {
    throw new RangeError(`saltLength must be an integer ${SCRYPT_LIMITS.minSaltBytes}..${SCRYPT_LIMITS.maxSaltBytes}`);
  }
  if (!Number.isInteger(keyLength) || keyLength < SCRYPT_LIMITS.minHashBytes || keyLength > SCRYPT_LIMITS.maxHashBytes) {
    throw new RangeError(`keyLength must be an integer ${SCRYPT_LIMITS.minHashBytes}..${SCRYPT_LIMITS.maxHashBytes}`);
  }
  const salt = randomBytes(saltLength);
  const hash = await derive(toBuffer(plain), salt, keyLength, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/**
 * Does `plain` match the hash? `encoded` may be pre-parsed (`parseStoredHash`), as the ACL
 * does at load time. A malformed encoded string throws PasswordHashError; a wrong password
 * resolves to false. The comparison is constant-time.
 */
export async function verifyPassword(plain: string | Buffer, encoded: string | StoredHash): Promise<boolean> {
  const parsed = typeof encoded === "string" ? parseStoredHash(encoded) : encoded;
  if (parsed.kind !== "scrypt") return verifyMosquittoHash(toBuffer(plain), parsed);
  const key = await derive(toBuffer(plain), parsed.salt, parsed.hash.length, parsed);
  return timingSafeEqual(key, parsed.hash);
}

/**
 * What unknown user names are checked against, so that they cost and take what a wrong password costs and
 * the reply does not tell which names exist: a hash of the same kind and cost as the first user's.
 */
export function decoyFor(first: StoredHash | undefined): StoredHash {
  const salt = Buffer.alloc(first?.salt.length ?? 16, 0x5a);
  if (first === undefined || first.kind === "scrypt") {
    return {
      kind: "scrypt",
      N: first?.N ?? SCRYPT_DEFAULTS.N,
      r: first?.r ?? SCRYPT_DEFAULTS.r,
      p: first?.p ?? SCRYPT_DEFAULTS.p,
      salt,
      hash: Buffer.alloc(first?.hash.length ?? SCRYPT_DEFAULTS.keyLength, 0),
    };
  }
  return { ...first, salt, hash: Buffer.alloc(first.hash.length, 0) };
}
