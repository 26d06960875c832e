import { afterEach, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { StoreOp, StoreOpResult } from "../../core/store/types.js";
import { seedDevKey } from "../../functions/api-keys.js";
import { localBackend } from "../../functions/backend-local.js";
import { gatewayLimits } from "../../functions/route.js";
import { createApi } from "../../functions/router.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { call, mqttClient } from "./support.js";

// What the gateway answers when the store fails: 503 when durability cannot be confirmed in time, 500 (logged
// with the request id, nothing leaked) for unexpected errors, 503 health when the store does not answer.

/** A memory store whose writes can be held (a store that stopped answering) and whose reads can fail. */
class FlakyStore extends MemoryStore {
  hold = false;
  failReads = false;
  /** Upstash's answer once a database's request limit is used up (@upstash/redis throws it as an Error). */
  throttleReads = false;
  override apply(ops: StoreOp[]): Promise<StoreOpResult[]> {
    return this.hold ? new Promise(() => {}) : super.apply(ops);
  }
  override listNodes(now: number) {
    if (this.throttleReads) return Promise.reject(new Error("ERR max requests limit exceeded. Limit: 10000, Usage: 10000"));
    return this.failReads ? Promise.reject(new Error("ECONNRESET talking to the store")) : super.listNodes(now);
  }
  override ping() {
    return Promise.resolve(!this.failReads);
  }
}

describe("store failures", () => {
  let b: TestBroker | null = null;
  afterEach(async () => {
    await b?.close();
    b = null;
  });

  async function setup() {
    const store = new FlakyStore();
    b = await startTestBroker({ shutdown: { drainMs: 100 } }, createAllowAll(), store);
    const limits = gatewayLimits(b.config);
    await seedDevKey(store, "k", limits.topic);
    const errors: unknown[] = [];
    const api = createApi({ backend: localBackend(b.broker, { durableTimeoutMs: 200 }), limits, onError: (err) => errors.push(err) });
    return { store, api, errors, broker: b };
  }

  it("a QoS 1 publish whose store write is not confirmed in time is 503 with Retry-After", async () => {
    const { store, api, broker } = await setup();
    const c = await mqttClient(broker.mqttPort, "p", { clean: false });
    await c.client.subscribeAsync("t", { qos: 1 });
    await c.client.endAsync();
    store.hold = true;
    const res = await call(api, "POST", "/v1/publish", { key: "k", body: { topic: "t", payload: "x", qos: 1 } });
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.body).toMatchObject({ type: "urn:mqgate:problem:unavailable", detail: expect.stringMatching(/did not confirm the message within 200 ms/) });
    // QoS 0 to nobody writes nothing and is answered at once.
    expect((await call(api, "POST", "/v1/publish", { key: "k", body: { topic: "nobody", payload: "x" } })).status).toBe(200);
  });

  it("an unexpected error is 500 with the request id only, and reaches onError; health is 503", async () => {
    const { store, api, errors } = await setup();
    store.failReads = true;
    const res = await call(api, "GET", "/v1/nodes", { key: "k" });
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ type: "urn:mqgate:problem:internal-error", detail: "the request failed unexpectedly; it is logged with its requestId" });
    expect(res.raw).not.toContain("ECONNRESET");
    expect((errors[0] as Error).message).toMatch(/ECONNRESET/);
    const health = await call(api, "GET", "/v1/health");
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ status: "unavailable", store: { kind: "memory", reachable: false } });
  });

  it("a store that throttles is 429 problem+json with Retry-After, not a 500", async () => {
    const { store, api } = await setup();
    store.throttleReads = true;
    const res = await call(api, "GET", "/v1/nodes", { key: "k" });
    expect(res.status).toBe(429);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.body).toMatchObject({ type: "urn:mqgate:problem:too-many-requests", status: 429, instance: "/v1/nodes" });
  });
});
