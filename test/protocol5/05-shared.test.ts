import type { IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { until } from "../helpers/wait.js";
import { STORES, useBroker5 } from "./stores.js";
import { collect } from "./support.js";

for (const kind of STORES) {
  describe(`on the ${kind} store`, () => {
    const f = useBroker5(kind, { limits: { sessionExpirySeconds: 3600, maxInflight: 1000 } });

    async function raw5(clientId: string, properties: Record<string, unknown> = {}, clean = true): Promise<RawClient> {
      const c = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
      const connack = await c.connect({ clientId, clean, properties });
      if (connack.reasonCode !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
      return c;
    }

    async function member(clientId: string, filter: string, qos: 0 | 1 | 2, properties: Record<string, unknown> = {}): Promise<{ c: RawClient; got: IPublishPacket[] }> {
      const c = await raw5(clientId, properties);
      c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: filter, qos }] });
      expect((await c.expect("suback")).granted).toEqual([qos]);
      return { c, got: [] };
    }

    /** Reads what `c` gets into `got` (support.ts); returns the function that stops it. */
    const read = (c: RawClient, got: IPublishPacket[], ack = true): (() => void) => collect(c, ack, got).stop;

    async function publishMany(prefix: string, n: number, qos: 1 | 2): Promise<void> {
      const pub = await raw5(`${prefix}-pub`);
      for (let i = 0; i < n; i++) {
        pub.send({ cmd: "publish", topic: `${prefix}/t`, payload: Buffer.from(String(i)), qos, retain: false, dup: false, messageId: (i % 60000) + 1 });
        if (qos === 1) await pub.expect("puback");
        else {
          await pub.expect("pubrec");
          pub.send({ cmd: "pubrel", messageId: (i % 60000) + 1 });
          await pub.expect("pubcomp");
        }
      }
    }

    it("[MQTT-4.8.2-1] [MQTT-4.8.2-3] each message of a shared subscription goes to one member, in turn; others still get every one", async () => {
      const members = await Promise.all(["a", "b", "c"].map((n) => member(`sh-${n}`, "$share/grp/sh/#", 1)));
      const stops = members.map((m) => read(m.c, m.got));
      const plain = await member("sh-plain", "sh/#", 1);
      stops.push(read(plain.c, plain.got));
      await publishMany("sh", 300, 1);
      await until(() => members.reduce((n, m) => n + m.got.length, 0) === 300 && plain.got.length === 300, "300 shared and 300 plain deliveries");
      for (const m of members) expect(m.got.length).toBe(100);
      const seen = members.flatMap((m) => m.got.map((p) => p.payload.toString()));
      expect(new Set(seen).size).toBe(300);
      stops.forEach((s) => s());
    });

    it("[MQTT-4.8.2-2] a share name with a wildcard, or without a filter after it, is refused with 0x8F", async () => {
      const c = await raw5("sh-bad");
      c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/+/t", qos: 0 }, { topic: "$share/g", qos: 0 }, { topic: "$share/g/", qos: 0 }] });
      expect((await c.expect("suback")).granted).toEqual([0x8f, 0x8f, 0x8f]);
    });

    it("[MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82", async () => {
      const c = await raw5("sh-nl");
      c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/g/nl", qos: 0, nl: true }] } as never);
      expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x82 });
    });

    it("a new shared subscription gets no retained messages", async () => {
      const pub = await raw5("shr-pub");
      pub.send({ cmd: "publish", topic: "shr/t", payload: Buffer.from("kept"), qos: 1, retain: true, dup: false, messageId: 1 });
      await pub.expect("puback");
      const m = await member("shr-m", "$share/g/shr/#", 1);
      expect(await m.c.silentFor(200)).toBe(true);
    });

    it("unacknowledged QoS 1 messages of a member that leaves go to the other members; nothing is lost", async () => {
      const keeper = await member("shl-keep", "$share/g/shl/#", 1);
      const stop = read(keeper.c, keeper.got);
      // This member reads but never acknowledges, then goes away.
      const leaver = await member("shl-leave", "$share/g/shl/#", 1);
      const unacked = read(leaver.c, leaver.got, false);
      await publishMany("shl", 100, 1);
      await until(() => keeper.got.length + leaver.got.length === 100, "100 deliveries");
      expect(leaver.got.length).toBe(50);
      unacked();
      leaver.c.destroy();
      await until(() => keeper.got.length === 100, "the leaver's 50 at the keeper");
      expect(new Set(keeper.got.map((p) => p.payload.toString())).size).toBe(100);
      stop();
    });

    it("[MQTT-4.8.2-5] QoS 2 through a shared subscription: each message once, to one member", async () => {
      const members = await Promise.all(["x", "y"].map((n) => member(`sh2-${n}`, "$share/g2/sh2/#", 2)));
      const stops = members.map((m) => read(m.c, m.got));
      await publishMany("sh2", 60, 2);
      await until(() => members.reduce((n, m) => n + m.got.length, 0) >= 60, "60 deliveries");
      expect(await members[0]?.c.silentFor(200)).toBe(true);
      const seen = members.flatMap((m) => m.got.map((p) => p.payload.toString()));
      expect(seen.length).toBe(60);
      expect(new Set(seen).size).toBe(60);
      stops.forEach((s) => s());
    });

    it("an offline persistent member gets messages only when no member is connected", async () => {
      const off = await member("sho-off", "$share/g/sho/#", 1, { sessionExpiryInterval: 600 });
      off.c.destroy();
      await until(() => f.b.broker.sessions.get("sho-off")?.link === null, "the member offline");
      const on = await member("sho-on", "$share/g/sho/#", 1);
      const stop = read(on.c, on.got);
      await publishMany("sho", 10, 1);
      await until(() => on.got.length === 10, "10 at the connected member");
      stop();
    });

    it("3.1.1 clients share a subscription too", async () => {
      const a = f.track(await RawClient.connected(f.b.mqttPort, { clientId: "sh4-a" }));
      const b = f.track(await RawClient.connected(f.b.mqttPort, { clientId: "sh4-b" }));
      expect(await a.subscribe("$share/g/sh4/#", 0)).toEqual([0]);
      expect(await b.subscribe("$share/g/sh4/#", 0)).toEqual([0]);
      const pub = await raw5("sh4-pub");
      for (let i = 0; i < 4; i++) pub.send({ cmd: "publish", topic: "sh4/t", payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
      const fromA = [await a.expect("publish"), await a.expect("publish")].map((p) => p.payload.toString());
      const fromB = [await b.expect("publish"), await b.expect("publish")].map((p) => p.payload.toString());
      expect([...fromA, ...fromB].sort()).toEqual(["0", "1", "2", "3"]);
    });
  });
}
