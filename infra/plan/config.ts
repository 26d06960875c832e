/**
 * The brokers' and functions' own configuration in a deployment (core/config, docs/configuration.md): a typed,
 * deep-partial config object (infra/config.ts, or JSON in MQGATE_DEPLOY_CONFIG) over cluster defaults, handed to
 * the containers and functions as the generated MQGATE_<SECTION>__<KEY> variables. Validated at deploy time by the
 * same schema the processes use, so a bad value stops `sst deploy`, not the tasks.
 */
import { configFileSchema, type DeepPartial, envNameOf, envValueOf, type MqgateConfig } from "../../core/config/index.js";

export type DeployConfig = DeepPartial<MqgateConfig>;

/**
 * Largest MQTT packet in a deployed cluster. A message forwarded between nodes travels in one SQS message
 * (256 KiB at most), its payload base64-encoded inside a JSON envelope: 190,000 bytes become about 253,400,
 * which leaves room for the topic and the envelope (docs/cluster.md, "Limits"). The 1 MiB default of a single
 * node would let clients publish messages no other node could receive directly.
 */
export const CLUSTER_MAX_PACKET_SIZE = 190_000;

/** What a deployment changes from the built-in defaults, before the operator's own config. */
export const CLUSTER_CONFIG_DEFAULTS: DeployConfig = Object.freeze({
  limits: Object.freeze({ maxPacketSize: CLUSTER_MAX_PACKET_SIZE }),
}) as DeployConfig;

/**
 * Keys the deployment sets itself (listeners behind the load balancer, the cluster's queues, auth from the
 * MQGATE_DEPLOY_* settings, the metrics export) or that are secrets: the operator's config may not set them.
 */
export const PLAN_OWNED_KEYS: Readonly<Record<string, string>> = Object.freeze({
  nodeId: "each task picks its own",
  redisUrl: "a secret: npx sst secret set BrokerRedisUrl",
  apiKey: "the REST API uses keys in the store (npm run keys)",
  sqsEndpoint: "the deployment uses AWS's SQS endpoint",
  "mqtt.port": "fixed by the load balancer's listeners",
  "mqtt.host": "fixed by the container",
  "tls.port": "TLS ends at the load balancer (MQGATE_DEPLOY_DOMAIN)",
  "ws.port": "fixed by the load balancer's listeners",
  "http.port": "the REST API runs on Lambda",
  "metrics.port": "the deployment exports metrics as EMF lines",
  "auth.mode": "set MQGATE_DEPLOY_AUTH",
  "auth.aclFile": "set MQGATE_DEPLOY_ACL_FILE",
  "cluster.communicator": "the deployment uses SQS",
  "cluster.queuePrefix": "derived from the app and stage",
  "cluster.linkPort": "fixed by the tasks' link security group (7946)",
  "cluster.linkSecret": "a secret the deployment generates into SSM (BrokerLinkSecretParameter)",
  "events.queueUrl": "the stage's events queue",
  "emf.cluster": "the deployment's name (the alarms and the dashboard select it)",
  "emf.namespace": "the alarms and the dashboard read the mqgate namespace",
});

export class DeployConfigError extends Error {
  override readonly name = "DeployConfigError";
  constructor(readonly issues: readonly string[]) {
    super(`Invalid mqgate config for the deployment (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  - ${i}`).join("\n")}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function leaves(obj: Record<string, unknown>, prefix = ""): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v === undefined ? [] : isObject(v) ? leaves(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

/** Parses MQGATE_DEPLOY_CONFIG (JSON of a deep-partial config); undefined when unset. */
export function configFromDeployEnv(raw: string | undefined): DeployConfig | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new DeployConfigError([`MQGATE_DEPLOY_CONFIG must be JSON: ${err instanceof Error ? err.message : String(err)}`]);
  }
  if (!isObject(parsed)) throw new DeployConfigError(["MQGATE_DEPLOY_CONFIG must be a JSON object of configuration keys"]);
  return parsed as DeployConfig;
}

/**
 * The variables that carry `configs` (later wins, key by key) on top of CLUSTER_CONFIG_DEFAULTS: one generated
 * MQGATE_<SECTION>__<KEY> per set key. Every problem reported at once: unknown keys, invalid values, plan-owned keys.
 */
export function configEnvironment(...configs: (DeployConfig | undefined)[]): Record<string, string> {
  const issues: string[] = [];
  const merged = new Map<string, unknown>(leaves(CLUSTER_CONFIG_DEFAULTS as Record<string, unknown>));
  for (const config of configs) {
    if (config === undefined) continue;
    const r = configFileSchema.safeParse(config);
    if (!r.success) {
      for (const i of r.error.issues) issues.push(`${i.path.join(".") || "config"}: ${i.message}`);
      continue;
    }
    for (const [key, value] of leaves(r.data as Record<string, unknown>)) {
      const owner = PLAN_OWNED_KEYS[key];
      if (owner !== undefined) issues.push(`${key} cannot be set in the deployment's config: ${owner}`);
      else merged.set(key, value);
    }
  }
  if (issues.length > 0) throw new DeployConfigError(issues);
  return Object.fromEntries([...merged].map(([key, value]) => [envNameOf(key), envValueOf(key, value)]));
}
