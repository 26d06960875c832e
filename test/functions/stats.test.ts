import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiKey, seedDevKey } from "../../functions/api-keys.js";
import { localBackend } from "../../functions/backend-local.js";
import { gatewayLimits } from "../../functions/route.js";
import { createApi, type ApiHandler } from "../../functions/router.js";
import { TopicRates, TopicRateTracker } from "../../functions/topic-rates.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { call, mqttClient, type TestClient, until } from "./support.js";

// GET /v1/stats: the live figures the dashboard draws (connections, message counters, top topics by rate, the
// largest queues), and the windowed per-topic counter behind "top topics".

describe("TopicRates", () => {
  const opts = { bucketMs: 10_000, buckets: 3, maxTopics: 3 };

  it("ranks topics by messages in the window, ties by name, only visible ones", () => {
    const r = new TopicRates(0, opts);
    for (const t of ["a", "b", "b", "c", "c", "c", "b"]) r.record(t);
    expect(r.top(2, 10_000)).toEqual([
      { topic: "b", messages: 3, rate: 0.3 },
      { topic: "c", messages: 3, rate: 0.3 },
    ]);
    expect(r.top(5, 10_000, (t) => t !== "b").map((x) => x.topic)).toEqual(["c", "a"]);
    expect(r.top(0, 10_000)).toEqual([]);
  });

  it("slides: a bucket leaves the window after `buckets` rotations; the window is at least a second", () => {
    const r = new TopicRates(0, opts);
    r.record("old");
    r.rotate(10_000);
    r.record("new");
    r.record("new");
    r.rotate(20_000);
    expect(r.top(5, 25_000)).toEqual([
      { topic: "new", messages: 2, rate: 0.08 },
      { topic: "old", messages: 1, rate: 0.04 },
    ]);
    r.rotate(30_000);
    expect(r.windowSeconds(30_000)).toBe(20);
    expect(r.top(5, 30_000)).toEqual([{ topic: "new", messages: 2, rate: 0.1 }]);
    expect(new TopicRates(5, opts).windowSeconds(5)).toBe(1);
  });

  it("counts at most maxTopics topics per bucket; the rest is untracked", () => {
    const r = new TopicRates(0, opts);
    for (const t of ["a", "b", "c", "d", "e", "a"]) r.record(t);
    expect(r.top(10, 1000).map((x) => [x.topic, x.messages])).toEqual([
      ["a", 2],
      ["b", 1],
      ["c", 1],
    ]);
    expect(r.untracked).toBe(2);
  });
});

describe("TopicRateTracker", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("listens only between the first request and idleMs after the last one", () => {
    vi.useFakeTimers({ now: 0 });
    const source: { listener: ((topic: string) => void) | null } = { listener: null };
    const tracker = new TopicRateTracker(
      (on) => {
        source.listener = on;
        return () => {
          source.listener = null;
        };
      },
      { bucketMs: 1000, buckets: 3, maxTopics: 10, idleMs: 2500, now: () => Date.now() },
    );
    expect(source.listener).toBeNull();
    expect(tracker.top(5, () => true)).toEqual({ topics: [], windowSeconds: 1 });
    expect(tracker.tracking).toBe(true);
    source.listener?.("x");
    source.listener?.("x");
    vi.advanceTimersByTime(2000);
    expect(tracker.top(5, () => true)).toEqual({ topics: [{ topic: "x", messages: 2, rate: 1 }], windowSeconds: 2 });
    vi.advanceTimersByTime(3000);
    expect(source.listener).toBeNull();
    expect(tracker.tracking).toBe(false);
    expect(tracker.top(5, () => true).topics).toEqual([]);
    tracker.stop();
  });
});

describe("GET /v1/stats with the local backend", () => {
  let b: TestBroker;
  let api: ApiHandler;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    b = await startTestBroker();
    const limits = gatewayLimits(b.config);
    await seedDevKey(b.broker.store, "admin", limits.topic);
    await createApiKey(b.broker.store, { name: "sensors only", scopes: ["read"], topics: ["sensors/#"], key: "sensors-reader" }, limits.topic);
    api = createApi({ backend: localBackend(b.broker), limits });
  });
  afterAll(async () => {
    for (const c of clients) c.client.end(true);
    await b.close();
  });

  it("validates top", async () => {
    for (const q of ["top=x", "top=101", "top=-1", "limit=3"]) expect((await call(api, "GET", "/v1/stats", { key: "admin", query: q })).status, q).toBe(400);
  });

  it("answers connections, sessions and message counters; with top, the busiest topics and the largest queues", async () => {
    const stats = async (key = "admin", top = 10) => (await call(api, "GET", "/v1/stats", { key, query: top > 0 ? `top=${top}` : "" })).body;

    // An offline persistent session that will have messages queued for it, and a connected publisher.
    const offline = await mqttClient(b.mqttPort, "stats-offline", { clean: false });
    await offline.client.subscribeAsync("devices/7/#", { qos: 1 });
    await offline.client.endAsync();
    const pub = await mqttClient(b.mqttPort, "stats-pub");
    clients.push(pub);
    await until("offline", async () => (await call(api, "GET", "/v1/clients/stats-offline", { key: "admin" })).body.connected === false);

    const before = await stats("admin", 0);
    expect(before).toMatchObject({ nodes: expect.any(Number), counters: expect.any(Object), connections: 1, sessions: 2 });
    expect(Date.parse(before.sampledAt)).not.toBeNaN();
    expect(before.topTopics).toBeUndefined();
    expect(before.largestQueues).toBeUndefined();

    // The first request with `top` starts counting topics.
    expect((await stats()).topTopics).toEqual([]);
    for (let i = 0; i < 5; i++) await pub.client.publishAsync("sensors/kitchen/temp", String(i), { qos: 1 });
    for (let i = 0; i < 2; i++) await pub.client.publishAsync("sensors/hall/temp", String(i), { qos: 1 });
    await call(api, "POST", "/v1/publish/batch", { key: "admin", body: { messages: [1, 2, 3].map((i) => ({ topic: "devices/7/cmd", payload: `c${i}`, qos: 1 })) } });

    const after = await stats();
    expect(after.messages.received - before.messages.received).toBe(10);
    expect(after.topTopics.map((t: { topic: string; messages: number }) => [t.topic, t.messages])).toEqual([
      ["sensors/kitchen/temp", 5],
      ["devices/7/cmd", 3],
      ["sensors/hall/temp", 2],
    ]);
    expect(after.topTopics[0].rate).toBeGreaterThan(0);
    expect(after.topicWindowSeconds).toBeGreaterThan(0);
    const detail = (await call(api, "GET", "/v1/clients/stats-offline", { key: "admin" })).body;
    expect(after.largestQueues).toEqual([{ clientId: "stats-offline", connected: false, queued: detail.queued, inflight: detail.inflight }]);
    expect(detail.queued).toBe(3);

    // A key sees only the topics inside its patterns; `top` bounds both lists.
    expect((await stats("sensors-reader")).topTopics.map((t: { topic: string }) => t.topic)).toEqual(["sensors/kitchen/temp", "sensors/hall/temp"]);
    const one = await stats("admin", 1);
    expect([one.topTopics.length, one.largestQueues.length]).toEqual([1, 1]);
  });
});
