import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedisStore, type RedisStore } from "../../core/store/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { StoreOp, StoreOpResult } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { get, publish, scrape, value, waitFor } from "./support.js";

// Liveness and readiness on the metrics listener: /healthz answers while the process serves; /readyz is 200 when
// ready and 503 with a JSON reason while draining (shutdown started) or while the store is unreachable.

const METRICS = { host: "127.0.0.1", port: 0 };

function metricsPort(b: TestBroker): number {
  if (b.metrics === null) throw new Error("no metrics listener");
  return b.metrics.port;
}

async function readyz(port: number): Promise<{ status: number; body: unknown }> {
  const res = await get(port, "/readyz");
  expect(res.contentType).toBe("application/json");
  return { status: res.status, body: JSON.parse(res.body) as unknown };
}

/** A memory store whose batch writes (`apply`) wait while the gate is shut: a drain that cannot finish until opened. */
class GatedStore extends MemoryStore {
  private gate: Promise<void> | null = null;
  private openGate: () => void = () => {};
  applyCalls = 0;

  shut(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  open(): void {
    this.gate = null;
    this.openGate();
  }

  override async apply(ops: StoreOp[]): Promise<StoreOpResult[]> {
    this.applyCalls++;
    if (this.gate !== null) await this.gate;
    return super.apply(ops);
  }
}

describe("liveness and readiness", () => {
  it("a started broker is live and ready", async () => {
    const b = await startTestBroker({ metrics: METRICS });
    try {
      const port = metricsPort(b);
      const live = await get(port, "/healthz");
      expect([live.status, JSON.parse(live.body)]).toEqual([200, { status: "ok" }]);
      expect(await readyz(port)).toEqual({ status: 200, body: { status: "ready" } });
      expect(b.draining).toBe(false);
    } finally {
      await b.close();
    }
  });

  it("draining: from the start of close() /readyz answers 503 \"draining\" (liveness stays 200) until the listener closes", async () => {
    const store = new GatedStore();
    const b = await startTestBroker({ metrics: METRICS, shutdown: { drainMs: 15_000 } }, undefined, store);
    const port = metricsPort(b);
    const clients: RawClient[] = [];
    let closing: Promise<void> | null = null;
    try {
      // A persistent subscriber: every QoS 1 message for it is a store write the drain must wait for.
      const sub = await RawClient.connected(b.mqttPort, { clientId: "drain-sub", clean: false });
      clients.push(sub);
      await sub.subscribe("drain/t", 1);
      const pub = await RawClient.connected(b.mqttPort, { clientId: "drain-pub" });
      clients.push(pub);
      expect((await readyz(port)).status).toBe(200);

      // The store stops answering batches: the first write is in flight, the second waits behind it.
      store.shut();
      const callsBefore = store.applyCalls;
      publish(pub, "drain/t", "one", 1, 1);
      await waitFor("the first batch to reach the store", () => store.applyCalls > callsBefore);
      publish(pub, "drain/t", "two", 1, 2);
      await waitFor("the second write to wait in the journal", () => b.broker.journal.pendingOps > 0);

      closing = b.close();
      expect(b.draining).toBe(true);
      expect(await readyz(port)).toEqual({ status: 503, body: { status: "not-ready", reason: "draining", detail: expect.any(String) } });
      expect((await get(port, "/healthz")).status).toBe(200);
      // Still draining a while later: the journal waits for the store, the listener stays up.
      await sub.waitClosed(5000);
      const during = await scrape(port);
      expect(value(during, "mqgate_ready")).toBe(0);
      expect(value(during, "mqgate_store_up")).toBe(1);
      expect(value(during, "mqgate_connections")).toBe(0);
      expect((await readyz(port)).body).toMatchObject({ reason: "draining" });

      store.open();
      await closing;
      // The drain is over and the metrics listener is closed with the broker.
      await expect(get(port, "/readyz")).rejects.toThrow();
    } finally {
      store.open();
      for (const c of clients) c.destroy();
      await (closing ?? b.close());
    }
  });
});

describe("readiness during a Redis outage (redis-server killed and restarted)", () => {
  let redis: RedisServer;
  let store: RedisStore;
  let b: TestBroker;

  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    store = await connectRedisStore(redis.url);
    b = await startTestBroker({ metrics: METRICS }, undefined, store);
  });

