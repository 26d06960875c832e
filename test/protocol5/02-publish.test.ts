import mqtt from "mqtt";
import type { IPublishPacket } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { STORES, useBroker5 } from "./stores.js";
import { restrictedAuth } from "./support.js";

/** Allow-all, except that nobody may publish to "denied/#". */
const testAuth = restrictedAuth({ publish: "denied/" });

for (const kind of STORES) {
  describe(`on the ${kind} store`, () => {
    const f = useBroker5(kind, { limits: { sessionExpirySeconds: 3600 } }, testAuth);
    const clients: mqtt.MqttClient[] = [];
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    });

    async function raw5(clientId: string, properties: Record<string, unknown> = {}, clean = true): Promise<RawClient> {
      const c = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
      const connack = await c.connect({ clientId, clean, properties });
      if (connack.reasonCode !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
      return c;
    }

    async function mqtt5(clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${f.b.mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0, clientId, ...opts });
      clients.push(c);
      return c;
    }

    function nextMessage(c: mqtt.MqttClient): Promise<IPublishPacket> {
      return new Promise((resolve) => c.once("message", (_t, _p, pkt) => resolve(pkt)));
    }

    describe("MQTT 5 PUBLISH: properties end to end", () => {
      it("[MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20] forwards the message's properties unchanged, user properties in order", async () => {
        const sub = await raw5("p-sub");
        expect(await sub.subscribe("props/#", 1)).toEqual([1]);
        const pub = await raw5("p-pub");
        pub.send({
          cmd: "publish",
          topic: "props/a",
          payload: Buffer.from("{}"),
          qos: 1,
          retain: false,
          dup: false,
          messageId: 7,
          properties: {
            payloadFormatIndicator: true,
            contentType: "application/json",
            responseTopic: "reply/here",
            correlationData: Buffer.from([0, 1, 2, 255]),
            userProperties: { b: "2", a: ["1", "3"] },
          },
        });
        expect(await pub.expect("puback")).toMatchObject({ messageId: 7 });
        const got = await sub.expect("publish");
        expect(got.properties).toMatchObject({
          payloadFormatIndicator: true,
          contentType: "application/json",
          responseTopic: "reply/here",
          correlationData: Buffer.from([0, 1, 2, 255]),
          userProperties: { b: "2", a: ["1", "3"] },
        });
      });

      it("user properties keep their exact order, interleaved names included (raw frames)", async () => {
        const sub = await raw5("o-sub");
        await sub.subscribe("order/t", 0);
        const pub = await raw5("o-pub");
        // PUBLISH QoS 0 "order/t", properties: up(a=1) up(b=2) up(a=3), payload "x".
        const up = (k: string, v: string): number[] => [0x26, 0, k.length, ...Buffer.from(k), 0, v.length, ...Buffer.from(v)];
        const props = [...up("a", "1"), ...up("b", "2"), ...up("a", "3")];
        const body = [0, 7, ...Buffer.from("order/t"), props.length, ...props, 0x78];
        pub.sendBytes([0x30, body.length, ...body]);
        const frame = await new Promise<Buffer>((resolve) => sub.socket.once("data", resolve));
        // The subscriber's PUBLISH carries the same block, byte for byte.
        expect(frame.includes(Buffer.from(props))).toBe(true);
      });

      it("a 3.1.1 subscriber gets an MQTT 5 message without properties; an MQTT 5 subscriber of a 3.1.1 publisher gets none", async () => {
        const v4 = f.track(await RawClient.connected(f.b.mqttPort, { clientId: "i-v4" }));
        await v4.subscribe("interop/#", 1);
        const v5 = await mqtt5("i-v5");
        await v5.subscribeAsync("interop/#", { qos: 1 });
        const pub5 = await mqtt5("i-pub5");
        const got5 = nextMessage(v5);
        await pub5.publishAsync("interop/from5", "five", { qos: 1, properties: { contentType: "text/plain", userProperties: { k: "v" } } });
        const at4 = await v4.expect("publish");
        expect(at4.topic).toBe("interop/from5");
        expect(at4.properties).toBeUndefined();
        expect((await got5).properties).toMatchObject({ contentType: "text/plain", userProperties: { k: "v" } });
        const pub4 = f.track(await RawClient.connected(f.b.mqttPort, { clientId: "i-pub4" }));
        const again5 = nextMessage(v5);
        pub4.send({ cmd: "publish", topic: "interop/from4", payload: Buffer.from("four"), qos: 0, retain: false, dup: false });
        const from4 = await again5;
        expect(from4.topic).toBe("interop/from4");
        expect(from4.properties ?? {}).toEqual({});
      });

      it("[MQTT-3.3.2-6] sends what remains of the Message Expiry Interval; [MQTT-3.3.2-5] an expired queued message is not sent", async () => {
        const offline = await raw5("e-sub", { sessionExpiryInterval: 600 }, true);
        await offline.subscribe("exp/#", 1);
        offline.destroy();
        await offline.waitClosed();
        const pub = await mqtt5("e-pub");
        await pub.publishAsync("exp/short", "gone", { qos: 1, properties: { messageExpiryInterval: 1 } });
        await pub.publishAsync("exp/long", "kept", { qos: 1, properties: { messageExpiryInterval: 100 } });
        await new Promise((r) => setTimeout(r, 2100));
        const back = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
        expect((await back.connect({ clientId: "e-sub", clean: false, properties: { sessionExpiryInterval: 600 } })).sessionPresent).toBe(true);
        const got = await back.expect("publish");
        expect(got.topic).toBe("exp/long");
        const left = got.properties?.messageExpiryInterval as number;
        expect(left).toBeGreaterThanOrEqual(97);
        expect(left).toBeLessThanOrEqual(98);
        expect(await back.silentFor(200)).toBe(true);
        expect(f.b.broker.stats.dropped.expired).toBeGreaterThanOrEqual(1);
      });

      it("[MQTT-3.1.2-25] a message larger than the client's Maximum Packet Size is not sent to it, and is counted", async () => {
        const small = await raw5("m-sub", { maximumPacketSize: 64 });
        await small.subscribe("size/#", 1);
        const before = f.b.broker.stats.dropped["too-large"];
        const pub = await mqtt5("m-pub");
        await pub.publishAsync("size/big", Buffer.alloc(100), { qos: 1 });
        await pub.publishAsync("size/small", Buffer.alloc(10), { qos: 1 });
        const got = await small.expect("publish");
        expect(got.topic).toBe("size/small");
        expect(f.b.broker.stats.dropped["too-large"]).toBe(before + 1);
      });

      it("[MQTT-3.3.4-9] [MQTT-4.9.0-2] sends no more unacknowledged QoS 1 messages than the client's Receive Maximum", async () => {
        const sub = await raw5("r-sub", { receiveMaximum: 2 });
        await sub.subscribe("recv/#", 1);
        const pub = await mqtt5("r-pub");
        for (let i = 0; i < 4; i++) await pub.publishAsync("recv/t", String(i), { qos: 1 });
        const first = await sub.expect("publish");
        await sub.expect("publish");
        expect(await sub.silentFor(200)).toBe(true);
        sub.send({ cmd: "puback", messageId: first.messageId as number });
        expect((await sub.expect("publish")).payload.toString()).toBe("2");
        expect(await sub.silentFor(200)).toBe(true);
      });

      it("[MQTT-3.3.2-12] topic aliases: set with a topic, then used with an empty topic", async () => {
        const sub = await raw5("a-sub");
        await sub.subscribe("alias/#", 0);
        const pub = await raw5("a-pub");
        pub.send({ cmd: "publish", topic: "alias/one", payload: Buffer.from("1"), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
        pub.send({ cmd: "publish", topic: "", payload: Buffer.from("2"), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } });
        const a = await sub.expect("publish");
        const b = await sub.expect("publish");
        expect([a.topic, a.payload.toString(), b.topic, b.payload.toString()]).toEqual(["alias/one", "1", "alias/one", "2"]);
      });

      it("[MQTT-3.3.2-9] a Topic Alias above the server's maximum closes with DISCONNECT 0x94", async () => {
        const pub = await raw5("a-bad");
        pub.send({ cmd: "publish", topic: "alias/x", payload: Buffer.from("1"), qos: 0, retain: false, dup: false, properties: { topicAlias: 65 } });
        expect(await pub.expect("disconnect")).toMatchObject({ reasonCode: 0x94 });
        await pub.waitClosed();
      });

      it("an alias used before it was set closes with DISCONNECT 0x82", async () => {
        const pub = await raw5("a-unset");
        pub.send({ cmd: "publish", topic: "", payload: Buffer.from("1"), qos: 0, retain: false, dup: false, properties: { topicAlias: 5 } });
        expect(await pub.expect("disconnect")).toMatchObject({ reasonCode: 0x82 });
      });

      it("[MQTT-3.3.4-6] a Subscription Identifier in a client's PUBLISH is a Protocol Error (0x82)", async () => {
        const pub = await raw5("s-id");
        pub.send({ cmd: "publish", topic: "sid/x", payload: Buffer.from("1"), qos: 0, retain: false, dup: false, properties: { subscriptionIdentifier: 4 } });
        expect(await pub.expect("disconnect")).toMatchObject({ reasonCode: 0x82 });
      });

      it("[MQTT-4.3.3-9] a publish the client may not make is answered PUBACK 0x87 and PUBREC 0x87, not routed", async () => {
        const sub = await raw5("d-sub");
        await sub.subscribe("denied/#", 1);
        const pub = await raw5("d-pub");
        pub.send({ cmd: "publish", topic: "denied/a", payload: Buffer.from("1"), qos: 1, retain: false, dup: false, messageId: 1 });
        expect(await pub.expect("puback")).toMatchObject({ messageId: 1, reasonCode: 0x87 });
        pub.send({ cmd: "publish", topic: "denied/b", payload: Buffer.from("2"), qos: 2, retain: false, dup: false, messageId: 2 });
        expect(await pub.expect("pubrec")).toMatchObject({ messageId: 2, reasonCode: 0x87 });
        expect(await sub.silentFor(200)).toBe(true);
        // The QoS 2 exchange ended at the refusing PUBREC: the same packet id starts a new one.
        pub.send({ cmd: "publish", topic: "allowed/c", payload: Buffer.from("3"), qos: 2, retain: false, dup: false, messageId: 2 });
        expect(await pub.expect("pubrec")).toMatchObject({ messageId: 2 });
      });

      it("a PUBREC with a failure code ends the exchange: no PUBREL, and the next message is sent", async () => {
        const sub = await raw5("pr-sub", { receiveMaximum: 1 });
        await sub.subscribe("pr/#", 2);
        const pub = await mqtt5("pr-pub");
        await pub.publishAsync("pr/a", "1", { qos: 2 });
        await pub.publishAsync("pr/b", "2", { qos: 2 });
        const first = await sub.expect("publish");
        sub.send({ cmd: "pubrec", messageId: first.messageId as number, reasonCode: 0x80 });
        const second = await sub.expect("publish");
        expect(second.topic).toBe("pr/b");
        expect(f.b.broker.sessions.get("pr-sub")?.inflight.has(first.messageId as number)).toBe(false);
      });

      it("a payload said to be UTF-8 that is not is refused with PUBACK 0x99 and not routed (3.3.2.3.2)", async () => {
        const sub = await raw5("u-sub");
        await sub.subscribe("utf/#", 1);
        const pub = await raw5("u-pub");
        pub.send({ cmd: "publish", topic: "utf/a", payload: Buffer.from([0xc3, 0x28]), qos: 1, retain: false, dup: false, messageId: 9, properties: { payloadFormatIndicator: true } });
        expect(await pub.expect("puback")).toMatchObject({ messageId: 9, reasonCode: 0x99 });
        expect(await sub.silentFor(200)).toBe(true);
      });

      it("[MQTT-3.3.2-14] a Response Topic with wildcards closes with DISCONNECT 0x82", async () => {
        const pub = await raw5("rt-bad");
        pub.send({ cmd: "publish", topic: "rt/x", payload: Buffer.from("1"), qos: 0, retain: false, dup: false, properties: { responseTopic: "reply/#" } });
        expect(await pub.expect("disconnect")).toMatchObject({ reasonCode: 0x82 });
      });
    });
  });
}
