import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import * as z from "zod";
import { ConfigError } from "../core/config/errors.js";
import { InvalidStoreInput } from "../core/store/errors.js";
import { authenticate, keyCoversFilter, requireScope } from "./api-keys.js";
import type { GatewayBackend } from "./backend.js";
import { MetricSet } from "./emf.js";
import { ForbiddenError, HttpError, MethodNotAllowedError, NotFoundError, TooManyRequestsError, ValidationError } from "./errors.js";
import { bodyBytes, decodeParam, header, jsonBody, jsonResult, parseQuery, problemResult } from "./http.js";
import { withIdempotency } from "./idempotency.js";
import type { GatewayLimits, Route } from "./route.js";
import { routes as defaultRoutes } from "./routes/index.js";
import { isUpstreamThrottle } from "./throttle.js";
import { parseInput } from "./validate.js";

/** A handler for API Gateway HTTP API events (payload format 2.0): the Lambda handler and the local adapter's. */
export type ApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

export interface ApiOptions {
  /** The backend, or a factory called on the first request that needs it (and again after it failed). */
  backend: GatewayBackend | (() => Promise<GatewayBackend>);
  limits: GatewayLimits;
  routes?: readonly Route[];
  /** Unexpected errors (answered 500) and configuration errors, for the process edge to log. */
  onError?: (err: unknown, event: APIGatewayProxyEventV2) => void;
  /** Called once per request, after it is answered: for the process edge's metrics (and access logs). */
  onRequest?: (report: RequestReport, event: APIGatewayProxyEventV2) => void;
}

/** What the router tells the process edge about one answered request. Holds no payload, header or key. */
export interface RequestReport {
  /** API Gateway's `requestContext.requestId` (the problem+json `requestId`). */
  requestId: string;
  method: string;
  /** The route as `METHOD /template` (`GET /v1/clients/{clientId}`), or null when none matched (404, 405). */
  route: string | null;
  status: number;
  /** From the event's arrival in the router to its answer. */
  durationMs: number;
  /** What the route recorded (RouteContext.metrics). */
  metrics: MetricSet;
}

type Segment = { literal: string } | { param: string; greedy: boolean };

interface Compiled {
  route: Route;
  segments: Segment[];
}

const NO_QUERY = z.strictObject({});

/** What dispatch learned about a request: the route once matched, the metrics the route recorded. */
interface Progress {
  route: string | null;
  readonly metrics: MetricSet;
}

function compile(route: Route): Compiled {
  const segments = route.path
    .split("/")
    .slice(1)
    .map((s): Segment => {
      const m = /^\{(\w+)(\+?)\}$/.exec(s);
      return m === null ? { literal: s } : { param: m[1] as string, greedy: m[2] === "+" };
    });
  return { route, segments };
}

/** Raw (still percent-encoded) path parameters when `parts` fits the template, else null. */
function matchPath(c: Compiled, parts: readonly string[]): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < c.segments.length; i++) {
    const seg = c.segments[i] as Segment;
    if ("literal" in seg) {
      if (parts[i] !== seg.literal) return null;
      continue;
    }
    if (seg.greedy) {
      const rest = parts.slice(i).join("/");
      if (rest === "") return null;
      params[seg.param] = rest;
      return params;
    }
    const part = parts[i];
    if (part === undefined || part === "") return null;
    params[seg.param] = part;
  }
  return parts.length === c.segments.length ? params : null;
}

/**
 * The REST API's one entry point: matches the route (404, 405 with Allow), authenticates the key and checks the
 * route's scope (401, 403), validates path, query and body with the route's zod schemas (400, 413), runs the
 * thin handler and turns every error into RFC 9457 problem+json.
 */
