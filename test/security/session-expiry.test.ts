import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAclAuth } from "../../core/auth/index.js";
import { MemoryEventSink } from "../../core/events/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { aclDoc, connectAs, leave, publish1, until } from "./support.js";

/*
 * Issue 12, point 5: offline sessions expire (limits.sessionExpirySeconds) and stored sessions are capped
 * (limits.maxSessions). The broker runs on an injected clock; the test moves it instead of sleeping, and runs the
 * sweep itself (the timer is set far out).
 */

const EXPIRY_S = 60;
const T0 = 1_800_000_000_000;

function expiryTests(name: string, makeStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>): void {
  describe(`session expiry (${name})`, () => {
    let now = T0;
    let b: TestBroker;
    let store: Store;
    let cleanup: () => Promise<void>;
    const expired: string[] = [];
    const events = new MemoryEventSink();
    beforeAll(async () => {
      ({ store, cleanup } = await makeStore());
      b = await startTestBroker({ limits: { sessionExpirySeconds: EXPIRY_S } }, createAclAuth(await aclDoc()), store, {
        now: () => now,
        expirySweep: { intervalMs: 3_600_000 },
        events,
      });
      b.broker.on("session.expired", (clientId) => expired.push(clientId));
    });
    afterAll(async () => {
      await b.close();
      await cleanup();
    });

    it("an offline session is kept until its expiry, then removed with its queue, once, with a session.expired event", async () => {
      const [alice] = await connectAs(b.mqttPort, "alice", { clientId: "exp-1", clean: false });
      await alice.subscribe("secrets/#", 1);
      await leave(alice, store, "exp-1");
      await publish1(b.mqttPort, "secrets/x", "queued");
      expect((await store.getSession("exp-1"))?.outgoing).toHaveLength(1);

      now += EXPIRY_S * 1000 - 1;
      expect(await b.expiry.sweep()).toBe(0);
      expect(await store.getSession("exp-1")).not.toBeNull();
      now += 1;
      expect(await b.expiry.sweep()).toBe(1);
      expect(expired).toEqual(["exp-1"]);
      expect(await store.getSession("exp-1")).toBeNull();
      expect(b.broker.sessions.has("exp-1")).toBe(false);
      expect(b.broker.stats.sessionsExpired).toBe(1);
      await until(() => events.events.some((e) => e.type === "session.expired"), "the session.expired event");
      expect(events.events.find((e) => e.type === "session.expired")).toMatchObject({ v: 3, type: "session.expired", clientId: "exp-1", username: "alice" });
      expect(await b.expiry.sweep()).toBe(0);

      // Nothing routes to it any more, and the client starts afresh.
      await publish1(b.mqttPort, "secrets/y", "nobody");
      const [back, ack] = await connectAs(b.mqttPort, "alice", { clientId: "exp-1", clean: false });
      expect(ack).toEqual({ returnCode: 0, sessionPresent: false });
      expect(await back.silentFor(150)).toBe(true);
      back.destroy();
    });

    it("a connected session never expires, and a reconnect restarts the clock", async () => {
      const [eve] = await connectAs(b.mqttPort, "eve", { clientId: "exp-2", clean: false });
      now += 10 * EXPIRY_S * 1000;
      await b.expiry.sweep();
      expect(expired).not.toContain("exp-2");
      expect(eve.closed).toBe(false);
      await leave(eve, store, "exp-2");
      now += EXPIRY_S * 1000 - 1000;
      const [again, ack] = await connectAs(b.mqttPort, "eve", { clientId: "exp-2", clean: false });
      expect(ack.sessionPresent).toBe(true);
      await leave(again, store, "exp-2");
      now += EXPIRY_S * 1000 - 1;
      await b.expiry.sweep();
      expect(expired).not.toContain("exp-2");
      expect(await store.getSession("exp-2")).not.toBeNull();
      now += 1;
      await b.expiry.sweep();
      expect(expired).toContain("exp-2");
      expect(await store.getSession("exp-2")).toBeNull();
    });
  });
}

expiryTests("memory store", async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

const redis = useRedisStores();
expiryTests("Redis store", () => redis.factory());

describe("limits.maxSessions", () => {
  const store = new MemoryStore();
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({ limits: { maxSessions: 2 } }, createAclAuth(await aclDoc()), store);
  });
  afterAll(async () => {
    await b.close();
  });

  it("a CONNECT that would create a persistent session beyond the cap gets 0x03; resumes and clean sessions go on", async () => {
    const [a] = await connectAs(b.mqttPort, "alice", { clientId: "cap-a", clean: false });
    await leave(a, store, "cap-a");
    const [e, ok] = await connectAs(b.mqttPort, "eve", { clientId: "cap-e", clean: false });
    expect(ok.returnCode).toBe(0);
    const [third, refused] = await connectAs(b.mqttPort, "eve", { clientId: "cap-e2", clean: false });
    expect(refused).toEqual({ returnCode: 3, sessionPresent: false });
    await third.waitClosed();
    expect(await store.getSession("cap-e2")).toBeNull();
    expect(b.broker.sessions.has("cap-e2")).toBe(false);
    expect(b.broker.stats.sessionsRefused["session-limit"]).toBe(1);

    const [resumed, ack] = await connectAs(b.mqttPort, "alice", { clientId: "cap-a", clean: false });
    expect(ack).toEqual({ returnCode: 0, sessionPresent: true });
    resumed.destroy();
    const [clean, cleanAck] = await connectAs(b.mqttPort, null, { clientId: "cap-clean", clean: true });
    expect(cleanAck.returnCode).toBe(0);
    clean.destroy();
    await leave(e, store, "cap-e");
    await until(async () => (await store.getSession("cap-clean")) === null, "the clean session gone");
  });
});
