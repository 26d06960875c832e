import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { z } from "zod";
import type { MqgateConfig } from "../core/config/types.js";
import type { ApiKeyRecord } from "../core/store/types.js";
import type { TopicLimits } from "../core/topic/index.js";
import type { Scope } from "./api-keys.js";
import type { GatewayBackend } from "./backend.js";
import type { MetricSet } from "./emf.js";
import type { RouteResponse } from "./http.js";
import { MAX_BATCH } from "./schemas.js";

/**
 * A route: its method and path, its documentation (the OpenAPI document is generated from this table), its
 * input schemas and a thin handler. The router does everything generic: matching, authentication and scope,
 * parsing and validating parameters and body, and turning errors into problem+json.
 */

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** The limits the gateway enforces, from the broker configuration so REST and MQTT agree. */
export interface GatewayLimits {
  topic: TopicLimits;
  /** Largest MQTT packet a message may become (the broker's maxPacketSize). */
  maxPacketSize: number;
  /** Messages per batch publish. */
  maxBatch: number;
  /** Largest request body (API Gateway passes up to 10 MB; a Lambda invocation carries at most 6 MB). */
  maxBodyBytes: number;
}

export const MAX_BODY_BYTES = 6 * 1024 * 1024;

export function gatewayLimits(config: MqgateConfig): GatewayLimits {
  return {
    topic: { maxTopicLength: config.limits.maxTopicLength, maxTopicLevels: config.limits.maxTopicLevels },
    maxPacketSize: config.limits.maxPacketSize,
    maxBatch: MAX_BATCH,
    maxBodyBytes: MAX_BODY_BYTES,
  };
}

/** What an authenticated route's handler gets besides its input. */
export interface RouteContext {
  readonly backend: GatewayBackend;
  readonly key: ApiKeyRecord;
  readonly limits: GatewayLimits;
  /**
   * This request's metrics (summed; the process edge reports them with the route, e.g. as CloudWatch EMF).
   * Names are fixed and low-cardinality: never a client id or a topic in a name.
   */
  readonly metrics: MetricSet;
  /**
   * For a request with an Idempotency-Key (routes with `idempotent`): an id that is the same for every retry of it,
   * to pass to the backend (functions/idempotency.ts). Absent otherwise.
   */
  readonly requestId?: string;
}

/** What a public route (health, OpenAPI) gets: the backend only on demand, since it may be unavailable. */
export interface PublicContext {
  backend(): Promise<GatewayBackend>;
  readonly limits: GatewayLimits;
  /** The route table (for the OpenAPI document). */
  readonly routes: readonly Route[];
}

export interface RouteInput<P, Q, B, H = undefined> {
  params: P;
  query: Q;
  body: B;
  /** The headers the route's `headers` schema names, validated. */
  headers: H;
  event: APIGatewayProxyEventV2;
}

/** Documentation of one response of a route. */
export interface ResponseDoc {
  description: string;
  /** A registered response schema; none for 204. */
  schema?: z.ZodType;
}

interface RouteDoc {
  method: Method;
  /** Template: `{name}` is one path segment, `{name+}` (last only) the rest of the path. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: "publish" | "clients" | "retained" | "cluster" | "identity" | "meta";
  /** Success responses by status. */
  responses: Record<number, ResponseDoc>;
  /** Problem statuses the route itself may answer (401, 404 for the path and 405 are added for all). */
  problems: readonly number[];
  /** Honours an `Idempotency-Key` header (functions/idempotency.ts; adds 409 and 422 to the problems). */
  idempotent?: boolean;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteSpec<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
  H extends z.ZodObject | undefined = undefined,
> extends RouteDoc {
  scope: Scope;
  params?: P;
  query?: Q;
  /**
   * Request headers the route reads (lower-case names), validated like the query: only the named ones are looked
   * at, each optional unless the schema says otherwise; an invalid one is 400 naming the header.
   */
  headers?: H;
  /** A JSON body validated with this schema. */
  body?: B;
  /** Checks on the parsed JSON body before the schema (a batch over the limit is 413, not 400). */
  precheck?: (body: unknown, limits: GatewayLimits) => void;
  /** Or a raw body, passed as bytes (raw publish). */
  rawBody?: { contentType: string; description: string };
  handle(input: RouteInput<Out<P>, Out<Q>, B extends z.ZodType ? z.output<B> : Buffer | undefined, Out<H>>, ctx: RouteContext): Promise<RouteResponse>;
}

export interface PublicRouteSpec extends RouteDoc {
  handle(ctx: PublicContext): Promise<RouteResponse>;
}

/** The route table's erased entry. */
type AnyRouteSpec = RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined, z.ZodObject | undefined>;

export type Route = ({ kind: "api" } & AnyRouteSpec) | ({ kind: "public" } & PublicRouteSpec);

export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  H extends z.ZodObject | undefined = undefined,
>(spec: RouteSpec<P, Q, B, H>): Route {
  return { kind: "api", ...(spec as unknown as AnyRouteSpec) };
}

export function definePublicRoute(spec: PublicRouteSpec): Route {
  return { kind: "public", ...spec };
}
