/**
 * The MQGATE_* environment variables: a fixed, documented contract (docs/configuration.md).
 * Read only by the loader; nothing else in the code base reads process.env for configuration.
 */
import type { ConfigIssue } from "./errors.js";
import { fieldSchema } from "./schema.js";

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
  | "port-zero-off";

export interface EnvVarSpec {
  name: string;
  /** Dotted key paths the variable sets (MQGATE_HOST sets every listener's host). */
  keys: readonly string[];
  kind: EnvKind;
  /** Never echo the value in error messages. */
  secret?: boolean;
}

const LISTENER_HOSTS = ["mqtt.host", "tls.host", "ws.host", "http.host", "metrics.host"] as const;

/** Every variable except MQGATE_CONFIG, in documentation order. */
export const ENV_VARS: readonly EnvVarSpec[] = [
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
  { name: "MQGATE_REDIS_URL", keys: ["redisUrl"], kind: "string", secret: true },
  { name: "MQGATE_SQS_ENDPOINT", keys: ["sqsEndpoint"], kind: "string" },
  { name: "MQGATE_API_KEY", keys: ["apiKey"], kind: "string", secret: true },
  { name: "MQGATE_LOG_LEVEL", keys: ["log.level"], kind: "string" },
  { name: "MQGATE_AUTH_MODE", keys: ["auth.mode"], kind: "string" },
  { name: "MQGATE_ACL_FILE", keys: ["auth.aclFile"], kind: "string" },
  { name: "MQGATE_JWT_JWKS_URL", keys: ["auth.jwt.jwksUrl"], kind: "string" },
  { name: "MQGATE_JWT_SECRET", keys: ["auth.jwt.secret"], kind: "string", secret: true },
  { name: "MQGATE_AUTH_HTTP_URL", keys: ["auth.http.url"], kind: "string" },
  { name: "MQGATE_AUTH_HTTP_AUTHORIZATION", keys: ["auth.http.authorization"], kind: "string", secret: true },
  { name: "MQGATE_AUTH_LAMBDA_FUNCTION", keys: ["auth.lambda.functionName"], kind: "string" },
  { name: "MQGATE_MAX_PACKET_SIZE", keys: ["limits.maxPacketSize"], kind: "int" },
  { name: "MQGATE_MAX_CONNECTIONS", keys: ["limits.maxConnections"], kind: "int" },
  { name: "MQGATE_MAX_INFLIGHT", keys: ["limits.maxInflight"], kind: "int" },
  { name: "MQGATE_MAX_QUEUED", keys: ["limits.maxQueued"], kind: "int" },
  { name: "MQGATE_QUEUE_DROP_POLICY", keys: ["limits.queueDropPolicy"], kind: "string" },
  { name: "MQGATE_SYS_INTERVAL", keys: ["sysIntervalSeconds"], kind: "int" },
  { name: "MQGATE_DRAIN_MS", keys: ["shutdown.drainMs"], kind: "int" },
  { name: "MQGATE_COMMUNICATOR", keys: ["cluster.communicator"], kind: "string" },
  { name: "MQGATE_QUEUE_PREFIX", keys: ["cluster.queuePrefix"], kind: "string" },
  { name: "MQGATE_SQS_REGION", keys: ["cluster.sqsRegion"], kind: "string" },
  { name: "MQGATE_HEARTBEAT_MS", keys: ["cluster.heartbeatMs"], kind: "int" },
  { name: "MQGATE_NODE_TTL_MS", keys: ["cluster.nodeTtlMs"], kind: "int" },
  { name: "MQGATE_RESYNC_MS", keys: ["cluster.resyncMs"], kind: "int" },
  { name: "MQGATE_NODE_ADDRESS", keys: ["cluster.address"], kind: "string" },
  { name: "MQGATE_EVENTS_QUEUE_URL", keys: ["events.queueUrl"], kind: "string" },
];

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

function parseVar(spec: EnvVarSpec, raw: string): Parsed {
  switch (spec.kind) {
    case "port":
      return parsePort(raw, false);
    case "port-zero-off":
      return parsePort(raw, true);
    case "int":
      // Non-decimal text is passed on as a string so the schema reports "must be an integer ...".
      return parseWithSchema(spec.keys[0]!, /^-?\d+$/.test(raw) ? Number(raw) : raw);
    case "string":
      return parseWithSchema(spec.keys[0]!, raw);
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
      const got = spec.secret ? "" : `, got '${raw}'`;
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
