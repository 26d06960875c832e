import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { RawClient } from "../helpers/raw-client.js";
import { STORES, useBroker5 } from "./stores.js";

/** Allow-all, except user "refused" (bad user name or password, 0x86 in MQTT 5). */
const allowAll = createAllowAll();
const testAuth: Auth = {
  name: "test",
  async connect(client, password) {
    if (client.username === "refused") return { ok: false, returnCode: 4, reason: "refused by test" };
    return allowAll.connect(client, password);
  },
};

for (const kind of STORES) {
  describe(`on the ${kind} store`, () => {
    const f = useBroker5(kind, { limits: { maxClientIdLength: 32, sessionExpirySeconds: 3600, maxKeepaliveSeconds: 120 } }, testAuth);
    const clients: mqtt.MqttClient[] = [];
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    });

    async function open5(): Promise<RawClient> {
      return f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
    }

    async function mqtt5(opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${f.b.mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0, ...opts });
      clients.push(c);
      return c;
    }

    describe("MQTT 5 CONNECT and CONNACK", () => {
      it("[MQTT-3.1.4-5] [MQTT-3.2.2-2] accepts protocol level 5 beside 3.1.1; CONNACK carries the server's limits and capabilities (3.2.2.3)", async () => {
        const c = await open5();
        const connack = await c.connect({ clientId: "v5-caps", keepalive: 30 });
        expect(connack).toMatchObject({ reasonCode: 0, sessionPresent: false });
        expect(connack.properties).toMatchObject({
          receiveMaximum: 1024,
          topicAliasMaximum: 64,
          maximumPacketSize: f.b.config.limits.maxPacketSize,
        });
        // Available (the default when left out): retain, wildcards, subscription identifiers, shared subscriptions
        // (on a single node), QoS 2.
        for (const absent of ["retainAvailable", "wildcardSubscriptionAvailable", "subscriptionIdentifiersAvailable", "sharedSubscriptionAvailable", "maximumQoS"] as const) {
          expect(connack.properties?.[absent]).toBeUndefined();
        }
        // Keep alive and expiry unchanged: not sent [MQTT-3.2.2-21].
        expect(connack.properties?.serverKeepAlive).toBeUndefined();
        expect(connack.properties?.sessionExpiryInterval).toBeUndefined();
      });

      it("[MQTT-3.1.3-6] [MQTT-3.2.2-16] assigns a client identifier to an empty one, whatever Clean Start says, and sends it", async () => {
        const c = await open5();
        // mqtt-packet will not generate an empty client id with Clean Start 0: by hand. Name, level 5, flags 0,
        // keep alive 0, properties (Session Expiry Interval 60), empty client id.
        const body = [0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x00, 0, 0, 5, 0x11, 0, 0, 0, 60, 0, 0];
        c.sendBytes([0x10, body.length, ...body]);
        const connack = await c.expect("connack");
        expect(connack.reasonCode).toBe(0);
        const assigned = connack.properties?.assignedClientIdentifier;
        expect(assigned).toMatch(/^mqgate-/);
        expect(f.b.broker.sessions.get(assigned as string)?.link).not.toBeNull();
      });

      it("[MQTT-3.2.2-22] sends Server Keep Alive when it changes the client's keep alive", async () => {
        const c = await open5();
        const connack = await c.connect({ clientId: "v5-ka", keepalive: 0 });
        expect(connack.properties?.serverKeepAlive).toBe(120);
      });

      it("caps the Session Expiry Interval at limits.sessionExpirySeconds and says so in CONNACK", async () => {
        const c = await open5();
        const connack = await c.connect({ clientId: "v5-exp", clean: true, properties: { sessionExpiryInterval: 0xffffffff } });
        expect(connack.properties?.sessionExpiryInterval).toBe(3600);
      });

      it("[MQTT-3.2.2-6] [MQTT-3.1.3-8] [MQTT-3.1.4-2] [MQTT-3.2.2-7] refuses with MQTT 5 reason codes: 0x86 bad user name or password, 0x85 client identifier not valid", async () => {
        const refused = await open5();
        expect(await refused.connect({ clientId: "v5-ref", username: "refused" })).toMatchObject({ reasonCode: 0x86, sessionPresent: false });
        await refused.waitClosed();
        const long = await open5();
        expect((await long.connect({ clientId: "x".repeat(33) })).reasonCode).toBe(0x85);
        await long.waitClosed();
      });

      it("[MQTT-4.12.0-1] refuses an Authentication Method with 0x8C (enhanced authentication is not offered, 4.12)", async () => {
        const c = await open5();
        const connack = await c.connect({ clientId: "v5-auth", properties: { authenticationMethod: "SCRAM-SHA-1" } });
        expect(connack.reasonCode).toBe(0x8c);
        await c.waitClosed();
      });

      it("[MQTT-3.1.2-5] [MQTT-3.2.2-3] [MQTT-3.1.2-23] [MQTT-4.1.0-2] Clean Start 0 with an expiry resumes the session; Session Expiry 0 ends it with the connection", async () => {
        const first = await mqtt5({ clientId: "v5-resume", clean: false, properties: { sessionExpiryInterval: 300 } });
        await first.subscribeAsync("v5/resume", { qos: 1 });
        await first.endAsync();
        const again = await open5();
        const connack = await again.connect({ clientId: "v5-resume", clean: false, properties: { sessionExpiryInterval: 300 } });
        expect(connack.sessionPresent).toBe(true);
        again.destroy();
        const short = await mqtt5({ clientId: "v5-short", clean: true });
        await short.subscribeAsync("v5/short", { qos: 1 });
        await short.endAsync();
        const back = await open5();
        expect((await back.connect({ clientId: "v5-short", clean: false })).sessionPresent).toBe(false);
      });

      it("[MQTT-3.1.4-3] a take-over is told with DISCONNECT 0x8E (session taken over)", async () => {
        const old = await open5();
        await old.connect({ clientId: "v5-take" });
        const next = await open5();
        await next.connect({ clientId: "v5-take" });
        expect(await old.expect("disconnect")).toMatchObject({ reasonCode: 0x8e });
        await old.waitClosed();
      });

      it("a 3.1.1 client and an MQTT 5 client connect to the same listener", async () => {
        const v5 = await mqtt5({ clientId: "mix-5" });
        const v4 = await mqtt.connectAsync(`mqtt://127.0.0.1:${f.b.mqttPort}`, { clientId: "mix-4", reconnectPeriod: 0 });
        clients.push(v4);
        await v5.subscribeAsync("mix/#", { qos: 1 });
        const got = new Promise<[string, mqtt.IPublishPacket]>((resolve) => v5.once("message", (t, _p, pkt) => resolve([t, pkt])));
        await v4.publishAsync("mix/a", "from 3.1.1", { qos: 1 });
        const [topic, pkt] = await got;
        expect(topic).toBe("mix/a");
        expect(pkt.properties ?? {}).toEqual({});
      });
    });
  });
}
