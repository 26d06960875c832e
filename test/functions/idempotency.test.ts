import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { requestFingerprint, withIdempotency } from "../../functions/idempotency.js";
import { MQTT5_HEADERS } from "../../functions/property-schemas.js";
import { apiEvent } from "./support.js";

/** A memory store whose idempotency writes fail on demand (a store outage at the wrong moment). */
function failing(store: MemoryStore, fail: { finish: boolean; abandon: boolean }): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "finishIdempotent" && fail.finish) return () => Promise.reject(new Error("store down"));
      if (prop === "abandonIdempotent" && fail.abandon) return () => Promise.reject(new Error("store down"));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe("withIdempotency when the store fails", () => {
  const event = () => apiEvent("POST", "/v1/publish", { body: { topic: "t", payload: "x" }, headers: { "idempotency-key": "k" } });

  it("a publish that happened is answered even when its answer cannot be recorded", async () => {
    const store = failing(new MemoryStore(), { finish: true, abandon: false });
    let runs = 0;
    const res = await withIdempotency(store, "key-1", event(), async () => {
      runs++;
      return { status: 200, body: { id: "a" } };
    });
    expect(res).toEqual({ status: 200, body: { id: "a" } });
    expect(runs).toBe(1);
    // The record stays pending: a retry meanwhile is 409, not a second publish.
    await expect(withIdempotency(store, "key-1", event(), async () => ({ status: 200 }))).rejects.toMatchObject({ status: 409 });
  });

  it("a failed request whose release fails reports its own error, and its key stays claimed (409) until it expires", async () => {
    const store = failing(new MemoryStore(), { finish: false, abandon: true });
    await expect(
      withIdempotency(store, "key-1", event(), async () => {
        throw new Error("publish failed");
      }),
    ).rejects.toThrow("publish failed");
    await expect(withIdempotency(store, "key-1", event(), async () => ({ status: 200 }))).rejects.toMatchObject({ status: 409 });
  });
});

describe("requestFingerprint with the raw route's property headers", () => {
  const raw = (headers: Record<string, string> = {}) => apiEvent("POST", "/v1/topics/a/b", { body: Buffer.from("x"), query: "qos=1", headers });

  it("a request without them hashes as before they existed (records written by an older gateway still match)", () => {
    const before = createHash("sha256").update("POST\n/v1/topics/a/b\nqos=1\n").update(Buffer.from("x")).digest("hex");
    expect(requestFingerprint(raw(), MQTT5_HEADERS)).toBe(before);
    expect(requestFingerprint(raw({ "x-other": "1" }), MQTT5_HEADERS)).toBe(before);
  });

  it("their values make another request; their order in the request does not", () => {
    const up = "x-amz-mqtt5-user-properties";
    const cd = "x-amz-mqtt5-correlation-data";
    const a = requestFingerprint(raw({ [up]: "W3siYSI6IjEifV0=", [cd]: "AQ==" }), MQTT5_HEADERS);
    expect(requestFingerprint(raw({ [cd]: "AQ==", [up]: "W3siYSI6IjEifV0=" }), MQTT5_HEADERS)).toBe(a);
    expect(requestFingerprint(raw({ [up]: "W3siYSI6IjIifV0=", [cd]: "AQ==" }), MQTT5_HEADERS)).not.toBe(a);
    expect(requestFingerprint(raw({ [up]: "W3siYSI6IjEifV0=" }), MQTT5_HEADERS)).not.toBe(a);
    expect(requestFingerprint(raw({ [up]: "W3siYSI6IjEifV0=" }), MQTT5_HEADERS)).not.toBe(requestFingerprint(raw(), MQTT5_HEADERS));
  });
});
