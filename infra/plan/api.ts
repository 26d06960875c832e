/**
 * The REST gateway: API Gateway HTTP API routes onto one router function (fewer cold starts than a function per
 * route), and the example events consumer on the events queue.
 */
import { routes as REST_ROUTES } from "../../functions/routes/index.js";
import type { BrokerAuth } from "./settings.js";

/** What the deployment needs of a route: the REST router's table (functions/routes/) has more. */
export interface RouteKey {
  readonly method: string;
  /** `{name}` is one segment, `{name+}` (last only) the rest of the path: API Gateway's syntax, and the router's. */
  readonly path: string;
}

/**
 * API Gateway route keys ("METHOD /path") of the REST router's own route table, in its order: the deployed routes
 * are the ones the router (and the local adapter, which runs the same router) serves, by construction.
 */
export function apiRoutes(routes: readonly RouteKey[] = REST_ROUTES): string[] {
  const keys = routes.map((r) => `${r.method} ${r.path}`);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new Error(`duplicate REST route ${dup}`);
  return keys;
}

export interface FunctionPlan {
  /** `<file without extension>.<export>`, relative to the repository root. */
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
}

/**
 * The REST router. 10 s is far below API Gateway's 30 s integration limit, so a slow store answers 503 from the
 * router, not 504 from the gateway. 512 MB: Lambda's CPU share grows with memory, and JSON plus hashing of API
 * keys per request are CPU work.
 */
export const API_FUNCTION: FunctionPlan = { handler: "functions/api.handler", timeoutSeconds: 10, memoryMb: 512 };

/** The example events consumer (partial batch responses: one bad event does not redeliver its batch). */
export const EVENTS_CONSUMER: FunctionPlan & { batchSize: number; partialResponses: true } = {
  handler: "functions/events-consumer.handler",
  timeoutSeconds: 30,
  memoryMb: 256,
  // FIFO event sources take at most 10 per batch and no batching window.
  batchSize: 10,
  partialResponses: true,
};

/**
 * The router's auth environment: with users and roles in the store, the router computes the rules of store users
 * for subscriptions on behalf of offline clients (the ACL file is not in the function's bundle, so ACL-file users
 * stay undeterminable there: 409, never a bypass). Other modes keep the router's previous configuration.
 */
export function apiAuthEnvironment(auth: BrokerAuth): Record<string, string> {
  return auth === "store" || auth === "store,acl" ? { MQGATE_AUTH_BACKENDS: "store" } : {};
}
