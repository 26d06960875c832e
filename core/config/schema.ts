/**
 * Zod schemas and defaults of the mqgate configuration.
 *
 * - `configSchema`: a complete, resolved `MqgateConfig` (ranges + cross-field rules).
 * - `configFileSchema`: what a config file (or `loadConfig({ overrides })`) may contain:
 *   every key optional at every depth, unknown keys rejected.
 * - `DEFAULTS`: the built-in values (frozen). `nodeId` is computed by the loader.
 *
 * Every leaf schema carries a "must be ..." message so the loader can print
 * "<where> <key or variable> must be ..., got ..." uniformly for files, env and overrides.
 */
import * as z from "zod";
import type { MqgateConfig } from "./types.js";
import { publishedTopicsSchema } from "../events/filter.js";
import { clientIdPatternProblem } from "../auth/identity.js";

/** Largest value Node timers accept (setTimeout/setInterval delay in ms). */
const TIMER_MAX_MS = 2_147_483_647;
const INT32_MAX = 2_147_483_647;

/** Largest MQTT packet representable by the 4-byte remaining-length field, in bytes. */
export const MQTT_MAX_PACKET_SIZE = 268_435_455;

function int(min: number, max: number) {
  const error = `must be an integer ${min}..${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function port() {
  const error = "must be an integer 0..65535 or null (off)";
  return z.int({ error }).min(0, { error }).max(65535, { error }).nullable();
}

function nonEmptyString(error: string) {
  return z.string({ error }).min(1, { error });
}

function url(protocols: readonly string[], error: string) {
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

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.map((v) => `'${v}'`).join(", ")}` });
}

// ---- leaf schemas -------------------------------------------------------------------------

const hostError = "must be a non-empty host name or IP address without spaces";
const host = z.string({ error: hostError }).regex(/^\S+$/, { error: hostError });

