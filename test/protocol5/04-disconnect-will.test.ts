import { describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { STORES, useBroker5 } from "./stores.js";
import { until } from "../helpers/wait.js";

for (const kind of STORES) {
  describe(`on the ${kind} store`, () => {
    const f = useBroker5(kind, { limits: { sessionExpirySeconds: 3600, maxPacketSize: 1024 } });

    async function raw5(clientId: string, fields: Record<string, unknown> = {}): Promise<RawClient> {
      const c = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
      const connack = await c.connect({ clientId, ...fields });
      if (connack.reasonCode !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
      return c;
    }

    async function watcher(clientId: string, filter: string): Promise<RawClient> {
      const c = await raw5(clientId);
      await c.subscribe(filter, 1);
      return c;
    }

    const will = (topic: string, properties?: Record<string, unknown>) => ({
      will: { topic, payload: Buffer.from("gone"), qos: 1 as const, retain: false, ...(properties === undefined ? {} : { properties }) },
    });

    describe("MQTT 5 DISCONNECT and wills", () => {
      it("[MQTT-3.14.4-3] DISCONNECT 0x00 discards the will; [MQTT-3.1.2-8] 0x04 publishes it", async () => {
        const w = await watcher("dw-watch", "dw/#");
        const normal = await raw5("dw-normal", will("dw/normal"));
        normal.send({ cmd: "disconnect", reasonCode: 0 });
        await normal.waitClosed();
        const withWill = await raw5("dw-with", will("dw/with"));
        withWill.send({ cmd: "disconnect", reasonCode: 0x04 });
        await withWill.waitClosed();
        expect((await w.expect("publish")).topic).toBe("dw/with");
        expect(await w.silentFor(200)).toBe(true);
      });

      it("a will keeps its properties (content type, user properties in order, correlation data)", async () => {
        const w = await watcher("wp-watch", "wp/#");
        const c = await raw5("wp-client", will("wp/t", { contentType: "text/plain", userProperties: { a: "1", b: "2" }, correlationData: Buffer.from("id") }));
        c.destroy();
        const got = await w.expect("publish");
        expect(got.properties).toMatchObject({ contentType: "text/plain", userProperties: { a: "1", b: "2" }, correlationData: Buffer.from("id") });
      });

      it("[MQTT-3.1.3-9] a will with a delay is not published when the client reconnects in time", async () => {
        const w = await watcher("wd-watch", "wd/#");
        const opts = { clean: false, properties: { sessionExpiryInterval: 300 }, ...will("wd/t", { willDelayInterval: 60 }) };
        const first = await raw5("wd-client", opts);
        first.destroy();
        await until(() => f.b.broker.delayedWills.size === 1, "the will waiting out its delay");
        const back = await raw5("wd-client", { clean: false, properties: { sessionExpiryInterval: 300 } });
        expect(f.b.broker.delayedWills.size).toBe(0);
        expect(await w.silentFor(300)).toBe(true);
        back.destroy();
      });

      it("[MQTT-3.1.2-8] a will with a delay is published when the delay runs out", async () => {
        const w = await watcher("wd1-watch", "wd1/#");
        const c = await raw5("wd1-client", { clean: false, properties: { sessionExpiryInterval: 300 }, ...will("wd1/t", { willDelayInterval: 1 }) });
        c.destroy();
        expect(await w.silentFor(500)).toBe(true);
        expect((await w.expect("publish", 3000)).topic).toBe("wd1/t");
      });

      it("a delayed will is published at once when the session ends first (Session Expiry 0)", async () => {
        const w = await watcher("wd0-watch", "wd0/#");
        const c = await raw5("wd0-client", will("wd0/t", { willDelayInterval: 600 }));
        c.destroy();
        expect((await w.expect("publish")).topic).toBe("wd0/t");
      });

      it("a reconnect with Clean Start ends the old session: its delayed will is published then", async () => {
        const w = await watcher("wdc-watch", "wdc/#");
        const c = await raw5("wdc-client", { clean: false, properties: { sessionExpiryInterval: 300 }, ...will("wdc/t", { willDelayInterval: 600 }) });
        c.destroy();
        await c.waitClosed();
        await raw5("wdc-client", { clean: true });
        expect((await w.expect("publish")).topic).toBe("wdc/t");
      });

      it("DISCONNECT may not set a Session Expiry Interval when CONNECT set 0 (3.14.2.2.2): DISCONNECT 0x82", async () => {
        const c = await raw5("dx-zero");
        c.send({ cmd: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
        expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x82 });
        await c.waitClosed();
      });

      it("DISCONNECT with Session Expiry Interval 0 ends a persistent session", async () => {
        const c = await raw5("dx-end", { clean: false, properties: { sessionExpiryInterval: 300 } });
        await c.subscribe("dx/end", 1);
        c.send({ cmd: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
        await c.waitClosed();
        const back = await raw5("dx-end", { clean: false, properties: { sessionExpiryInterval: 300 } });
        expect(back).toBeDefined();
        expect(f.b.broker.sessions.get("dx-end")?.subscriptions.size).toBe(0);
      });

      it("a packet over the server's Maximum Packet Size closes with DISCONNECT 0x95", async () => {
        const c = await raw5("dx-big");
        c.send({ cmd: "publish", topic: "big", payload: Buffer.alloc(2000), qos: 0, retain: false, dup: false });
        expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x95 });
      });

      it("a malformed packet closes with DISCONNECT 0x81 (a property twice is a Protocol Error: 0x82)", async () => {
        const c = await raw5("dx-mal");
        // PUBLISH QoS 0 "t" with Content Type given twice.
        const props = [0x03, 0, 1, 0x61, 0x03, 0, 1, 0x62];
        c.sendBytes([0x30, 3 + 1 + props.length, 0, 1, 0x74, props.length, ...props]);
        expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x82 });
        const d = await raw5("dx-mal2");
        // PUBACK with a reason code a PUBACK cannot carry.
        d.sendBytes([0x40, 3, 0, 1, 0x05]);
        expect(await d.expect("disconnect")).toMatchObject({ reasonCode: 0x81 });
      });

      it("[MQTT-3.1.2-22] a client silent for 1.5 times its keep alive gets DISCONNECT 0x8D", async () => {
        const c = await raw5("dx-ka", { keepalive: 1 });
        expect(await c.expect("disconnect", 3000)).toMatchObject({ reasonCode: 0x8d });
      });
    });
  });
}
