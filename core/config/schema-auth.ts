/**
 * Shape of the `auth` section of the mqgate configuration, with the shapes of its external backend
 * sections `auth.jwt`, `auth.http`, `auth.lambda` and `auth.x509`. Shared by the full and the file schema
 * (core/config/schema.ts, which makes the backend sections' leaves optional for files).
 */
import * as z from "zod";
import { clientIdPatternProblem } from "../auth/identity.js";
import { AUTH_BACKENDS, AUTH_MODES, filePath, int, JWS_ALGORITHMS, nonEmptyString, oneOf, TIMER_MAX_MS, url, X509_IDENTITIES } from "./schema-leaves.js";

const clientIdPatternError = "must be a non-empty pattern using only %u (user name), %% and * (any characters)";
const backendsError = `must be a non-empty list of distinct backends from ${AUTH_BACKENDS.map((v) => `'${v}'`).join(", ")}`;
// External auth backends (issue 15): each section is optional; present = configured. Leaves with defaults may be
// left out of a file.
const claimName = nonEmptyString("must be a non-empty claim name");
const headerMap = z.record(
  z.string({ error: "must be an HTTP header name" }).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: "must be an HTTP header name" }),
  z.string({ error: "must be a header value string" }).regex(/^[^\r\n]*$/, { error: "must be a header value without line breaks" }),
  { error: "must be a mapping of header names to values" },
);
const authorizerCallShape = {
  timeoutMs: int(50, 60_000).default(2000),
  breakerFailures: int(1, 1000).default(5),
  breakerOpenSeconds: int(1, 3600).default(10),
  defaultTtlSeconds: int(0, 86_400).default(60),
  maxResponseBytes: int(256, 16_777_216).default(65_536),
  maxInFlight: int(1, 100_000).default(256),
};
export const jwtShape = {
  jwksUrl: url(["http:", "https:"], "must be an http:// or https:// JWKS URL").optional(),
  publicKeyFile: filePath.optional(),
  secret: z.string({ error: "must be a string of at least 32 characters" }).min(32, { error: "must be a string of at least 32 characters" }).optional(),
  secretFile: filePath.optional(),
  algorithms: z.array(oneOf(JWS_ALGORITHMS), { error: "must be a list of JWS algorithms" }).min(1, { error: "must list at least one algorithm" }).optional(),
  issuer: nonEmptyString("must be a non-empty issuer").optional(),
  audience: nonEmptyString("must be a non-empty audience").optional(),
  clockToleranceSeconds: int(0, 3600).default(30),
  usernameClaim: claimName.default("sub"),
  clientIdClaim: claimName.default("clientid"),
  aclClaim: claimName.default("acl"),
  requireExp: z.boolean({ error: "must be true or false" }).default(true),
  jwksCacheSeconds: int(1, 86_400).default(600),
  jwksCooldownMs: int(0, 3_600_000).default(30_000),
  jwksTimeoutMs: int(50, 60_000).default(5000),
  maxTokenBytes: int(64, 65_535).default(8192),
};
export const httpAuthShape = {
  url: url(["http:", "https:"], "must be an http:// or https:// URL"),
  headers: headerMap.optional(),
  authorization: z.string({ error: "must be a header value without line breaks" }).regex(/^[^\r\n]*$/, { error: "must be a header value without line breaks" }).optional(),
  ...authorizerCallShape,
};
export const lambdaAuthShape = {
  functionName: nonEmptyString("must be a Lambda function name or ARN"),
  region: nonEmptyString("must be a non-empty AWS region name").optional(),
  ...authorizerCallShape,
};
export const x509Shape = {
  identity: oneOf(X509_IDENTITIES).default("cn"),
  rulesFile: filePath.optional(),
  requireUsernameMatch: z.boolean({ error: "must be true or false" }).default(false),
};

export const authShape = {
  mode: oneOf(AUTH_MODES),
  aclFile: filePath.optional(),
  clientIdPattern: z
    .string({ error: clientIdPatternError })
    .refine((p) => clientIdPatternProblem(p) === null, { error: clientIdPatternError })
    .optional(),
  // Password checks (decision 010): threads of libuv's pool (4 by default) hashing at once, checks waiting,
  // how long an address's checks may wait before its new CONNECTs get 0x03 at once, and the cache of successes.
  hashConcurrency: int(1, 64),
  maxPendingAuth: int(1, 1_000_000),
  maxAuthWaitMs: int(0, TIMER_MAX_MS),
  cacheSeconds: int(0, 86_400),
  cacheMaxEntries: int(1, 10_000_000),
  /** Ordered auth chain; unset = derived from `mode` (docs/auth.md, "The chain"). */
  backends: z
    .array(oneOf(AUTH_BACKENDS), { error: backendsError })
    .min(1, { error: backendsError })
    .refine((l) => new Set(l).size === l.length, { error: backendsError })
    .optional(),
  /** Chain decision cache TTL in seconds (default 60; 0 = no cache). */
  decisionCacheSeconds: int(0, 86_400).optional(),
  /** Decisions the chain cache holds (default 10000; 0 = no cache). */
  decisionCacheSize: int(0, 10_000_000).optional(),
  /** How often a broker polls the store for user and role changes, in ms (default 250). */
  syncIntervalMs: int(50, 60_000).optional(),
  jwt: z.strictObject(jwtShape).optional(),
  http: z.strictObject(httpAuthShape).optional(),
  lambda: z.strictObject(lambdaAuthShape).optional(),
  x509: z.strictObject(x509Shape).optional(),
};