const nodeIdError = "must be 1..128 characters without whitespace, control characters, '/', '+' or '#'";
/** Used in $SYS topics and store keys, hence no topic separators or wildcards. */
const nodeId = z.string({ error: nodeIdError }).regex(/^[^\s/+#\p{Cc}]{1,128}$/u, { error: nodeIdError });

const filePath = nonEmptyString("must be a non-empty file path");

const wsPathError = "must be a URL path starting with '/' (no spaces)";
const wsPath = z.string({ error: wsPathError }).regex(/^\/\S*$/, { error: wsPathError });

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const AUTH_MODES = ["allow-all", "acl"] as const;
/** Backends `auth.backends` may name (core/auth/chain.ts builds them; docs/auth.md). */
export const AUTH_BACKENDS = ["acl", "store", "allow-all", "jwt", "http", "lambda", "x509"] as const;
export const DROP_POLICIES = ["oldest", "newest"] as const;
export const COMMUNICATORS = ["auto", "memory", "sqs"] as const;
export const CLIENT_CERT_MODES = ["off", "optional", "required"] as const;
export const JWS_ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export const X509_IDENTITIES = ["cn", "san-dns", "san-uri", "san-email"] as const;

// ---- section shapes (shared by the full and the file schema) ------------------------------

const listenerShape = { host, port: port() };

const tlsShape = {
  ...listenerShape,
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
  caFile: filePath.optional(),
  clientCerts: oneOf(CLIENT_CERT_MODES),
};

const wsShape = { ...listenerShape, path: wsPath };

const limitsShape = {
  maxPacketSize: int(64, MQTT_MAX_PACKET_SIZE),
  maxConnections: int(1, INT32_MAX),
  maxInflight: int(1, 65535),
  maxQueued: int(0, INT32_MAX),
  queueDropPolicy: oneOf(DROP_POLICIES),
  maxSubscriptionsPerSession: int(1, INT32_MAX),
  maxTopicLength: int(1, 65535),
  maxTopicLevels: int(1, 1024),
  maxClientIdLength: int(23, 65535),
  connectTimeoutMs: int(100, TIMER_MAX_MS),
  maxKeepaliveSeconds: int(0, 65535),
  maxRetained: int(0, INT32_MAX),
  // At least 16 KiB: a smaller bound would take an ordinary burst to a reading client for congestion. Recovery does
  // not depend on the stream's own high-water mark (see Outbox.send, broker/outbox.ts).
  socketHighWaterMark: int(16_384, INT32_MAX),
  maxFiltersPerPacket: int(1, 65535),
  maxConnectPacketSize: int(64, MQTT_MAX_PACKET_SIZE),
  maxPreAuthBytes: int(0, INT32_MAX),
  // Seconds an offline persistent session is kept; 0 = forever (see docs/decisions/007-session-ownership-and-expiry.md).
  sessionExpirySeconds: int(0, 10 * 365 * 24 * 3600),
  maxSessions: int(1, INT32_MAX),
  maxRetainedBytes: int(0, Number.MAX_SAFE_INTEGER),
  // Per source address (IPv6: per /64), checked at accept; 0 = no limit (decision 010).
  maxConnectionsPerAddress: int(0, INT32_MAX),
  connectionRatePerAddress: int(0, INT32_MAX),
  connectionBurstPerAddress: int(1, INT32_MAX),
  maxTrackedAddresses: int(1, 10_000_000),
};

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
const jwtShape = {
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
const httpAuthShape = {
  url: url(["http:", "https:"], "must be an http:// or https:// URL"),
  headers: headerMap.optional(),
  authorization: z.string({ error: "must be a header value without line breaks" }).regex(/^[^\r\n]*$/, { error: "must be a header value without line breaks" }).optional(),
  ...authorizerCallShape,
};
const lambdaAuthShape = {
  functionName: nonEmptyString("must be a Lambda function name or ARN"),
  region: nonEmptyString("must be a non-empty AWS region name").optional(),
  ...authorizerCallShape,
};
const x509Shape = {
  identity: oneOf(X509_IDENTITIES).default("cn"),
  rulesFile: filePath.optional(),
  requireUsernameMatch: z.boolean({ error: "must be true or false" }).default(false),
};

/** A section's shape for files and overrides: every leaf optional, no defaults (they apply once, to the merged result). */
function fileShape<T extends z.ZodRawShape>(shape: T) {
  const out: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = (v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : (v as z.ZodType)).optional();
  return z.strictObject(out).optional();
}

const authShape = {
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

const topLeaves = {
  nodeId,
  /** Seconds; capped so that the interval in ms still fits a Node timer. */
  sysIntervalSeconds: int(0, Math.floor(TIMER_MAX_MS / 1000)),
  redisUrl: url(["redis:", "rediss:"], "must be a redis:// or rediss:// URL").optional(),
  sqsEndpoint: url(["http:", "https:"], "must be an http:// or https:// URL").optional(),
  apiKey: nonEmptyString("must be a non-empty string").optional(),
};

const queuePrefixError = "must be 1..40 letters, digits, '-' or '_'";

const clusterShape = {
  communicator: oneOf(COMMUNICATORS),
  queuePrefix: z.string({ error: queuePrefixError }).regex(/^[A-Za-z0-9_-]{1,40}$/, { error: queuePrefixError }),
  sqsRegion: nonEmptyString("must be a non-empty AWS region name").optional(),
  heartbeatMs: int(100, 60_000),
  nodeTtlMs: int(300, 600_000),
  leaseMarginMs: int(0, 600_000),
  resyncMs: int(0, TIMER_MAX_MS),
  deadQueueGraceMs: int(0, TIMER_MAX_MS),
  deadLetterQueueArn: z
    .string({ error: "must be an SQS FIFO queue ARN" })
    .regex(/^arn:[a-z-]+:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,75}\.fifo$/, { error: "must be an SQS FIFO queue ARN" })
    .optional(),
  address: nonEmptyString("must be a non-empty host:port").optional(),
  links: z.boolean({ error: "must be true or false" }),
  linkHost: nonEmptyString("must be a non-empty host name or address"),
  linkPort: int(0, 65535),
  linkAdvertiseHost: nonEmptyString("must be a non-empty host name or address").optional(),
  linkSecret: z.string({ error: "must be a string of at least 32 characters" }).min(32, { error: "must be a string of at least 32 characters" }).optional(),
  linkAckTimeoutMs: int(10, 60_000),
};

const eventsShape = {
  queueUrl: url(["http:", "https:"], "must be an http:// or https:// SQS queue URL").optional(),
  // MQTT topic filters, checked like subscriptions.
  ...publishedTopicsSchema.shape,
  maxBufferedEvents: int(1, INT32_MAX),
  maxBufferedBytes: int(1024, INT32_MAX),
};

const logShape = { level: oneOf(LOG_LEVELS) };

const emfNamespaceError = "must be 1..255 of A-Z a-z 0-9 . _ # : / -";
const emfDimensionError = "must be 1..255 characters without control characters";
/** CloudWatch embedded metric format lines on stdout (docs/operations.md). */
const emfShape = {
  /** Seconds between two exports; 0 = off. */
  intervalSeconds: int(0, 3600),
  namespace: z.string({ error: emfNamespaceError }).regex(/^[A-Za-z0-9._#:/-]{1,255}$/, { error: emfNamespaceError }),
  /** Value of the `cluster` dimension: the deployment (app and stage). */
  cluster: z.string({ error: emfDimensionError }).regex(/^[^\p{Cc}]{1,255}$/u, { error: emfDimensionError }),
};
const shutdownShape = { drainMs: int(0, TIMER_MAX_MS) };

// ---- cross-field rules --------------------------------------------------------------------

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", "*"]);
const LISTENERS = ["mqtt", "tls", "ws", "http", "metrics"] as const;

function crossFieldRules(cfg: MqgateConfig, ctx: z.RefinementCtx): void {
  if (cfg.tls.port !== null) {
    for (const [key, env] of [
      ["certFile", "MQGATE_TLS_CERT"],
      ["keyFile", "MQGATE_TLS_KEY"],
    ] as const) {
      if (cfg.tls[key] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["tls", key],
          message: `is required when tls.port is set (tls.port is ${cfg.tls.port}); set tls.${key} or ${env}, or turn TLS off with tls.port null / MQGATE_TLS_PORT=off`,
        });
      }
    }
  }
  if (cfg.cluster.communicator === "sqs" && cfg.redisUrl === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "communicator"],
      message: "is 'sqs', which needs a store shared by the nodes; set redisUrl (MQGATE_REDIS_URL)",
    });
  }
  if (cfg.cluster.leaseMarginMs > 0 && cfg.cluster.heartbeatMs + cfg.cluster.leaseMarginMs >= cfg.cluster.nodeTtlMs) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "leaseMarginMs"],
      message: `is ${cfg.cluster.leaseMarginMs}: with cluster.heartbeatMs (${cfg.cluster.heartbeatMs}) it must stay below cluster.nodeTtlMs (${cfg.cluster.nodeTtlMs}), or a node gives its lease up between two renewals`,
    });
  }
  const clustered = cfg.cluster.communicator === "sqs" || (cfg.cluster.communicator === "auto" && cfg.sqsEndpoint !== undefined && cfg.redisUrl !== undefined);
  if (clustered && cfg.cluster.links && cfg.cluster.linkSecret === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "linkSecret"],
      message:
        "is required for node links in a cluster (SQS node queues): set MQGATE_CLUSTER__LINK_SECRET to the same random string of 32+ characters on every node, or turn the fast lane off with cluster.links false / MQGATE_CLUSTER__LINKS=false",
    });
  }
  if (cfg.cluster.heartbeatMs * 2 > cfg.cluster.nodeTtlMs) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "heartbeatMs"],
      message: `is ${cfg.cluster.heartbeatMs}, more than half of cluster.nodeTtlMs (${cfg.cluster.nodeTtlMs}): one late heartbeat would declare a live node dead`,
    });
  }
  const jwt = cfg.auth.jwt;
  if (jwt !== undefined) {
    const sources = [jwt.jwksUrl, jwt.publicKeyFile, jwt.secret, jwt.secretFile].filter((v) => v !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "jwt", "jwksUrl"],
        message: `needs exactly one key source: auth.jwt.jwksUrl, auth.jwt.publicKeyFile, auth.jwt.secret (MQGATE_JWT_SECRET) or auth.jwt.secretFile (${sources} set)`,
      });
    }
  }
  if (cfg.tls.clientCerts !== "off" && cfg.tls.caFile === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["tls", "caFile"],
      message: `is required when tls.clientCerts is '${cfg.tls.clientCerts}': the CA bundle client certificates are verified against (MQGATE_TLS_CA)`,
    });
  }
  const backends = cfg.auth.backends;
  if (backends !== undefined) {
    if (backends.includes("acl") && cfg.auth.aclFile === undefined) {
      ctx.addIssue({ code: "custom", path: ["auth", "aclFile"], message: "is required when auth.backends includes 'acl'; set auth.aclFile or MQGATE_ACL_FILE" });
    }
    const at = backends.indexOf("allow-all");
    if (at >= 0 && at !== backends.length - 1) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "backends"],
        message: `has 'allow-all' before ${backends.slice(at + 1).map((b) => `'${b}'`).join(", ")}, which would never be asked; put 'allow-all' last or remove it`,
      });
    }
  } else if (cfg.auth.mode === "acl" && cfg.auth.aclFile === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["auth", "aclFile"],
      message: "is required when auth.mode is 'acl'; set auth.aclFile or MQGATE_ACL_FILE",
    });
  }
  if (backends === undefined && cfg.auth.mode === "allow-all" && cfg.auth.aclFile !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["auth", "mode"],
      message: `is 'allow-all' but auth.aclFile is set (${cfg.auth.aclFile}), so the ACL would be ignored; set auth.mode 'acl' (MQGATE_AUTH_MODE=acl) or remove auth.aclFile`,
    });
  }
  // Two enabled listeners on the same fixed port and overlapping addresses cannot both bind.
  for (let i = 0; i < LISTENERS.length; i++) {
    for (let j = i + 1; j < LISTENERS.length; j++) {
      const a = LISTENERS[i]!;
      const b = LISTENERS[j]!;
      const la = cfg[a];
      const lb = cfg[b];
      if (la.port === null || la.port === 0 || la.port !== lb.port) continue;
      const overlap = la.host === lb.host || WILDCARD_HOSTS.has(la.host) || WILDCARD_HOSTS.has(lb.host);
      if (overlap) {
        ctx.addIssue({
          code: "custom",
          path: [b, "port"],
          message: `is ${lb.port}, the same port as ${a}.port on an overlapping host (${la.host} / ${lb.host})`,
        });
      }
    }
  }
}

