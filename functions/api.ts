/**
 * The REST API's Lambda entry point (API Gateway HTTP API, payload format 2.0): one router function for every
 * route (fewer cold starts). Configuration is read once per cold start (MQGATE_* variables); the backend is
 * built on the first request that needs it.
 */
import { createAuth } from "../core/auth/index.js";
import type { Auth } from "../core/auth/types.js";
import { createSqsClient, EMULATOR_CREDENTIALS, SqsCommunicator } from "../core/communicator/index.js";
import { ConfigError } from "../core/config/errors.js";
import { loadConfigSync } from "../core/config/load.js";
import type { MqgateConfig } from "../core/config/types.js";
import { createStore } from "../core/store/index.js";
import type { GatewayBackend } from "./backend.js";
import { clusterBackend } from "./backend-cluster.js";
import { createLambdaApi } from "./lambda-api.js";
import { gatewayLimits } from "./route.js";

const config = loadConfigSync();

/** A resource linked by SST (`link: [...]` in infra/api.ts): SST puts it in SST_RESOURCE_<name> as JSON. */
function sstLink(name: string): Record<string, unknown> | null {
  const raw = process.env[`SST_RESOURCE_${name}`];
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new ConfigError([{ source: "env", origin: `SST_RESOURCE_${name}`, message: `SST_RESOURCE_${name} is not JSON` }]);
  }
}

/**
 * The backend of the deployed gateway (functions/backend-cluster.ts): the store (Upstash REST from the `Upstash`
 * link, or MQGATE_REDIS_URL) and the node queues (prefix from the `NodeQueues` link, or cluster.queuePrefix).
 */
export async function gatewayBackend(config: MqgateConfig): Promise<GatewayBackend> {
  const upstash = sstLink("Upstash");
  const restUrl = upstash?.restUrl;
  const restToken = upstash?.restToken;
  const store =
    typeof restUrl === "string" && typeof restToken === "string"
      ? await createStore({ upstash: { url: restUrl, token: restToken } })
      : config.redisUrl !== undefined
        ? await createStore({ redisUrl: config.redisUrl })
        : null;
  if (store === null) {
    throw new ConfigError([{ source: "config", message: "the REST gateway needs the cluster's store: link Upstash (infra/api.ts) or set MQGATE_REDIS_URL" }]);
  }
  const linkedPrefix = sstLink("NodeQueues")?.prefix;
  const prefix = typeof linkedPrefix === "string" ? linkedPrefix : config.cluster.queuePrefix;
  const local = config.sqsEndpoint !== undefined && /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(config.sqsEndpoint);
  const client = createSqsClient({
    endpoint: config.sqsEndpoint,
    region: config.cluster.sqsRegion,
    credentials: local && process.env.AWS_ACCESS_KEY_ID === undefined ? EMULATOR_CREDENTIALS : undefined,
  });
  // The clients' rules, for subscriptions made on their behalf. Without them (the ACL file is not readable here)
  // the gateway refuses such requests rather than bypass the rules (docs/auth.md).
  let auth: Auth | null = null;
  let authError: string | undefined;
  try {
    auth = await createAuth(config.auth, { store });
  } catch (err) {
    authError = `the REST gateway could not load the auth configuration (${(err as Error).message.split("\n")[0] ?? ""})`;
  }
  return clusterBackend({
    store,
    communicator: new SqsCommunicator({ client, prefix }),
    maxSubscriptionsPerSession: config.limits.maxSubscriptionsPerSession,
    auth,
    ...(authError === undefined ? {} : { authError }),
  });
}

/** Metrics (one EMF line per invocation) and error logs carry the request id: functions/lambda-api.ts. */
export const handler = createLambdaApi({
  backend: () => gatewayBackend(config),
  limits: gatewayLimits(config),
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local",
});
