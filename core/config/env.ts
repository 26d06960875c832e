/**
 * The MQGATE_* environment variables (docs/configuration.md). Two sets, both read by the loader:
 * - the documented short names (MQGATE_MQTT_PORT, MQGATE_REDIS_URL, ...): a fixed contract, kept as they are;
 * - one generated name for every key of the schema (`limits.maxPacketSize` → MQGATE_LIMITS__MAX_PACKET_SIZE),
 *   derived from `configKeyPaths()`, so a key added to the schema is settable from the environment at once.
 * Read only by the loader; nothing else in the code base reads process.env for configuration.
 */
import type { ConfigIssue } from "./errors.js";
import { configKeyPaths, fieldSchema } from "./schema.js";
import { isSecretKey, maskUrlPasswords } from "./secrets.js";

/** Path of the config file (.json, .yaml, .yml); `loadConfig({ file })` takes precedence. */
export const CONFIG_FILE_ENV = "MQGATE_CONFIG";

type EnvKind =
  /** Free text validated by the key's schema. */
  | "string"
  /** Decimal integer validated by the key's schema. */
  | "int"
  /** "off" or "" = null (listener off); integer 0..65535, 0 = pick a free port. */
  | "port"
  /** Like "port" but 0 also means off (metrics listener). */
  | "port-zero-off"
  /** A number (decimal digits, optional fraction when the schema allows one). */
  | "number"
  /** `true` or `false`. */
  | "boolean"
  /** A list: a JSON array (`["a/#","b"]`) or comma-separated values (`a/#,b`). */
  | "list"
  /** Anything else (records, unions): JSON, or the text itself when it is not JSON. */
  | "json";

export interface EnvVarSpec {
  name: string;
  /** Dotted key paths the variable sets (MQGATE_HOST sets every listener's host). */
  keys: readonly string[];
  kind: EnvKind;
  /** Never echo the value in error messages. */
  secret?: boolean;
  /** Generated from the schema (one per key path); otherwise one of the documented short names. */
  generated?: boolean;
  /** Generated kinds only: "off" and "null" (any case) mean null. */
  nullable?: boolean;
}

const LISTENER_HOSTS = ["mqtt.host", "tls.host", "ws.host", "http.host", "metrics.host"] as const;

/** A variable is secret when a key it sets is (core/config/secrets.ts): its value is never echoed. */
function withSecret(spec: EnvVarSpec): EnvVarSpec {
  return spec.keys.some(isSecretKey) ? { ...spec, secret: true } : spec;
}