// ---- schemas ------------------------------------------------------------------------------

/** A complete configuration: every required key present, ranges and cross-field rules checked. */
export const configSchema = z
  .strictObject({
    ...topLeaves,
    mqtt: z.strictObject(listenerShape),
    tls: z.strictObject(tlsShape),
    ws: z.strictObject(wsShape),
    http: z.strictObject(listenerShape),
    metrics: z.strictObject(listenerShape),
    limits: z.strictObject(limitsShape),
    auth: z.strictObject(authShape),
    log: z.strictObject(logShape),
    shutdown: z.strictObject(shutdownShape),
    cluster: z.strictObject(clusterShape),
    events: z.strictObject(eventsShape),
    emf: z.strictObject(emfShape),
  })
  .superRefine(crossFieldRules);

/**
 * A config file (and `overrides`): deep-partial `MqgateConfig`, unknown keys are errors.
 * Cross-field rules are checked on the merged result, not per file.
 */
export const configFileSchema = z
  .strictObject({
    ...topLeaves,
    mqtt: z.strictObject(listenerShape).partial(),
    tls: z.strictObject(tlsShape).partial(),
    ws: z.strictObject(wsShape).partial(),
    http: z.strictObject(listenerShape).partial(),
    metrics: z.strictObject(listenerShape).partial(),
    limits: z.strictObject(limitsShape).partial(),
    auth: z
      .strictObject({
        ...authShape,
        jwt: fileShape(jwtShape),
        http: fileShape(httpAuthShape),
        lambda: fileShape(lambdaAuthShape),
        x509: fileShape(x509Shape),
      })
      .partial(),
    log: z.strictObject(logShape).partial(),
    shutdown: z.strictObject(shutdownShape).partial(),
    cluster: z.strictObject(clusterShape).partial(),
    events: z.strictObject(eventsShape).partial(),
    emf: z.strictObject(emfShape).partial(),
  })
  .partial();

