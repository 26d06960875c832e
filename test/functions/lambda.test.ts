import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handler } from "../../functions/api.js";
import { apiEvent } from "./support.js";

// The Lambda entry point as deployed. Without its store (no Upstash link, no MQGATE_REDIS_URL) it must say so
// clearly while still serving what needs no backend; test/functions/api-cluster.test.ts runs the cluster backend.

describe("functions/api.ts Lambda handler", () => {
  // The EMF lines the handler writes on stdout, one per invocation.
  let lines: string[];
  beforeEach(() => {
    lines = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("serves the OpenAPI document", async () => {
    const res = await handler(apiEvent("GET", "/v1/openapi.json"));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body ?? "").openapi).toBe("3.1.0");
  });

  it("answers 500 configuration-error naming the missing store for routes that need the backend, and 503 on health", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await handler(apiEvent("GET", "/v1/clients", { key: "k" }));
    expect(JSON.parse(log.mock.calls[0]?.[0] as string)).toMatchObject({ level: "error", path: "/v1/clients", err: { name: "ConfigError" } });
    log.mockRestore();
    expect(res.statusCode).toBe(500);
    expect(res.headers?.["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(res.body ?? "")).toMatchObject({ type: "urn:mqgate:problem:configuration-error", detail: expect.stringMatching(/needs the cluster's store: link Upstash .* or set MQGATE_REDIS_URL/) });
    const health = await handler(apiEvent("GET", "/v1/health"));
    expect(health.statusCode).toBe(503);
    expect(JSON.parse(health.body ?? "").detail).toMatch(/needs the cluster's store/);
  });

  it("writes one CloudWatch EMF line on stdout per invocation, with the request id", async () => {
    const events = [apiEvent("GET", "/v1/openapi.json"), apiEvent("GET", "/nope")];
    for (const e of events) await handler(e);
    const docs = lines.map((l) => {
      expect(l.endsWith("\n")).toBe(true);
      return JSON.parse(l);
    });
    expect(docs.map((d) => [d._aws.CloudWatchMetrics[0].Namespace, d.Route, d.Requests, d.requestId])).toEqual([
      ["mqgate", "GET /v1/openapi.json", 1, events[0]?.requestContext.requestId],
      ["mqgate", "unmatched", 1, events[1]?.requestContext.requestId],
    ]);
  });

  it("routes before needing a backend: 404 and 405 still work", async () => {
    expect((await handler(apiEvent("GET", "/nope"))).statusCode).toBe(404);
    expect((await handler(apiEvent("GET", "/v1/publish"))).headers?.allow).toBe("POST");
  });
});
