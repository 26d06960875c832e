import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import { seedDevKey } from "../../functions/api-keys.js";
import type { GatewayBackend } from "../../functions/backend.js";
import { localBackend } from "../../functions/backend-local.js";
import { emfDocument, MetricSet } from "../../functions/emf.js";
import { createLambdaApi } from "../../functions/lambda-api.js";
import { gatewayLimits } from "../../functions/route.js";
import type { ApiHandler } from "../../functions/router.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { apiEvent, mqttClient, type TestClient } from "./support.js";

// Lambda metrics in CloudWatch Embedded Metric Format (one line per invocation, summed values, low-cardinality
// dimensions) and the request id on every log line, with no payload and no key in any of them.

const KEY = "mqg_telemetry-secret-key";
const NOW = 1_767_225_600_000;

interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [member: string]: unknown;
}

/** Checks a line against the EMF specification's structure and returns it parsed. */
function parseEmf(line: string): Emf {
  expect(line).not.toContain("\n");
  const doc = JSON.parse(line) as Emf;
  expect(doc._aws.Timestamp).toBe(NOW);
  expect(doc._aws.CloudWatchMetrics).toHaveLength(1);
  const [directive] = doc._aws.CloudWatchMetrics;
  for (const set of directive?.Dimensions ?? []) for (const d of set) expect(typeof doc[d], `dimension ${d}`).toBe("string");
  for (const m of directive?.Metrics ?? []) expect(typeof doc[m.Name], `metric ${m.Name}`).toBe("number");
  return doc;
}

const metricNames = (doc: Emf) => Object.fromEntries((doc._aws.CloudWatchMetrics[0]?.Metrics ?? []).map((m) => [m.Name, m.Unit]));

describe("EMF documents", () => {
  it("sums values per name and writes the _aws envelope, dimensions, properties and values as members", () => {
    const m = new MetricSet();
    m.add("Published", "Count", 2);
    m.add("Latency", "Milliseconds", 1.5);
    m.add("Published", "Count", 3);
    const doc = emfDocument(m, {
      namespace: "mqgate",
      dimensions: { FunctionName: "api", Route: "POST /v1/publish" },
      dimensionSets: [["FunctionName", "Route"], ["FunctionName"]],
      properties: { requestId: "r-1", status: 200 },
      timestamp: NOW,
    });
    expect(doc).toEqual({
      _aws: {
        Timestamp: NOW,
        CloudWatchMetrics: [
          {
            Namespace: "mqgate",
            Dimensions: [["FunctionName", "Route"], ["FunctionName"]],
            Metrics: [
              { Name: "Published", Unit: "Count" },
              { Name: "Latency", Unit: "Milliseconds" },
            ],
          },
        ],
      },
      FunctionName: "api",
      Route: "POST /v1/publish",
      requestId: "r-1",
      status: 200,
      Published: 5,
      Latency: 1.5,
    });
  });

  it("refuses what CloudWatch would reject or misread", () => {
    const m = new MetricSet();
    m.add("Latency", "Milliseconds", 1);
    expect(() => m.add("Latency", "Count", 1)).toThrow(/Milliseconds, not Count/);
    expect(() => m.add("Bad", "Count", Number.NaN)).toThrow(/not a finite number/);
    const opts = { namespace: "mqgate", dimensions: { Route: "r" }, timestamp: NOW };
    expect(() => emfDocument(m, { ...opts, dimensionSets: [["Route", "Stage"]] })).toThrow(/'Stage', which has no value/);
    expect(() => emfDocument(m, { ...opts, dimensionSets: [["Route"]], properties: { Latency: "slow" } })).toThrow(/'Latency' is used twice/);
    for (let i = 0; i < 99; i++) m.add(`M${i}`, "Count", 1);
    expect(() => m.add("OneTooMany", "Count", 1)).toThrow(/at most 100 metrics/);
  });
});

