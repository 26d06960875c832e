/**
 * The REST gateway: API Gateway HTTP API routes onto one router function (fewer cold starts than a function per
 * route), and the example events consumer on the events queue.
 */
import { MQTT5_HEADERS } from "../../functions/property-schemas.js";
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

/**
 * API Gateway's catch-all route key. Without it, a request no route matches gets API Gateway's own 404
 * (`{"message":"Not Found"}`) and a known path with another method the same 404, instead of the problem+json
 * 404 / 405-with-Allow that docs/rest-api.md promises. With it, every request reaches the router, which answers
 * them exactly as it does locally.
 */
export const DEFAULT_ROUTE = "$default";

/** Every route key the HTTP API gets: the router's own (per-route metrics and access-log `routeKey`), then `$default`. */
export function deployedRouteKeys(routes: readonly RouteKey[] = REST_ROUTES): string[] {
  return [...apiRoutes(routes), DEFAULT_ROUTE];
}

/** Request headers a browser may send, response headers it may read: what the REST API uses (docs/rest-api.md). */
const CORS_REQUEST_HEADERS = ["authorization", "content-type", "idempotency-key", ...MQTT5_HEADERS] as const;
const CORS_EXPOSED_HEADERS = ["allow", "idempotent-replayed", "location", "retry-after", "www-authenticate"] as const;

const HTTP_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
const isHttpMethod = (m: string): m is HttpMethod => (HTTP_METHODS as readonly string[]).includes(m);

export interface CorsPlan {
  allowOrigins: string[];
  allowMethods: HttpMethod[];
  allowHeaders: string[];
  exposeHeaders: string[];
  allowCredentials: false;
  maxAgeSeconds: number;
}

/**
 * The HTTP API's CORS configuration. SST's ApiGatewayV2 allows every origin, method and header unless told
 * otherwise; the REST API is called by servers and by the dashboard on its own origin, so the default is `false`:
 * no CORS headers, no preflight answers (a browser on another origin cannot read any response). With origins, exactly
 * those, the methods the router serves and the headers it reads. Credentials stay off: the API key travels in the
 * Authorization header the page sets itself, never in cookies.
 */
export function apiCors(origins: readonly string[], routes: readonly RouteKey[] = REST_ROUTES): CorsPlan | false {
  if (origins.length === 0) return false;
  for (const o of origins) if (o === "*" || o.includes("*")) throw new Error(`CORS origin '${o}': list origins explicitly, no wildcards`);
  return {
    allowOrigins: [...origins],
    allowMethods: [...new Set(routes.map((r) => r.method))].sort().map((m) => {
      if (!isHttpMethod(m)) throw new Error(`route method '${m}' is not an HTTP method API Gateway knows`);
      return m;
    }),
    allowHeaders: [...CORS_REQUEST_HEADERS],
    exposeHeaders: [...CORS_EXPOSED_HEADERS],
    allowCredentials: false,
    maxAgeSeconds: 3600,
  };
}

export interface ThrottlePlan {
  /** Token bucket size: requests accepted at once. */
  burstLimit: number;
  /** Tokens per second: the sustained request rate. */
  rateLimit: number;
}

/**
 * The stage's default route throttling (applies to every route, `$default` included). Beyond it API Gateway itself
 * answers `429 {"message":"Too Many Requests"}`: HTTP APIs cannot customise that body (only REST APIs have gateway
 * responses), so clients must treat any 429 alike and back off (docs/rest-api.md, "Throttling"). The router's own
 * 429 (store or SQS throttling upstream) is problem+json with Retry-After.
 */
export function apiThrottle(settings: { apiBurstLimit: number; apiRateLimit: number }): ThrottlePlan {
  const { apiBurstLimit: burstLimit, apiRateLimit: rateLimit } = settings;
  if (!Number.isInteger(burstLimit) || !Number.isInteger(rateLimit) || burstLimit < 1 || rateLimit < 1) {
    throw new Error(`API throttling needs positive integers, got burst ${burstLimit}, rate ${rateLimit}`);
  }
  return { burstLimit, rateLimit };
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
