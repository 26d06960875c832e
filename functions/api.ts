/**
 * The REST API's Lambda entry point (API Gateway HTTP API, payload format 2.0): one router function for every
 * route (fewer cold starts). Configuration is read once per cold start (MQGATE_* variables); the backend is
 * built on the first request that needs it.
 */
import { ConfigError } from "../core/config/errors.js";
import { loadConfigSync } from "../core/config/load.js";
import type { MqgateConfig } from "../core/config/types.js";
import type { GatewayBackend } from "./backend.js";
import { createLambdaApi } from "./lambda-api.js";
import { gatewayLimits } from "./route.js";

const config = loadConfigSync();

/**
 * The backend of the deployed gateway: the store plus the communicator that reaches the broker nodes. Only the
 * in-process backend (`npm start`, functions/local.ts) exists so far; outside local mode this refuses clearly.
 */
export async function gatewayBackend(_config: MqgateConfig): Promise<GatewayBackend> {
  throw new ConfigError([{ source: "config", message: "cluster backend not available yet: see issue 4" }]);
}

/** Metrics (one EMF line per invocation) and error logs carry the request id: functions/lambda-api.ts. */
export const handler = createLambdaApi({
  backend: () => gatewayBackend(config),
  limits: gatewayLimits(config),
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local",
});