/** Unwraps optional/nullable wrappers to reach an object schema's shape, if any. */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : undefined;
}

/** The leaf schema at a dotted key path of `configSchema` (e.g. "limits.maxInflight"). */
export function fieldSchema(keyPath: string): z.ZodType {
  let s: z.ZodType = configSchema;
  for (const key of keyPath.split(".")) {
    const next = shapeOf(s)?.[key];
    if (next === undefined) throw new Error(`unknown config key path '${keyPath}'`);
    s = next;
  }
  return s;
}

/** Keys accepted at a dotted object path ("" = top level), for "did you mean" hints. */
export function keysAt(keyPath: string): string[] {
  const shape = shapeOf(keyPath === "" ? configSchema : fieldSchema(keyPath));
  return shape ? Object.keys(shape) : [];
}

/** Every leaf key path of the configuration, e.g. ["nodeId", "mqtt.host", ...]. */
export function configKeyPaths(): string[] {
  const out: string[] = [];
  const walk = (schema: z.ZodType, prefix: string): void => {
    const shape = shapeOf(schema);
    if (!shape) {
      out.push(prefix);
      return;
    }
    for (const [key, child] of Object.entries(shape)) walk(child, prefix === "" ? key : `${prefix}.${key}`);
  };
  walk(configSchema, "");
  return out;
}