describe("the Lambda handler's metrics and logs", () => {
  let b: TestBroker;
  const clients: TestClient[] = [];
  let metrics: string[];
  let logs: string[];

  const lambda = (backend: GatewayBackend): ApiHandler =>
    createLambdaApi({
      backend,
      limits: gatewayLimits(b.config),
      functionName: "mqgate-test-ApiRouter",
      writeMetrics: (line) => metrics.push(line),
      writeLog: (line) => logs.push(line),
      now: () => NOW,
    });

  beforeAll(async () => {
    b = await startTestBroker();
    await seedDevKey(b.broker.store, KEY, gatewayLimits(b.config).topic);
    const s1 = await mqttClient(b.mqttPort, "telemetry-1");
    await s1.client.subscribeAsync("t/#", { qos: 1 });
    const s2 = await mqttClient(b.mqttPort, "telemetry-2");
    await s2.client.subscribeAsync("t/a", { qos: 0 });
    clients.push(s1, s2);
  });
  afterAll(async () => {
    for (const c of clients) c.client.end(true);
    await b.close();
  });

  it("writes one EMF line per invocation, with publish counts and matched sessions summed over the request", async () => {
    metrics = [];
    logs = [];
    const api = lambda(localBackend(b.broker));
    const batch = apiEvent("POST", "/v1/publish/batch", {
      key: KEY,
      body: { messages: [{ topic: "t/a", payload: "1" }, { topic: "t/b", payload: "2" }, { topic: "u/x", payload: "3" }] },
    });
    const res = await api(batch);
    expect(JSON.parse(res.body ?? "").results.map((r: { matched: number }) => r.matched)).toEqual([2, 1, 0]);
    expect(metrics).toHaveLength(1);
    const doc = parseEmf(metrics[0] as string);
    expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: "mqgate", Dimensions: [["FunctionName", "Route"], ["FunctionName"]] });
    expect(metricNames(doc)).toEqual({ Published: "Count", MatchedSessions: "Count", Requests: "Count", ClientErrors: "Count", Errors: "Count", Latency: "Milliseconds" });
    expect(doc).toMatchObject({
      FunctionName: "mqgate-test-ApiRouter",
      Route: "POST /v1/publish/batch",
      requestId: batch.requestContext.requestId,
      status: 200,
      Published: 3,
      MatchedSessions: 3,
      Requests: 1,
      ClientErrors: 0,
      Errors: 0,
    });
    expect(doc.Latency).toBeGreaterThanOrEqual(0);

    // Three more invocations, three more lines: a raw publish, a read, a bad key, an unknown path.
    await api(apiEvent("POST", "/v1/topics/t/a", { key: KEY, body: Buffer.from("raw"), query: "qos=1" }));
    await api(apiEvent("GET", "/v1/clients/telemetry-1", { key: KEY }));
    await api(apiEvent("GET", "/v1/clients", { key: "not-a-key" }));
    await api(apiEvent("GET", "/v1/clients/telemetry-1/nothing/here"));
    expect(metrics).toHaveLength(5);
    const [, raw, read, denied, unmatched] = metrics.map(parseEmf);
    expect(raw).toMatchObject({ Route: "POST /v1/topics/{topic+}", Published: 1, MatchedSessions: 2, Requests: 1 });
    expect(read).toMatchObject({ Route: "GET /v1/clients/{clientId}", status: 200, Requests: 1, Errors: 0 });
    expect(read?.Published).toBeUndefined();
    expect(denied).toMatchObject({ Route: "GET /v1/clients", status: 401, ClientErrors: 1, Errors: 0 });
    // Client ids, topics and unknown paths never become dimension values.
    expect(unmatched).toMatchObject({ Route: "unmatched", status: 404, ClientErrors: 1 });
    for (const line of metrics) expect(line).not.toMatch(/telemetry-1|"t\/a"/);
    expect(logs).toEqual([]);
  });

  it("an unexpected error: Errors 1, and one error line with the request id, no payload and no key", async () => {
    metrics = [];
    logs = [];
    const failing: GatewayBackend = {
      ...localBackend(b.broker),
      publish: () => Promise.reject(new Error("the store exploded")),
    };
    const api = lambda(failing);
    const payload = "TOP-SECRET-PAYLOAD-4711";
    const event = apiEvent("POST", "/v1/publish", { key: KEY, body: { topic: "t/a", payload, qos: 1 } });
    const res = await api(event);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body ?? "").requestId).toBe(event.requestContext.requestId);
    expect(logs).toHaveLength(1);
    expect(JSON.parse(logs[0] as string)).toMatchObject({
      level: "error",
      msg: "request failed",
      requestId: event.requestContext.requestId,
      method: "POST",
      path: "/v1/publish",
      err: { name: "Error", message: "the store exploded" },
    });
    expect(metrics).toHaveLength(1);
    expect(parseEmf(metrics[0] as string)).toMatchObject({ Route: "POST /v1/publish", status: 500, Errors: 1, requestId: event.requestContext.requestId });
    expect(parseEmf(metrics[0] as string).Published).toBeUndefined();
    for (const line of [...logs, ...metrics]) {
      expect(line).not.toContain(KEY);
      expect(line).not.toContain(payload);
      expect(line.toLowerCase()).not.toContain("authorization");
    }
  });

  it("a failing metrics writer does not fail the request: it is logged with the request id", async () => {
    logs = [];
    const api = createLambdaApi({
      backend: { ...localBackend(b.broker), store: new MemoryStore() },
      limits: gatewayLimits(b.config),
      functionName: "f",
      writeMetrics: () => {
        throw new Error("stdout closed");
      },
      writeLog: (line) => logs.push(line),
    });
    const event = apiEvent("GET", "/v1/openapi.json");
    expect((await api(event)).statusCode).toBe(200);
    expect(JSON.parse(logs[0] as string)).toMatchObject({ requestId: event.requestContext.requestId, err: { message: "stdout closed" } });
  });
});