export function createApi(opts: ApiOptions): ApiHandler {
  const table = (opts.routes ?? defaultRoutes).map(compile);
  const allRoutes = table.map((c) => c.route);
  const { limits } = opts;
  let pending: Promise<GatewayBackend> | null = null;
  const getBackend = (): Promise<GatewayBackend> => {
    const b = opts.backend;
    if (typeof b !== "function") return Promise.resolve(b);
    pending ??= b().catch((err: unknown) => {
      pending = null;
      throw err;
    });
    return pending;
  };

  async function dispatch(event: APIGatewayProxyEventV2, progress: Progress): Promise<APIGatewayProxyStructuredResultV2> {
    const method = (event.requestContext?.http?.method ?? "GET").toUpperCase();
    const path = event.rawPath;
    const parts = path.split("/").slice(1);
    const candidates: { c: Compiled; params: Record<string, string> }[] = [];
    for (const c of table) {
      const params = matchPath(c, parts);
      if (params !== null) candidates.push({ c, params });
    }
    if (candidates.length === 0) throw new NotFoundError(`no route ${path}; see /v1/openapi.json`);
    const hit = candidates.find((x) => x.c.route.method === method);
    if (hit === undefined) throw new MethodNotAllowedError(method, path, [...new Set(candidates.map((x) => x.c.route.method))].sort());
    const route = hit.c.route;
    progress.route = `${route.method} ${route.path}`;

    if (route.kind === "public") return jsonResult(await route.handle({ backend: getBackend, limits, routes: allRoutes }));

    const backend = await getBackend();
    const key = await authenticate(backend.store, header(event, "authorization"));
    requireScope(key, route.scope);
    // Users and roles grant MQTT access to any topic: only a key that is not limited to some topics may manage them,
    // or a key for `devices/#` could create a role for `#` and read everything over MQTT.
    if (route.tag === "identity" && !keyCoversFilter(key, "#")) {
      throw new ForbiddenError(`API key '${key.name}' is limited to topics ${key.topics.join(", ")}: managing users and roles needs a key for '#'`);
    }

    const decoded: Record<string, string> = {};
    for (const [name, raw] of Object.entries(hit.params)) decoded[name] = decodeParam(raw, name);
    const params = route.params ? parseInput(route.params, decoded, "path") : undefined;
    const query = parseInput(route.query ?? NO_QUERY, parseQuery(event), "query");
    const headers = route.headers === undefined ? undefined : parseInput(route.headers, namedHeaders(event, Object.keys(route.headers.shape)), "header");
    let body: unknown;
    if (route.body !== undefined) {
      const json = jsonBody(event, limits.maxBodyBytes);
      route.precheck?.(json, limits);
      body = parseInput(route.body, json, "body");
    } else if (route.rawBody !== undefined) {
      body = bodyBytes(event, limits.maxBodyBytes);
    }
    const input = { params, query, body, headers, event };
    if (route.idempotent !== true) return jsonResult(await route.handle(input, { backend, key, limits, metrics: progress.metrics }));
    // The headers the route reads are part of the request it answers: a retry with other ones is another request.
    const fingerprinted = route.headers === undefined ? [] : Object.keys(route.headers.shape);
    return jsonResult(
      await withIdempotency(
        backend.store,
        key.id,
        event,
        (requestId) => route.handle(input, { backend, key, limits, metrics: progress.metrics, ...(requestId !== null ? { requestId } : {}) }),
        fingerprinted,
      ),
    );
  }

  return async (event) => {
    const started = performance.now();
    const requestId = event.requestContext?.requestId ?? randomUUID();
    const progress: Progress = { route: null, metrics: new MetricSet() };
    let result: APIGatewayProxyStructuredResultV2;
    try {
      result = await dispatch(event, progress);
    } catch (err) {
      result = problemResult(toHttpError(err, event, opts.onError), event.rawPath, requestId);
    }
    if (opts.onRequest !== undefined) {
      const method = (event.requestContext?.http?.method ?? "GET").toUpperCase();
      const report = { requestId, method, route: progress.route, status: result.statusCode ?? 200, durationMs: performance.now() - started, metrics: progress.metrics };
      try {
        opts.onRequest(report, event);
      } catch (err) {
        opts.onError?.(err, event); // a failing report must not fail the answered request
      }
    }
    return result;
  };
}

/** The headers of `names` the request has (API Gateway and the local adapter pass them lower-cased). */
function namedHeaders(event: APIGatewayProxyEventV2, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = header(event, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function toHttpError(err: unknown, event: APIGatewayProxyEventV2, onError: ApiOptions["onError"]): HttpError {
  if (err instanceof HttpError) return err;
  // A store refusal that a handler did not attribute to a field (it validated everything it passes).
  if (err instanceof InvalidStoreInput) return new ValidationError([{ pointer: "#", detail: err.message }]);
  onError?.(err, event);
  if (isUpstreamThrottle(err)) return new TooManyRequestsError("the store or a broker queue is throttling requests; retry after the Retry-After delay");
  if (err instanceof ConfigError) {
    return new HttpError("configuration-error", err.issues.map((i) => i.message).join("; "));
  }
  return new HttpError("internal-error", "the request failed unexpectedly; it is logged with its requestId");
}
