import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { until } from "../helpers/wait.js";
import { STORES } from "./stores.js";

/*
 * MQTT 5.0 3.3.2.3.3: "If the current retained message for a Topic expires, it is discarded and there will be no
 * retained message for that topic." Not only withheld from new subscribers: gone from the store, so it no longer
 * counts against limits.maxRetained / maxRetainedBytes. The broker runs on an injected clock; the tests move it
 * instead of sleeping, and run the sweep themselves (its timer is set far out), except the one about the timer.
 */

const T0 = 1_800_000_000_000;

let packetId = 1;

async function client5(port: number, clientId: string): Promise<RawClient> {
  const c = await RawClient.open(port, "127.0.0.1", undefined, 5);
  const connack = await c.connect({ clientId, clean: true });
  if (connack.reasonCode !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
  return c;
}

/** A retained QoS 1 PUBLISH, with a Message Expiry Interval when `expiry` is given; resolves at its PUBACK. */
async function retain(c: RawClient, topic: string, payload: string, expiry?: number): Promise<void> {
  const messageId = packetId++;
  const properties = expiry === undefined ? {} : { messageExpiryInterval: expiry };
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain: true, dup: false, messageId, properties });
  expect(await c.expect("puback")).toMatchObject({ messageId });
}

for (const kind of STORES) {
  describe(`retained message expiry on the ${kind} store`, () => {
    const redis = kind === "redis" ? useRedisStores() : null;
    let now = T0;
    let b: TestBroker;
    let store: Store;
    let pub: RawClient;
    const dropped: string[] = [];
    beforeAll(async () => {
      store = redis === null ? new MemoryStore() : (await redis.factory()).store;
      b = await startTestBroker({ limits: { maxRetained: 2 } }, undefined, store, { now: () => now, retainedSweep: { intervalMs: 3_600_000 } });
      b.broker.on("message.dropped", (_clientId, msg, reason) => dropped.push(`${msg.topic}:${reason}`));
      pub = await client5(b.mqttPort, `rx-pub-${kind}`);
    });
    afterAll(async () => {
      pub.destroy();
      await b.close();
      await store.close();
    });

    it("[MQTT-3.3.2-5] a retained message with a 1 s Message Expiry Interval is discarded from the store and the retained stats once it expires", async () => {
      await retain(pub, "status/dev-1", "online", 1);
      await retain(pub, "status/dev-2", "kept");
      await until(async () => (await store.retainedStats()).count === 2, "both retained messages stored");
      const bytes = (await store.retainedStats()).bytes;

      now += 999;
      expect(await b.retainedSweep.sweep()).toBe(0);
      expect(await store.getRetained("status/dev-1")).not.toBeNull();
      now += 1;
      expect(await b.retainedSweep.sweep()).toBe(1);
      expect(await store.getRetained("status/dev-1")).toBeNull();
      expect(await store.retainedStats()).toEqual({ count: 1, bytes: bytes - Buffer.byteLength("status/dev-1online") });
      expect((await store.getRetained("status/dev-2"))?.payload.toString()).toBe("kept");
      // A new subscriber gets the one that is left, and nothing else.
      const sub = await client5(b.mqttPort, `rx-sub-${kind}`);
      expect(await sub.subscribe("status/#", 1)).toEqual([1]);
      expect(await sub.expect("publish")).toMatchObject({ topic: "status/dev-2", retain: true });
      sub.destroy();
      await retain(pub, "status/dev-2", "");
      await until(async () => (await store.retainedStats()).count === 0, "the retained set emptied");
    });

    it("expired retained messages do not hold limits.maxRetained: a new retained message is accepted once they expired", async () => {
      await retain(pub, "fleet/a", "1", 1);
      await retain(pub, "fleet/b", "1", 1);
      await until(async () => (await store.retainedStats()).count === 2, "two retained messages stored");
      await retain(pub, "fleet/c", "1", 1);
      await until(() => dropped.includes("fleet/c:retained-limit"), "the third refused while the others live");
      expect(await store.getRetained("fleet/c")).toBeNull();

      now += 1000;
      await retain(pub, "fleet/c", "2", 1);
      await until(async () => (await store.getRetained("fleet/c")) !== null, "the third stored once the others expired");
      expect(await store.retainedStats()).toMatchObject({ count: 1 });
      expect(dropped.filter((d) => d === "fleet/c:retained-limit")).toHaveLength(1);
      now += 1000;
      expect(await b.retainedSweep.sweep()).toBe(1);
    });
  });
}

describe("the broker's retained sweep timer", () => {
  let now = T0;
  let b: TestBroker;
  const store = new MemoryStore();
  beforeAll(async () => {
    b = await startTestBroker({}, undefined, store, { now: () => now, retainedSweep: { intervalMs: 20 } });
  });
  afterAll(async () => {
    await b.close();
  });

  it("removes an expired retained message without being asked", async () => {
    const pub = await client5(b.mqttPort, "rx-timer");
    await retain(pub, "timer/t", "x", 1);
    await until(async () => (await store.getRetained("timer/t")) !== null, "the retained message stored");
    now += 1000;
    await until(async () => (await store.getRetained("timer/t")) === null, "the sweep timer removing it");
    expect(await store.retainedStats()).toEqual({ count: 0, bytes: 0 });
    pub.destroy();
  });
});