/** The documented short names, in documentation order. */
export const SHORT_ENV_VARS: readonly EnvVarSpec[] = ([
  { name: "MQGATE_NODE_ID", keys: ["nodeId"], kind: "string" },
  { name: "MQGATE_HOST", keys: LISTENER_HOSTS, kind: "string" },
  { name: "MQGATE_MQTT_PORT", keys: ["mqtt.port"], kind: "port" },
  { name: "MQGATE_TLS_PORT", keys: ["tls.port"], kind: "port" },
  { name: "MQGATE_TLS_CERT", keys: ["tls.certFile"], kind: "string" },
  { name: "MQGATE_TLS_KEY", keys: ["tls.keyFile"], kind: "string" },
  { name: "MQGATE_TLS_CA", keys: ["tls.caFile"], kind: "string" },
  { name: "MQGATE_TLS_CLIENT_CERTS", keys: ["tls.clientCerts"], kind: "string" },
  { name: "MQGATE_WS_PORT", keys: ["ws.port"], kind: "port" },
  { name: "MQGATE_HTTP_PORT", keys: ["http.port"], kind: "port" },
  { name: "MQGATE_METRICS_PORT", keys: ["metrics.port"], kind: "port-zero-off" },
  { name: "MQGATE_REDIS_URL", keys: ["redisUrl"], kind: "string" },
  { name: "MQGATE_SQS_ENDPOINT", keys: ["sqsEndpoint"], kind: "string" },
  { name: "MQGATE_API_KEY", keys: ["apiKey"], kind: "string" },
  { name: "MQGATE_LOG_LEVEL", keys: ["log.level"], kind: "string" },
  { name: "MQGATE_AUTH_MODE", keys: ["auth.mode"], kind: "string" },
  { name: "MQGATE_ACL_FILE", keys: ["auth.aclFile"], kind: "string" },
  { name: "MQGATE_AUTH_BACKENDS", keys: ["auth.backends"], kind: "list" },
  { name: "MQGATE_AUTH_CACHE_SECONDS", keys: ["auth.cacheSeconds"], kind: "int" },
  { name: "MQGATE_JWT_JWKS_URL", keys: ["auth.jwt.jwksUrl"], kind: "string" },
  { name: "MQGATE_JWT_SECRET", keys: ["auth.jwt.secret"], kind: "string" },
  { name: "MQGATE_AUTH_HTTP_URL", keys: ["auth.http.url"], kind: "string" },
  { name: "MQGATE_AUTH_HTTP_AUTHORIZATION", keys: ["auth.http.authorization"], kind: "string" },
  { name: "MQGATE_AUTH_LAMBDA_FUNCTION", keys: ["auth.lambda.functionName"], kind: "string" },
  { name: "MQGATE_MAX_PACKET_SIZE", keys: ["limits.maxPacketSize"], kind: "int" },
  { name: "MQGATE_MAX_CONNECTIONS", keys: ["limits.maxConnections"], kind: "int" },
  { name: "MQGATE_MAX_INFLIGHT", keys: ["limits.maxInflight"], kind: "int" },
  { name: "MQGATE_MAX_QUEUED", keys: ["limits.maxQueued"], kind: "int" },
  { name: "MQGATE_QUEUE_DROP_POLICY", keys: ["limits.queueDropPolicy"], kind: "string" },
  { name: "MQGATE_MAX_CONNECTIONS_PER_ADDRESS", keys: ["limits.maxConnectionsPerAddress"], kind: "int" },
  { name: "MQGATE_CONNECTION_RATE_PER_ADDRESS", keys: ["limits.connectionRatePerAddress"], kind: "int" },
  { name: "MQGATE_SYS_INTERVAL", keys: ["sysIntervalSeconds"], kind: "int" },
  { name: "MQGATE_DRAIN_MS", keys: ["shutdown.drainMs"], kind: "int" },
  { name: "MQGATE_COMMUNICATOR", keys: ["cluster.communicator"], kind: "string" },
  { name: "MQGATE_QUEUE_PREFIX", keys: ["cluster.queuePrefix"], kind: "string" },
  { name: "MQGATE_SQS_REGION", keys: ["cluster.sqsRegion"], kind: "string" },
  { name: "MQGATE_HEARTBEAT_MS", keys: ["cluster.heartbeatMs"], kind: "int" },
  { name: "MQGATE_NODE_TTL_MS", keys: ["cluster.nodeTtlMs"], kind: "int" },
  { name: "MQGATE_LEASE_MARGIN_MS", keys: ["cluster.leaseMarginMs"], kind: "int" },
  { name: "MQGATE_RESYNC_MS", keys: ["cluster.resyncMs"], kind: "int" },
  { name: "MQGATE_NODE_ADDRESS", keys: ["cluster.address"], kind: "string" },
  { name: "MQGATE_EVENTS_QUEUE_URL", keys: ["events.queueUrl"], kind: "string" },
] satisfies EnvVarSpec[]).map(withSecret);

/** `limits.maxPacketSize` → `MQGATE_LIMITS__MAX_PACKET_SIZE`: sections joined by `__`, camelCase to SNAKE_CASE. */
export function envNameOf(keyPath: string): string {
  const snake = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/-/g, "_").toUpperCase();
  return `MQGATE_${keyPath.split(".").map(snake).join("__")}`;
}

type Def = { type: string; innerType?: Def; in?: Def; element?: Def; check?: string; format?: string };
const defOf = (schema: unknown): Def => (schema as { _zod: { def: Def } })._zod.def;

/** The variable kind of a leaf schema, looking through optional/nullable/default wrappers. */
function kindOf(keyPath: string): { kind: EnvKind; nullable: boolean } {
  let def = defOf(fieldSchema(keyPath));
  let nullable = false;
  for (;;) {
    if (def.type === "nullable") nullable = true;
    if ((def.type === "optional" || def.type === "nullable" || def.type === "default" || def.type === "prefault") && def.innerType) def = def.innerType;
    else if (def.type === "pipe" && def.in) def = def.in;
    else break;
  }
  const kinds: Record<string, EnvKind> = { string: "string", enum: "string", literal: "string", number: "number", boolean: "boolean", array: "list" };
  return { kind: kinds[def.type] ?? "json", nullable };
}

/** One generated variable per key path of the schema (the documented short names stay as they are, too). */
function generatedEnvVars(short: readonly EnvVarSpec[]): EnvVarSpec[] {
  const shortByName = new Map(short.map((v) => [v.name, v]));
  const out: EnvVarSpec[] = [];
  for (const keyPath of configKeyPaths()) {
    const name = envNameOf(keyPath);
    const same = shortByName.get(name);
    if (same !== undefined) {
      // MQGATE_REDIS_URL, MQGATE_NODE_ID, ...: the short name is already the generated one.
      if (same.keys.length === 1 && same.keys[0] === keyPath) continue;
      throw new Error(`generated variable ${name} (${keyPath}) collides with the documented ${name} (${same.keys.join(", ")})`);
    }
    const { kind, nullable } = kindOf(keyPath);
    out.push(withSecret({ name, keys: [keyPath], kind, generated: true, ...(nullable ? { nullable } : {}) }));
  }
  return out;
}