  afterAll(async () => {
    await b?.close();
    await store?.close();
    await redis?.stop();
  });

  it("200 with Redis up, 503 \"store-unreachable\" while it is down (no traffic needed), 200 again once it is back", async () => {
    const port = metricsPort(b);
    const c = await RawClient.connected(b.mqttPort, { clientId: "outage-ready-client", clean: false });
    try {
      expect(await readyz(port)).toEqual({ status: 200, body: { status: "ready" } });

      await redis.crash();
      try {
        // Nothing is published: the idle probe (a ping every few seconds without other store calls) notices.
        await waitFor("readiness to answer 503", async () => (await readyz(port)).status === 503, 30_000, 100);
        expect((await readyz(port)).body).toMatchObject({ status: "not-ready", reason: "store-unreachable" });
        expect(value(await scrape(port), "mqgate_store_up")).toBe(0);
        expect((await get(port, "/healthz")).status).toBe(200);
        // The broker keeps serving its connected client meanwhile.
        c.send({ cmd: "pingreq" });
        await c.expect("pingresp", 5000);
      } finally {
        await redis.restart();
      }
      await waitFor("readiness to answer 200 again", async () => (await readyz(port)).status === 200, 30_000, 100);
      const s = await scrape(port);
      expect(value(s, "mqgate_store_up")).toBe(1);
      // The idle probe pinged (a ping answers false rather than failing: it is not an error).
      expect(value(s, "mqgate_store_call_duration_seconds_count", { operation: "ping" })).toBeGreaterThan(0);
      expect(value(s, "mqgate_store_call_errors_total", { operation: "ping" })).toBe(0);
    } finally {
      c.destroy();
    }
  }, 60_000);

  it("a refused session claim makes it not ready at once", async () => {
    const port = metricsPort(b);
    expect((await readyz(port)).status).toBe(200);
    await redis.crash();
    // Nothing waits in the journal, so the CONNECT claims its session in the store, which fails: CONNACK 0x03 (after
    // the claim's repeats, broker/claim-repeats.ts: each call fails only after the Redis client's own retries).
    const c = await RawClient.open(b.mqttPort);
    try {
      expect((await c.connect({ clientId: "outage-claim", clean: false }, 10_000)).returnCode).toBe(3);
      // The detail names the last store call that failed: usually this claim (a ping or a release can come first).
      expect(await readyz(port)).toEqual({ status: 503, body: { status: "not-ready", reason: "store-unreachable", detail: expect.stringMatching(/^the last store call \(\w+\) failed$/) } });
    } finally {
      c.destroy();
      await redis.restart();
    }
    await waitFor("readiness to answer 200 again", async () => (await readyz(port)).status === 200, 30_000, 100);
  }, 60_000);

  it("failing journal writes make it not ready at once; once they land it is ready again", async () => {
    const port = metricsPort(b);
    const pub = await RawClient.connected(b.mqttPort, { clientId: "outage-ready-pub" });
    const sub = await RawClient.connected(b.mqttPort, { clientId: "outage-ready-sub", clean: false });
    try {
      await sub.subscribe("outage-ready/t", 1);
      expect((await readyz(port)).status).toBe(200);
      await redis.crash();
      // A QoS 1 publish for a persistent session is a store write: the journal fails and retries it.
      publish(pub, "outage-ready/t", "held", 1, 1);
      try {
        await waitFor("readiness to answer 503", async () => (await readyz(port)).status === 503, 20_000, 50);
        expect((await readyz(port)).body).toMatchObject({ reason: "store-unreachable" });
      } finally {
        await redis.restart();
      }
      await waitFor("readiness to answer 200 again", async () => (await readyz(port)).status === 200, 30_000, 100);
      // The held write landed: the PUBACK went out and the message reached the subscriber.
      expect((await pub.expect("puback", 10_000)).messageId).toBe(1);
      expect((await sub.expect("publish", 10_000)).payload.toString()).toBe("held");
      const s = await scrape(port);
      expect(value(s, "mqgate_store_call_errors_total", { operation: "apply" })).toBeGreaterThan(0);
    } finally {
      pub.destroy();
      sub.destroy();
    }
  }, 60_000);
});
