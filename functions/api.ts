/**
 * The REST API's Lambda entry point (API Gateway HTTP API, payload format 2.0): one router function for every
 * route (fewer cold starts). Configuration is read once per cold start (MQGATE_* variables); the backend is
 * built on the first request that needs it.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { ConfigError } from "../core/config/errors.js";
import { loadConfigSync } from "../core/config/load.js";
import type { MqgateConfig } from "../core/config/types.js";
import type { GatewayBackend } from "./backend.js";
import { gatewayLimits } from "./route.js";
import { createApi } from "./router.js";

const config = loadConfigSync();

/**
 * The backend of the deployed gateway: the store plus the communicator that reaches the broker nodes. Only the
 * in-process backend (`npm start`, functions/local.ts) exists so far; outside local mode this refuses clearly.
 */
export async function gatewayBackend(_config: MqgateConfig): Promise<GatewayBackend> {
  throw new ConfigError([{ source: "config", message: "cluster backend not available yet: see issue 4" }]);
}

function logError(err: unknown, event: APIGatewayProxyEventV2): void {
  const e = err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { message: String(err) };
  console.error(JSON.stringify({ level: "error", msg: "request failed", requestId: event.requestContext?.requestId, path: event.rawPath, err: e }));
}

export const handler = createApi({ backend: () => gatewayBackend(config), limits: gatewayLimits(config), onError: logError });
