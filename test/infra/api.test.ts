import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { handler } from "../../functions/api.js";
import { isUpstreamThrottle } from "../../functions/throttle.js";
import { API_FUNCTION, apiAuthEnvironment, apiCors, apiRoutes, apiThrottle, DEFAULT_ROUTE, deployedRouteKeys, EVENTS_CONSUMER } from "../../infra/plan/api.js";
import { deploySettings } from "../../infra/plan/settings.js";
import { apiEvent } from "../functions/support.js";
import { loadConfig } from "../../core/config/index.js";
import { LAMBDA_RUNTIME, NODE_MAJOR } from "../../infra/plan/runtime.js";
import { routes } from "../../functions/routes/index.js";

const root = new URL("../..", import.meta.url).pathname;

describe("apiRoutes: API Gateway HTTP API routes from the REST router's own table (functions/routes/)", () => {
  const keys = apiRoutes();

  it("every route of DESIGN §3.3, once", () => {
    expect(keys).toEqual([
      "POST /v1/publish",
      "POST /v1/publish/batch",
      "POST /v1/topics/{topic+}",
      "GET /v1/clients",
      "GET /v1/clients/{clientId}",
      "DELETE /v1/clients/{clientId}",
      "GET /v1/clients/{clientId}/subscriptions",
      "POST /v1/clients/{clientId}/subscriptions",
      "DELETE /v1/clients/{clientId}/subscriptions/{filter+}",
      "GET /v1/retained",
      "GET /v1/retained/{topic+}",
      "DELETE /v1/retained/{topic+}",
      "GET /v1/nodes",
      "GET /v1/stats",
      "POST /v1/users",
      "GET /v1/users",
      "GET /v1/users/{username}",
      "PATCH /v1/users/{username}",
      "DELETE /v1/users/{username}",
      "GET /v1/roles",
      "GET /v1/roles/{name}",
      "PUT /v1/roles/{name}",
      "DELETE /v1/roles/{name}",
      "GET /v1/health",
      "GET /v1/openapi.json",
    ]);
    expect(() => apiRoutes([...routes, routes[0]!])).toThrow(/duplicate/);
  });

  it("are valid API Gateway route keys: /v1 paths, one parameter per segment, greedy ones last", () => {
    for (const key of keys) {
      const [method, path] = key.split(" ");
      expect(["GET", "POST", "PUT", "PATCH", "DELETE"]).toContain(method);
      expect(path).toMatch(/^\/v1(\/[A-Za-z0-9._-]+|\/\{[A-Za-z]+\})*(\/\{[A-Za-z]+\+\})?$/);
    }
  });

  it("only health and the OpenAPI document go without an API key", () => {
    expect(routes.filter((r) => r.kind === "public").map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v1/health", "GET /v1/openapi.json"]);
  });
});

describe("functions", () => {
  it("run on a current Node.js LTS runtime", () => {
    expect(NODE_MAJOR).toBeGreaterThanOrEqual(22);
    expect(NODE_MAJOR % 2).toBe(0); // even majors are the LTS lines
    expect(LAMBDA_RUNTIME).toBe(`nodejs${NODE_MAJOR}.x`);
  });

  it("the router answers before API Gateway's 30 s integration timeout", () => {
    expect(API_FUNCTION.timeoutSeconds).toBeLessThan(30);
  });

  it("the events consumer: FIFO-sized batches with partial batch responses", () => {
    expect(EVENTS_CONSUMER.batchSize).toBeGreaterThanOrEqual(1);
    expect(EVENTS_CONSUMER.batchSize).toBeLessThanOrEqual(10); // FIFO event sources: at most 10
    expect(EVENTS_CONSUMER.partialResponses).toBe(true);
  });

  it("handlers name functions/ modules that scripts/build.mjs also bundles, once they exist", () => {
    const build = readFileSync(join(root, "scripts/build.mjs"), "utf8");
    for (const fn of [API_FUNCTION, EVENTS_CONSUMER]) {
      const file = `${fn.handler.slice(0, fn.handler.lastIndexOf("."))}.ts`;
      expect(fn.handler.slice(fn.handler.lastIndexOf(".") + 1)).toBe("handler");
      if (existsSync(join(root, file))) expect(build).toContain(`"${file}"`);
    }
  });
});

describe("the HTTP API's edge: default route, CORS, throttling", () => {
  it("routes every other path and method to the router with $default, after the router's own routes", () => {
    const keys = deployedRouteKeys();
    expect(keys.at(-1)).toBe(DEFAULT_ROUTE);
    expect(DEFAULT_ROUTE).toBe("$default");
    expect(keys.slice(0, -1)).toEqual(apiRoutes());
    expect(keys.filter((k) => k === "$default")).toHaveLength(1);
  });

  it("the router behind $default answers unknown paths 404 and wrong methods 405 with Allow, as problem+json", async () => {
    const event = (method: string, path: string) => ({ ...apiEvent(method, path), routeKey: DEFAULT_ROUTE });
    const emf = vi.spyOn(process.stdout, "write").mockImplementation(() => true); // the handler's EMF lines
    const notFound = await handler(event("GET", "/nope"));
    expect(notFound.statusCode).toBe(404);
    expect(notFound.headers?.["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(notFound.body ?? "")).toMatchObject({ type: "urn:mqgate:problem:not-found", status: 404, instance: "/nope" });
    const wrongMethod = await handler(event("PUT", "/v1/openapi.json"));
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers?.allow).toBe("GET");
    expect(JSON.parse(wrongMethod.body ?? "")).toMatchObject({ type: "urn:mqgate:problem:method-not-allowed", status: 405 });
    expect(emf).toHaveBeenCalledTimes(2);
    emf.mockRestore();
  });

  it("CORS is off unless origins are listed, then exactly those origins, the router's methods and headers", () => {
    expect(apiCors([])).toBe(false);
    expect(apiCors(deploySettings({}).corsOrigins)).toBe(false);
    const origins = deploySettings({ MQGATE_DEPLOY_CORS_ORIGINS: "https://ops.example.com,https://noc.example.com" }).corsOrigins;
    const cors = apiCors(origins);
    expect(cors).toEqual({
      allowOrigins: ["https://ops.example.com", "https://noc.example.com"],
      allowMethods: ["DELETE", "GET", "PATCH", "POST", "PUT"],
      allowHeaders: ["authorization", "content-type", "idempotency-key", "x-amz-mqtt5-payload-format-indicator", "x-amz-mqtt5-correlation-data", "x-amz-mqtt5-user-properties"],
      exposeHeaders: ["allow", "idempotent-replayed", "location", "retry-after", "www-authenticate"],
      allowCredentials: false,
      maxAgeSeconds: 3600,
    });
    expect(() => apiCors(["*"])).toThrow(/no wildcards/);
    expect(() => apiCors(["https://*.example.com"])).toThrow(/no wildcards/);
  });

  it("infra/api.ts hands SST the plan's CORS (never SST's allow-all default) and the throttling", () => {
    const source = readFileSync(join(root, "infra/api.ts"), "utf8");
    expect(source).toMatch(/cors:\s*\n?\s*cors === false\s*\n?\s*\? false/);
    expect(source).toContain("throttlingBurstLimit: throttle.burstLimit");
    expect(source).toContain("throttlingRateLimit: throttle.rateLimit");
    expect(source).toContain("deployedRouteKeys()");
  });

  it("throttles every route by default, below the account's quota, configurable per stage", () => {
    expect(apiThrottle(deploySettings({}))).toEqual({ burstLimit: 200, rateLimit: 100 });
    expect(apiThrottle(deploySettings({ MQGATE_DEPLOY_API_BURST_LIMIT: "20", MQGATE_DEPLOY_API_RATE_LIMIT: "5" }))).toEqual({ burstLimit: 20, rateLimit: 5 });
    expect(() => apiThrottle({ apiBurstLimit: 0, apiRateLimit: 1 })).toThrow(/positive integers/);
    expect(() => apiThrottle({ apiBurstLimit: 1, apiRateLimit: 1.5 })).toThrow(/positive integers/);
  });
});

describe("isUpstreamThrottle: what the router answers as 429", () => {
  it("recognises SQS's and Upstash's throttling, also as a cause, and nothing else", () => {
    const sdk = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    expect(isUpstreamThrottle(sdk)).toBe(true);
    expect(isUpstreamThrottle(Object.assign(new Error("x"), { name: "RequestThrottled" }))).toBe(true);
    expect(isUpstreamThrottle(Object.assign(new Error("x"), { $metadata: { httpStatusCode: 429 } }))).toBe(true);
    expect(isUpstreamThrottle(new Error("ERR max daily request limit exceeded. Limit: 10000, Usage: 10000"))).toBe(true);
    expect(isUpstreamThrottle(new Error("send failed", { cause: sdk }))).toBe(true);
    expect(isUpstreamThrottle(new Error("ECONNRESET"))).toBe(false);
    expect(isUpstreamThrottle(Object.assign(new Error("x"), { $metadata: { httpStatusCode: 500 } }))).toBe(false);
    expect(isUpstreamThrottle("ThrottlingException")).toBe(false);
  });
});

describe("the router's auth environment", () => {
  it("with users and roles in the store, the router reads store users (auth.backends [store]); other modes set nothing", async () => {
    for (const auth of ["store", "store,acl"] as const) {
      const env = apiAuthEnvironment(auth);
      expect((await loadConfig({ env })).auth.backends).toEqual(["store"]);
    }
    expect(apiAuthEnvironment("acl")).toEqual({});
    expect(apiAuthEnvironment("allow-all")).toEqual({});
  });
});
