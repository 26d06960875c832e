import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { mqttClient, sleep, type TestClient, until } from "./support.js";

// End to end through real HTTP: the broker of `npm start` (in this process) with its REST API on the local
// HTTP adapter, real `mqtt` clients, and fetch.

const KEY = "e2e-admin-key";

describe("REST API over HTTP next to the broker", () => {
  let b: TestBroker;
  let base: string;
  const clients: TestClient[] = [];
  const connect = async (clientId: string, clean = true) => {
    const c = await mqttClient(b.mqttPort, clientId, { clean });
    clients.push(c);
    return c;
  };
  const rest = async (method: string, path: string, body?: unknown, key: string | null = KEY) => {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) };
  };

  beforeAll(async () => {
    b = await startTestBroker({ http: { host: "127.0.0.1", port: 0 }, apiKey: KEY });
    expect(b.http).not.toBeNull();
    base = `http://127.0.0.1:${b.http?.port}`;
  });
  afterAll(async () => {
    for (const c of clients) c.client.end(true);
    await b.close();
  });

  it("serves health and the OpenAPI document without a key, and problem+json errors", async () => {
    expect((await rest("GET", "/v1/health", undefined, null)).body).toEqual({ status: "ok", store: { kind: "memory", reachable: true } });
    expect((await rest("GET", "/v1/openapi.json", undefined, null)).body.info.title).toBe("mqgate REST API");
    const noKey = await rest("GET", "/v1/clients", undefined, null);
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("content-type")).toBe("application/problem+json");
    expect(noKey.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await rest("GET", "/v1/nothing")).status).toBe(404);
    const wrong = await rest("PUT", "/v1/publish/batch");
    expect([wrong.status, wrong.headers.get("allow")]).toEqual([405, "POST"]);
    expect(b.http?.devKey).toEqual({ source: "env", key: KEY });
  });

  it("a subscribed mqtt client receives REST publishes at QoS 0, 1 and 2", async () => {
    const sub = await connect("e2e-sub");
    await sub.client.subscribeAsync("e2e/q/#", { qos: 2 });
    for (const qos of [0, 1, 2]) {
      const res = await rest("POST", "/v1/publish", { topic: `e2e/q/${qos}`, payload: `at ${qos}`, qos });
      expect(res.status).toBe(200);
      expect(res.body.matched).toBe(1);
    }
    const got = await sub.waitFor(3);
    expect(got.map((m) => [m.topic, m.payload.toString(), m.qos]).sort()).toEqual([
      ["e2e/q/0", "at 0", 0],
      ["e2e/q/1", "at 1", 1],
      ["e2e/q/2", "at 2", 2],
    ]);
    // The raw form, with a binary body.
    const bytes = Buffer.from([1, 2, 3, 0, 255]);
    const raw = await fetch(`${base}/v1/topics/e2e/q/raw?qos=1`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/octet-stream" }, body: bytes });
    expect(raw.status).toBe(200);
    const [, , , m] = await sub.waitFor(4);
    expect([m?.topic, m?.payload, m?.qos]).toEqual(["e2e/q/raw", bytes, 1]);
  });

  it("a QoS 1 publish to an offline persistent session is delivered when it reconnects", async () => {
    const first = await connect("e2e-offline", false);
    await first.client.subscribeAsync("e2e/offline/#", { qos: 1 });
    await first.client.endAsync();
    await until("offline", async () => (await rest("GET", "/v1/clients/e2e-offline")).body.connected === false);
    const res = await rest("POST", "/v1/publish/batch", { messages: [1, 2, 3].map((i) => ({ topic: "e2e/offline/cmd", payload: `m${i}`, qos: 1 })) });
    expect(res.body.results.map((r: { matched: number }) => r.matched)).toEqual([1, 1, 1]);
    expect((await rest("GET", "/v1/clients/e2e-offline")).body).toMatchObject({ connected: false, queued: 3 });
    const back = await connect("e2e-offline", false);
    const got = await back.waitFor(3);
    expect(got.map((x) => [x.payload.toString(), x.qos])).toEqual([
      ["m1", 1],
      ["m2", 1],
      ["m3", 1],
    ]);
  });

  it("a subscription added over REST receives messages and retained messages; removing it stops them", async () => {
    expect((await rest("POST", "/v1/publish", { topic: "e2e/sub/state", payload: "retained-1", retain: true, qos: 1 })).status).toBe(200);
    const c = await connect("e2e-subbed");
    const add = await rest("POST", "/v1/clients/e2e-subbed/subscriptions", { subscriptions: [{ filter: "e2e/sub/#", qos: 1 }] });
    expect(add.body).toEqual({ clientId: "e2e-subbed", subscriptions: [{ filter: "e2e/sub/#", qos: 1 }] });
    const [retained] = await c.waitFor(1);
    expect([retained?.topic, retained?.payload.toString(), retained?.retain]).toEqual(["e2e/sub/state", "retained-1", true]);
    await rest("POST", "/v1/publish", { topic: "e2e/sub/live", payload: "live-1", qos: 1 });
    const [, live] = await c.waitFor(2);
    expect([live?.topic, live?.payload.toString(), live?.retain]).toEqual(["e2e/sub/live", "live-1", false]);
    expect((await rest("GET", "/v1/clients/e2e-subbed/subscriptions")).body.subscriptions).toEqual([{ filter: "e2e/sub/#", qos: 1 }]);
    expect((await rest("DELETE", "/v1/clients/e2e-subbed/subscriptions/e2e/sub/%23")).status).toBe(204);
    await rest("POST", "/v1/publish", { topic: "e2e/sub/live", payload: "live-2", qos: 1 });
    await sleep(100);
    expect(c.messages).toHaveLength(2);
  });

  it("DELETE on a client disconnects it", async () => {
    const c = await connect("e2e-kick");
    const res = await rest("DELETE", "/v1/clients/e2e-kick");
    expect(res.body).toEqual({ clientId: "e2e-kick", disconnected: true, sessionDiscarded: false });
    await c.closed;
    expect(c.client.connected).toBe(false);
    await until("session gone", async () => (await rest("GET", "/v1/clients/e2e-kick")).status === 404);
  });

  it("retained messages can be listed by filter, read and deleted", async () => {
    for (const [topic, payload] of [
      ["e2e/ret/a", "A"],
      ["e2e/ret/b", "B"],
      ["e2e/other", "O"],
    ]) {
      await rest("POST", "/v1/publish", { topic, payload, retain: true });
    }
    const list = await rest("GET", "/v1/retained?filter=e2e/ret/%2B&encoding=utf8");
    expect(list.body).toEqual({
      items: [
        { topic: "e2e/ret/a", qos: 0, payload: "A", encoding: "utf8", bytes: 1, updatedAt: expect.any(String) },
        { topic: "e2e/ret/b", qos: 0, payload: "B", encoding: "utf8", bytes: 1, updatedAt: expect.any(String) },
      ],
      cursor: null,
    });
    expect((await rest("GET", "/v1/retained/e2e/ret/b?encoding=utf8")).body.payload).toBe("B");
    expect((await rest("DELETE", "/v1/retained/e2e/ret/b")).status).toBe(204);
    expect((await rest("GET", "/v1/retained/e2e/ret/b")).status).toBe(404);
    expect((await rest("GET", "/v1/retained?filter=e2e/ret/%2B")).body.items.map((i: { topic: string }) => i.topic)).toEqual(["e2e/ret/a"]);
  });
});

describe("the development key", () => {
  it("is generated on the memory store when MQGATE_API_KEY is not set, and works", async () => {
    const b = await startTestBroker({ http: { host: "127.0.0.1", port: 0 } });
    try {
      const dev = b.http?.devKey;
      expect(dev?.source).toBe("generated");
      const key = dev !== undefined && dev.source !== "none" ? dev.key : "";
      expect(key).toMatch(/^mqg_[A-Za-z0-9_-]{43}$/);
      const res = await fetch(`http://127.0.0.1:${b.http?.port}/v1/stats`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect((await b.broker.store.listApiKeys()).map((k) => [k.id, k.scopes, k.topics])).toEqual([["dev", ["admin"], ["#"]]]);
    } finally {
      await b.close();
    }
  });
});