// ---- defaults -----------------------------------------------------------------------------

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Built-in defaults (deeply frozen: copy, never mutate).
 * `nodeId` is "" here: the loader replaces it with `defaultNodeId()` (`<hostname>-<pid>`)
 * when neither the file, MQGATE_NODE_ID nor overrides set it.
 */
export const DEFAULTS: MqgateConfig = deepFreeze({
  nodeId: "",
  mqtt: { host: "0.0.0.0", port: 1883 },
  tls: { host: "0.0.0.0", port: null, clientCerts: "off" },
  ws: { host: "0.0.0.0", port: 8083, path: "/mqtt" },
  http: { host: "0.0.0.0", port: 8080 },
  metrics: { host: "0.0.0.0", port: null },
  limits: {
    maxPacketSize: 1_048_576,
    maxConnections: 100_000,
    maxInflight: 32,
    maxQueued: 1000,
    queueDropPolicy: "oldest",
    maxSubscriptionsPerSession: 1000,
    maxTopicLength: 1024,
    maxTopicLevels: 32,
    maxClientIdLength: 256,
    connectTimeoutMs: 10_000,
    maxKeepaliveSeconds: 0,
    maxRetained: 100_000,
    socketHighWaterMark: 1_048_576,
    maxFiltersPerPacket: 100,
    maxConnectPacketSize: 65_536,
    maxPreAuthBytes: 65_536,
    sessionExpirySeconds: 7200,
    maxSessions: 1_000_000,
    maxRetainedBytes: 1_073_741_824,
    maxConnectionsPerAddress: 1000,
    connectionRatePerAddress: 200,
    connectionBurstPerAddress: 1000,
    maxTrackedAddresses: 100_000,
  },
  auth: { mode: "allow-all", hashConcurrency: 2, maxPendingAuth: 10_000, maxAuthWaitMs: 5000, cacheSeconds: 300, cacheMaxEntries: 100_000 },
  sysIntervalSeconds: 10,
  log: { level: "info" },
  shutdown: { drainMs: 10_000 },
  cluster: {
    communicator: "auto",
    queuePrefix: "mqgate",
    heartbeatMs: 5000,
    nodeTtlMs: 15_000,
    leaseMarginMs: 0,
    resyncMs: 60_000,
    deadQueueGraceMs: 90_000,
    links: true,
    linkHost: "0.0.0.0",
    linkPort: 0,
    linkAckTimeoutMs: 1000,
  },
  events: { maxBufferedEvents: 10_000, maxBufferedBytes: 33_554_432 },
  emf: { intervalSeconds: 0, namespace: "mqgate", cluster: "mqgate" },
});
