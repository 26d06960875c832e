import { describe, expect, it } from "vitest";
import { call } from "../support.js";
import { expectProblem, type Setup } from "./env.js";

export function routingTests(setup: Setup): void {
  describe("routing and keys", () => {
    it("unknown routes are 404 and wrong methods 405 with Allow, as problem+json", async () => {
      const env = await setup();
      expectProblem(await call(env.api, "GET", "/v1/nope", { key: env.admin }), 404, "not-found");
      expectProblem(await call(env.api, "GET", "/v2/publish"), 404, "not-found");
      expectProblem(await call(env.api, "GET", "/v1/retained/"), 404, "not-found");
      const put = await call(env.api, "PUT", "/v1/publish", { key: env.admin });
      expectProblem(put, 405, "method-not-allowed");
      expect(put.headers.allow).toBe("POST");
      const patch = await call(env.api, "PATCH", "/v1/clients/c1");
      expect(patch.status).toBe(405);
      expect(patch.headers.allow).toBe("DELETE, GET");
      expect((await call(env.api, "POST", "/v1/retained/a/b")).headers.allow).toBe("DELETE, GET");
    });

    it("401 without a key, with a malformed header, with an unknown or revoked key; WWW-Authenticate is set", async () => {
      const env = await setup();
      const none = await call(env.api, "GET", "/v1/clients");
      expectProblem(none, 401, "unauthorized");
      expect(none.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(none.body.detail).toMatch(/missing Authorization/);
      expect((await call(env.api, "GET", "/v1/clients", { headers: { authorization: `Basic ${env.admin}` } })).body.detail).toMatch(/malformed/);
      expectProblem(await call(env.api, "GET", "/v1/clients", { key: "mqg_wrong" }), 401, "unauthorized");
      const keys = await env.store.listApiKeys();
      const reader = keys.find((k) => k.name === "read #");
      expect(reader).toBeDefined();
      expect((await call(env.api, "GET", "/v1/clients", { key: env.reader })).status).toBe(200);
      await env.store.deleteApiKey(reader?.id ?? "");
      expectProblem(await call(env.api, "GET", "/v1/clients", { key: env.reader }), 401, "unauthorized");
    });

    it("403 for a key without the route's scope; admin has every scope", async () => {
      const env = await setup();
      const msg = { topic: "devices/1", payload: "x" };
      const denied = await call(env.api, "POST", "/v1/publish", { key: env.reader, body: msg });
      expectProblem(denied, 403, "forbidden");
      expect(denied.body.detail).toMatch(/lacks the 'publish' scope/);
      expectProblem(await call(env.api, "GET", "/v1/clients", { key: env.publisher }), 403, "forbidden");
      expectProblem(await call(env.api, "DELETE", "/v1/clients/c1", { key: env.reader }), 403, "forbidden");
      expectProblem(await call(env.api, "POST", "/v1/clients/c1/subscriptions", { key: env.publisher, body: { subscriptions: [{ filter: "a", qos: 0 }] } }), 403, "forbidden");
      expectProblem(await call(env.api, "DELETE", "/v1/retained/a", { key: env.publisher }), 403, "forbidden");
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: msg })).status).toBe(200);
      expect((await call(env.api, "GET", "/v1/stats", { key: env.admin })).status).toBe(200);
    });

    it("health and the OpenAPI document need no key", async () => {
      const env = await setup();
      const health = await call(env.api, "GET", "/v1/health");
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: "ok", store: { kind: env.store.kind, reachable: true } });
      const doc = await call(env.api, "GET", "/v1/openapi.json");
      expect(doc.status).toBe(200);
      expect(doc.body.openapi).toBe("3.1.0");
      expect(Object.keys(doc.body.paths)).toContain("/v1/publish");
    });

    it("query parameters are checked: unknown, repeated, malformed percent-encoding, out of range", async () => {
      const env = await setup();
      const unknown = await call(env.api, "GET", "/v1/clients", { key: env.admin, query: "limt=5" });
      expectProblem(unknown, 400, "invalid-request");
      expect(unknown.body.errors).toEqual([{ parameter: "limt", detail: "is not a known parameter" }]);
      expect((await call(env.api, "GET", "/v1/clients", { key: env.admin, query: "limit=1&limit=2" })).body.errors).toEqual([{ parameter: "limit", detail: "is given more than once" }]);
      expect((await call(env.api, "GET", "/v1/clients", { key: env.admin, query: "limit=0" })).body.errors).toEqual([{ parameter: "limit", detail: "must be at least 1" }]);
      expect((await call(env.api, "GET", "/v1/clients", { key: env.admin, query: "limit=1001" })).body.errors).toEqual([{ parameter: "limit", detail: "must be at most 1000" }]);
      expect((await call(env.api, "GET", "/v1/clients", { key: env.admin, query: "limit=ten" })).body.errors).toEqual([{ parameter: "limit", detail: "must be an integer" }]);
      expect((await call(env.api, "GET", "/v1/clients", { key: env.admin, query: "connected=yes" })).body.errors).toEqual([{ parameter: "connected", detail: "must be 'true' or 'false'" }]);
      expectProblem(await call(env.api, "GET", "/v1/retained", { key: env.admin, query: "filter=%E0%A4%A" }), 400, "invalid-request");
      expectProblem(await call(env.api, "GET", "/v1/clients/%E0%A4%A", { key: env.admin }), 400, "invalid-request");
      expectProblem(await call(env.api, "GET", "/v1/stats", { key: env.admin, query: "x=1" }), 400, "invalid-request");
    });
  });
}
