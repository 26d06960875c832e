/**
 * Building blocks of the mqgate configuration schema (core/config/schema.ts): numeric limits, the leaf
 * schema helpers that carry a "must be ..." message, shared leaf schemas and the lists of allowed values.
 */
import * as z from "zod";

/** Largest value Node timers accept (setTimeout/setInterval delay in ms). */
export const TIMER_MAX_MS = 2_147_483_647;
export const INT32_MAX = 2_147_483_647;

/** Largest MQTT packet representable by the 4-byte remaining-length field, in bytes. */
export const MQTT_MAX_PACKET_SIZE = 268_435_455;

export function int(min: number, max: number) {
  const error = `must be an integer ${min}..${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export function port() {
  const error = "must be an integer 0..65535 or null (off)";
  return z.int({ error }).min(0, { error }).max(65535, { error }).nullable();
}

export function nonEmptyString(error: string) {
  return z.string({ error }).min(1, { error });
}

export function url(protocols: readonly string[], error: string) {
  return z.string({ error }).refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { error },
  );
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.map((v) => `'${v}'`).join(", ")}` });
}

// ---- leaf schemas -------------------------------------------------------------------------

const hostError = "must be a non-empty host name or IP address without spaces";
export const host = z.string({ error: hostError }).regex(/^\S+$/, { error: hostError });

const nodeIdError = "must be 1..128 characters without whitespace, control characters, '/', '+' or '#'";
/** Used in $SYS topics and store keys, hence no topic separators or wildcards. */
export const nodeId = z.string({ error: nodeIdError }).regex(/^[^\s/+#\p{Cc}]{1,128}$/u, { error: nodeIdError });

export const filePath = nonEmptyString("must be a non-empty file path");

const wsPathError = "must be a URL path starting with '/' (no spaces)";
export const wsPath = z.string({ error: wsPathError }).regex(/^\/\S*$/, { error: wsPathError });

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const AUTH_MODES = ["allow-all", "acl"] as const;
/** Backends `auth.backends` may name (core/auth/chain.ts builds them; docs/auth.md). */
export const AUTH_BACKENDS = ["acl", "store", "allow-all", "jwt", "http", "lambda", "x509"] as const;
export const DROP_POLICIES = ["oldest", "newest"] as const;
export const COMMUNICATORS = ["auto", "memory", "sqs"] as const;
export const CLIENT_CERT_MODES = ["off", "optional", "required"] as const;
export const JWS_ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export const X509_IDENTITIES = ["cn", "san-dns", "san-uri", "san-email"] as const;
