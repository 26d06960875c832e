import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { API_FUNCTION, apiAuthEnvironment, apiRoutes, EVENTS_CONSUMER } from "../../infra/plan/api.js";
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
