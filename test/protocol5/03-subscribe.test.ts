import type { IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { STORES, useBroker5 } from "./stores.js";
import { restrictedAuth } from "./support.js";

/** Allow-all, except that nobody may subscribe to "secret/#". */
const testAuth = restrictedAuth({ subscribe: "secret/" });

for (const kind of STORES) {
  describe(`on the ${kind} store`, () => {
    const f = useBroker5(kind, { limits: { sessionExpirySeconds: 3600 } }, testAuth);

    async function raw5(clientId: string, properties: Record<string, unknown> = {}, clean = true): Promise<RawClient> {
      const c = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
      const connack = await c.connect({ clientId, clean, properties });
      if (connack.reasonCode !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
      return c;
    }

    type Sub = { topic: string; qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number };

    /** SUBSCRIBE with options and properties; returns the SUBACK's reason codes. */
    async function subscribe(c: RawClient, subscriptions: Sub[], properties?: Record<string, unknown>, messageId = 1): Promise<number[]> {
      c.send({ cmd: "subscribe", messageId, subscriptions, ...(properties === undefined ? {} : { properties }) } as never);
      const suback = await c.expect("suback");
      expect(suback.messageId).toBe(messageId);
      return suback.granted as number[];
    }

    function publish(c: RawClient, topic: string, payload: string, retain = false, qos: 0 | 1 = 0): void {
      c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain, dup: false, ...(qos > 0 ? { messageId: 1 } : {}) });
    }

    describe("MQTT 5 SUBSCRIBE, SUBACK, UNSUBSCRIBE", () => {
      it("[MQTT-3.9.3-1] [MQTT-3.9.3-2] [MQTT-3.8.4-6] [MQTT-3.8.4-7] SUBACK has one reason code per filter in order: granted QoS, 0x8F, 0x87", async () => {
        const c = await raw5("sa-codes");
        const codes = await subscribe(c, [
          { topic: "ok/#", qos: 1 },
          { topic: "bad/#/x", qos: 0 },
          { topic: "secret/a", qos: 1 },
          { topic: "$share/g/t", qos: 1 },
          { topic: "$share//t", qos: 1 },
          { topic: "ok2", qos: 2 },
        ]);
        expect(codes).toEqual([1, 0x8f, 0x87, 1, 0x8f, 2]);
      });

      it("[MQTT-3.11.3-1] [MQTT-3.11.3-2] UNSUBACK: 0x00 for a removed subscription, 0x11 for none", async () => {
        const c = await raw5("us-codes");
        await subscribe(c, [{ topic: "u/a", qos: 0 }]);
        c.send({ cmd: "unsubscribe", messageId: 2, unsubscriptions: ["u/a", "u/none"] });
        const unsuback = await c.expect("unsuback");
        expect(unsuback).toMatchObject({ messageId: 2, granted: [0x00, 0x11] });
      });

      it("[MQTT-3.3.4-3] [MQTT-3.3.4-4] sends the Subscription Identifiers of every matching subscription", async () => {
        const sub = await raw5("si-sub");
        await subscribe(sub, [{ topic: "si/+", qos: 1 }], { subscriptionIdentifier: 7 }, 1);
        await subscribe(sub, [{ topic: "si/#", qos: 1 }], { subscriptionIdentifier: 300 }, 2);
        await subscribe(sub, [{ topic: "si/a", qos: 0 }], undefined, 3);
        const pub = await raw5("si-pub");
        publish(pub, "si/a", "x");
        const got = (await sub.expect("publish")) as IPublishPacket;
        const ids = got.properties?.subscriptionIdentifier;
        expect((Array.isArray(ids) ? ids : [ids]).sort((a, b) => (a as number) - (b as number))).toEqual([7, 300]);
      });

      it("a queued message keeps its Subscription Identifier while the session is offline", async () => {
        const first = await raw5("si-off", { sessionExpiryInterval: 600 });
        await subscribe(first, [{ topic: "sioff/#", qos: 1 }], { subscriptionIdentifier: 42 });
        first.destroy();
        await first.waitClosed();
        const pub = await raw5("si-off-pub");
        publish(pub, "sioff/t", "queued", false, 1);
        await pub.expect("puback");
        const back = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
        expect((await back.connect({ clientId: "si-off", clean: false, properties: { sessionExpiryInterval: 600 } })).sessionPresent).toBe(true);
        const got = await back.expect("publish");
        expect(got.properties?.subscriptionIdentifier).toBe(42);
      });

      it("[MQTT-3.8.3-3] No Local: the client's own publishes are not sent back to it; other clients' are", async () => {
        const c = await raw5("nl-self");
        await subscribe(c, [{ topic: "nl/#", qos: 0, nl: true }]);
        publish(c, "nl/mine", "own");
        const other = await raw5("nl-other");
        publish(other, "nl/theirs", "other");
        const got = await c.expect("publish");
        expect(got.topic).toBe("nl/theirs");
        expect(await c.silentFor(200)).toBe(true);
      });

      it("[MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published keeps the RETAIN flag on live deliveries; without it RETAIN is 0", async () => {
        const keep = await raw5("rap-1");
        await subscribe(keep, [{ topic: "rap/#", qos: 0, rap: true }]);
        const plain = await raw5("rap-0");
        await subscribe(plain, [{ topic: "rap/#", qos: 0 }]);
        const pub = await raw5("rap-pub");
        publish(pub, "rap/t", "r", true);
        expect((await keep.expect("publish")).retain).toBe(true);
        expect((await plain.expect("publish")).retain).toBe(false);
      });

      it("[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-4] Retain Handling 0 sends retained messages, 1 only for a new subscription, 2 never", async () => {
        const pub = await raw5("rh-pub");
        publish(pub, "rh/t", "kept", true, 1);
        await pub.expect("puback");
        const c = await raw5("rh-sub");
        expect(await subscribe(c, [{ topic: "rh/#", qos: 0, rh: 2 }], undefined, 1)).toEqual([0]);
        expect(await c.silentFor(200)).toBe(true);
        await subscribe(c, [{ topic: "rh/+", qos: 0, rh: 1 }], undefined, 2);
        expect((await c.expect("publish")).retain).toBe(true);
        // The same filter again with 1: it exists, nothing is sent.
        await subscribe(c, [{ topic: "rh/+", qos: 0, rh: 1 }], undefined, 3);
        expect(await c.silentFor(200)).toBe(true);
        await subscribe(c, [{ topic: "rh/+", qos: 0, rh: 0 }], undefined, 4);
        expect((await c.expect("publish")).payload.toString()).toBe("kept");
      });

      it("subscription options and identifiers survive a reconnect of a persistent session", async () => {
        const first = await raw5("opt-keep", { sessionExpiryInterval: 600 });
        await subscribe(first, [{ topic: "ok5/#", qos: 1, nl: true, rap: true }], { subscriptionIdentifier: 9 });
        first.destroy();
        await first.waitClosed();
        const back = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
        expect((await back.connect({ clientId: "opt-keep", clean: false, properties: { sessionExpiryInterval: 600 } })).sessionPresent).toBe(true);
        publish(back, "ok5/self", "no local");
        const other = await raw5("opt-other");
        publish(other, "ok5/t", "r", true);
        const got = await back.expect("publish");
        expect([got.topic, got.retain, got.properties?.subscriptionIdentifier]).toEqual(["ok5/t", true, 9]);
        expect(await back.silentFor(200)).toBe(true);
      });
    });
  });
}
