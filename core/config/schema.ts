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
 *
 * This module composes the two schemas; the parts live next to it: leaf helpers and value lists
 * (schema-leaves.ts), section shapes (schema-listeners.ts, schema-limits.ts, schema-auth.ts,
 * schema-cluster.ts, schema-ops.ts), cross-field rules (schema-rules.ts) and defaults (schema-defaults.ts).
 */
import * as z from "zod";
import { authShape, httpAuthShape, jwtShape, lambdaAuthShape, x509Shape } from "./schema-auth.js";
import { clusterShape } from "./schema-cluster.js";
import { int, nodeId, nonEmptyString, TIMER_MAX_MS, url } from "./schema-leaves.js";
import { limitsShape } from "./schema-limits.js";
import { listenerShape, tlsShape, wsShape } from "./schema-listeners.js";
import { emfShape, eventsShape, logShape, shutdownShape } from "./schema-ops.js";
import { crossFieldRules } from "./schema-rules.js";

export { DEFAULTS } from "./schema-defaults.js";
export {
  AUTH_BACKENDS,
  AUTH_MODES,
  CLIENT_CERT_MODES,
  COMMUNICATORS,
  DROP_POLICIES,
  JWS_ALGORITHMS,
  LOG_LEVELS,
  MQTT_MAX_PACKET_SIZE,
  X509_IDENTITIES,
} from "./schema-leaves.js";

/** A section's shape for files and overrides: every leaf optional, no defaults (they apply once, to the merged result). */
function fileShape<T extends z.ZodRawShape>(shape: T) {
  const out: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = (v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : (v as z.ZodType)).optional();
  return z.strictObject(out).optional();
}

const topLeaves = {
  nodeId,
  /** Seconds; capped so that the interval in ms still fits a Node timer. */
  sysIntervalSeconds: int(0, Math.floor(TIMER_MAX_MS / 1000)),
  redisUrl: url(["redis:", "rediss:"], "must be a redis:// or rediss:// URL").optional(),
  sqsEndpoint: url(["http:", "https:"], "must be an http:// or https:// URL").optional(),
  apiKey: nonEmptyString("must be a non-empty string").optional(),
};

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