/**
 * Every variable except MQGATE_CONFIG: the short names, then the generated ones. Later wins when both are set,
 * so a generated (per-key) variable overrides a short one (MQGATE_WS__HOST over MQGATE_HOST).
 */
export const ENV_VARS: readonly EnvVarSpec[] = [...SHORT_ENV_VARS, ...generatedEnvVars(SHORT_ENV_VARS)];

/** The variable that sets `keyPath` alone (the short name where it is the generated one, e.g. MQGATE_REDIS_URL). */
export function envVarOf(keyPath: string): EnvVarSpec {
  const spec = ENV_VARS.find((v) => v.name === envNameOf(keyPath));
  if (spec === undefined) throw new Error(`unknown config key path '${keyPath}'`);
  return spec;
}

/** A value as the text of `keyPath`'s generated variable (the inverse of what the loader reads). */
export function envValueOf(keyPath: string, value: unknown): string {
  if (value === null) return "off";
  if (Array.isArray(value)) {
    const plain = value.every((v) => typeof v === "string" && v !== "" && !v.includes(",") && v.trim() === v && !v.startsWith("["));
    return plain ? value.join(",") : JSON.stringify(value);
  }
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && kindOf(keyPath).kind === "json") return JSON.stringify(value);
  return String(value);
}

type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

function parseWithSchema(keyPath: string, value: unknown): Parsed {
  const r = fieldSchema(keyPath).safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, error: r.error.issues[0]?.message ?? "is invalid" };
}

function parsePort(raw: string, zeroIsOff: boolean): Parsed {
  const accepted = zeroIsOff
    ? "must be an integer 0..65535 or 'off' (0 = off)"
    : "must be an integer 0..65535 or 'off'";
  if (raw === "" || raw.toLowerCase() === "off") return { ok: true, value: null };
  if (!/^\d+$/.test(raw)) return { ok: false, error: accepted };
  const n = Number(raw);
  if (n > 65535) return { ok: false, error: accepted };
  return { ok: true, value: zeroIsOff && n === 0 ? null : n };
}

function parseList(keyPath: string, raw: string): Parsed {
  let items: unknown;
  if (raw.startsWith("[")) {
    try {
      items = JSON.parse(raw);
    } catch {
      return { ok: false, error: "must be a JSON array or comma-separated values (the JSON array is invalid)" };
    }
  } else {
    items = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }
  return parseWithSchema(keyPath, items);
}

function parseVar(spec: EnvVarSpec, raw: string): Parsed {
  const key = spec.keys[0]!;
  if (spec.nullable === true && /^(off|null)$/i.test(raw)) return { ok: true, value: null };
  switch (spec.kind) {
    case "port":
      return parsePort(raw, false);
    case "port-zero-off":
      return parsePort(raw, true);
    case "int":
      // Non-decimal text is passed on as a string so the schema reports "must be an integer ...".
      return parseWithSchema(spec.keys[0]!, /^-?\d+$/.test(raw) ? Number(raw) : raw);
    case "string":
      return parseWithSchema(key, raw);
    case "number":
      return parseWithSchema(key, /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
    case "boolean":
      return parseWithSchema(key, raw === "true" ? true : raw === "false" ? false : raw);
    case "list":
      return parseList(key, raw);
    case "json": {
      let value: unknown = raw;
      try {
        value = JSON.parse(raw);
      } catch {
        // not JSON: the text itself, for the schema to judge
      }
      return parseWithSchema(key, value);
    }
  }
}

function setPath(target: Record<string, unknown>, keyPath: string, value: unknown): void {
  const keys = keyPath.split(".");
  let obj = target;
  for (const key of keys.slice(0, -1)) {
    const next = obj[key];
    if (next !== null && typeof next === "object") {
      obj = next as Record<string, unknown>;
    } else {
      const created: Record<string, unknown> = {};
      obj[key] = created;
      obj = created;
    }
  }
  obj[keys[keys.length - 1]!] = value;
}

/**
 * Reads the MQGATE_* variables into a partial config. Values are trimmed. Empty values mean
 * "unset", except for port variables where "" (like "off") turns the listener off.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): { patch: Record<string, unknown>; issues: ConfigIssue[] } {
  const patch: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const spec of ENV_VARS) {
    const original = env[spec.name];
    if (original === undefined) continue;
    const raw = original.trim();
    const isPort = spec.kind === "port" || spec.kind === "port-zero-off";
    if (raw === "" && !isPort) continue;
    const parsed = parseVar(spec, raw);
    if (parsed.ok) {
      for (const key of spec.keys) setPath(patch, key, parsed.value);
    } else {
      const got = spec.secret ? "" : `, got '${maskUrlPasswords(raw)}'`;
      issues.push({
        source: "env",
        origin: spec.name,
        keyPath: spec.keys.length === 1 ? spec.keys[0] : undefined,
        message: `${spec.name} ${parsed.error}${got}`,
      });
    }
  }
  return { patch, issues };
}
