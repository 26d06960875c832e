import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { STORES } from "./stores.js";

/*
 * Message expiry is judged on the broker's clock, the one a message's publication time is taken on: a message
 * that waits in a session's queue is checked against that clock when it reaches the front, not against the
 * machine's. The broker runs on an injected clock that the test moves (no sleeping).
 */

const T0 = 1_800_000_000_000;

for (const kind of STORES) {
  describe(`message expiry on the broker's clock (${kind} store)`, () => {
    const redis = kind === "redis" ? useRedisStores() : null;
    let now = T0;
    let b: TestBroker;
    let store: Store;
    const dropped: string[] = [];
    beforeAll(async () => {
      store = redis === null ? new MemoryStore() : (await redis.factory()).store;
      b = await startTestBroker({}, undefined, store, { now: () => now });
      b.broker.on("message.dropped", (_clientId, msg, reason) => dropped.push(`${msg.topic}:${reason}`));
    });
    afterAll(async () => {
      await b.close();
      await store.close();
    });

    it("[MQTT-3.3.2-5] a queued message whose Message Expiry Interval ran out by the broker's clock is not sent", async () => {
      const sub = await RawClient.open(b.mqttPort, "127.0.0.1", undefined, 5);
      const pub = await RawClient.open(b.mqttPort, "127.0.0.1", undefined, 5);
      try {
        // Receive Maximum 1: the second message waits in the session's queue behind the first, unacknowledged.
        expect((await sub.connect({ clientId: `ec-sub-${kind}`, clean: true, properties: { receiveMaximum: 1 } })).reasonCode).toBe(0);
        await sub.subscribe("ec/#", 1);
        expect((await pub.connect({ clientId: `ec-pub-${kind}`, clean: true })).reasonCode).toBe(0);
        pub.send({ cmd: "publish", topic: "ec/first", payload: Buffer.from("1"), qos: 1, retain: false, dup: false, messageId: 1 });
        pub.send({ cmd: "publish", topic: "ec/short", payload: Buffer.from("2"), qos: 1, retain: false, dup: false, messageId: 2, properties: { messageExpiryInterval: 1 } });
        pub.send({ cmd: "publish", topic: "ec/long", payload: Buffer.from("3"), qos: 1, retain: false, dup: false, messageId: 3, properties: { messageExpiryInterval: 100 } });
        for (let i = 0; i < 3; i++) await pub.expect("puback");
        const first = await sub.expect("publish");
        expect(first.topic).toBe("ec/first");
        now += 2_000;
        sub.send({ cmd: "puback", messageId: first.messageId as number });
        const next = await sub.expect("publish");
        expect(next.topic).toBe("ec/long");
        // 100 s published, 2 s of them gone by the broker's clock [MQTT-3.3.2-6].
        expect(next.properties?.messageExpiryInterval).toBe(98);
        expect(dropped).toContain("ec/short:expired");
      } finally {
        sub.destroy();
        pub.destroy();
      }
    });
  });
}
