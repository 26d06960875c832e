import { describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { STORES, useBroker5 } from "./stores.js";
import { connectNonce, NONCE, NONCE_ANSWER, NONCE_METHOD, nonceAuth, reauthenticate, sendReauth } from "./support.js";

/**
 * MQTT 5 re-authentication (4.12.1): a client that connected with an Authentication Method sends AUTH 0x19 with
 * the same method after CONNACK; the server runs the backend's exchange again (AUTH 0x18 both ways) while the
 * connection goes on, and ends it with AUTH 0x00, or with DISCONNECT and a close. Backend: `nonceAuth`
 * (test/protocol5/support.ts). The limits (time, rate, one at a time) are in test/security/mqtt5-reauth.test.ts.
 */
for (const kind of STORES) {
  describe(`on the ${kind} store`, () => {
    const auth = nonceAuth();
    const f = useBroker5(kind, {}, auth);

    async function open5(): Promise<RawClient> {
      return f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
    }

    async function connected(clientId: string, ask = "all"): Promise<RawClient> {
      const c = await open5();
      await connectNonce(c, clientId, ask);
      return c;
    }

    async function closedWith(c: RawClient, reasonCode: number): Promise<void> {
      expect(await c.expect("disconnect")).toMatchObject({ reasonCode });
      await c.waitClosed();
    }

    describe("MQTT 5 re-authentication", () => {
      it("[MQTT-4.12.1-1] [MQTT-4.12.0-5] [MQTT-3.15.2-1] AUTH 0x19 with the connection's method: a challenge in AUTH 0x18, the answer, then AUTH 0x00 with the method and the backend's data; the connection goes on", async () => {
        const c = await connected("ra-ok");
        await reauthenticate(c);
        expect(await c.subscribe("ra-ok/#", 1)).toEqual([1]);
        c.send({ cmd: "publish", topic: "ra-ok/x", payload: Buffer.from("after"), qos: 1, retain: false, dup: false, messageId: 7 });
        const got: unknown[] = [];
        for (let i = 0; i < 2; i++) got.push(await c.next());
        expect(got).toEqual(expect.arrayContaining([expect.objectContaining({ cmd: "puback", messageId: 7 }), expect.objectContaining({ cmd: "publish", topic: "ra-ok/x" })]));
      });

      it("publishes flow both ways while a re-authentication waits for the client's answer, under the rules the client had", async () => {
        const c = await connected("ra-flow");
        expect(await c.subscribe("ra-flow/in", 0)).toEqual([0]);
        const other = await connected("ra-flow-other");
        expect(await other.subscribe("ra-flow/out", 0)).toEqual([0]);
        sendReauth(c);
        expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD } });
        // The exchange is waiting for the answer: the connection carries messages meanwhile.
        c.send({ cmd: "publish", topic: "ra-flow/out", payload: Buffer.from("from c"), qos: 1, retain: false, dup: false, messageId: 1 });
        expect(await c.expect("puback")).toMatchObject({ messageId: 1 });
        expect(await other.expect("publish")).toMatchObject({ topic: "ra-flow/out" });
        other.send({ cmd: "publish", topic: "ra-flow/in", payload: Buffer.from("to c"), qos: 0, retain: false, dup: false });
        expect(await c.expect("publish")).toMatchObject({ topic: "ra-flow/in" });
        c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
        expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x00, properties: { authenticationMethod: NONCE_METHOD } });
      });

      it("the new decision's policy replaces the old one: a subscription it refuses is removed, a publish it refuses gets PUBACK 0x87", async () => {
        const c = await connected("ra-policy");
        expect(await c.subscribe("secret/#", 0)).toEqual([0]);
        expect(await c.subscribe("open/#", 0)).toEqual([0]);
        await reauthenticate(c, "no-secret");
        const publisher = await connected("ra-policy-pub");
        publisher.send({ cmd: "publish", topic: "secret/a", payload: Buffer.from("hidden"), qos: 0, retain: false, dup: false });
        publisher.send({ cmd: "publish", topic: "open/a", payload: Buffer.from("seen"), qos: 0, retain: false, dup: false });
        // In publish order: a delivery of secret/a would come first.
        expect(await c.expect("publish")).toMatchObject({ topic: "open/a" });
        expect(f.b.broker.sessions.get("ra-policy")?.subscriptions.has("secret/#")).toBe(false);
        const again = await connected("ra-policy-2");
        await reauthenticate(again, "no-secret");
        again.send({ cmd: "publish", topic: "secret/b", payload: Buffer.from("x"), qos: 1, retain: false, dup: false, messageId: 3 });
        expect(await again.expect("puback")).toMatchObject({ messageId: 3, reasonCode: 0x87 });
        expect(await again.subscribe("secret/#", 0)).toEqual([0x87]);
      });

      it("[MQTT-4.12.1-2] a re-authentication the backend refuses: DISCONNECT 0x87 with the backend's reason, then the connection is closed", async () => {
        const c = await connected("ra-deny");
        sendReauth(c, "deny");
        await c.expect("auth");
        c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
        expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x87, properties: { reasonString: expect.stringContaining("may not re-authenticate") } });
        await c.waitClosed();
      });

      it("[MQTT-4.12.1-2] a wrong answer to the re-authentication challenge: DISCONNECT 0x87, closed", async () => {
        const c = await connected("ra-wrong");
        sendReauth(c);
        await c.expect("auth");
        c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: Buffer.from("nope") } });
        await closedWith(c, 0x87);
      });

      it("[MQTT-4.12.1-2] a re-authentication under another identity than the session's is refused: DISCONNECT 0x87, closed (4.12.1: the server may limit what a re-authentication changes)", async () => {
        const c = await connected("ra-identity");
        sendReauth(c, "as:cert:someone-else");
        await c.expect("auth");
        c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
        await closedWith(c, 0x87);
      });

      it("[MQTT-4.12.1-1] AUTH 0x19 with another Authentication Method than the connection's is a Protocol Error: DISCONNECT 0x82, closed", async () => {
        const c = await connected("ra-method");
        const before = auth.steps.count;
        sendReauth(c, "all", "SCRAM-SHA-256");
        await closedWith(c, 0x82);
        expect(auth.steps.count).toBe(before);
      });

      it("[MQTT-4.12.0-7] AUTH 0x19 from a client that connected without an Authentication Method: DISCONNECT 0x82, closed", async () => {
        const c = await open5();
        expect(await c.connect({ clientId: "ra-none" })).toMatchObject({ reasonCode: 0 });
        sendReauth(c);
        await closedWith(c, 0x82);
      });

      it("AUTH 0x18 when no authentication is going on: DISCONNECT 0x82, closed", async () => {
        const c = await connected("ra-stray");
        c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
        await closedWith(c, 0x82);
      });

      it("[MQTT-4.12.0-5] an answer under another method during a re-authentication: DISCONNECT 0x82, closed", async () => {
        const c = await connected("ra-answer-method");
        sendReauth(c);
        await c.expect("auth");
        c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "OTHER", authenticationData: NONCE_ANSWER } });
        await closedWith(c, 0x82);
      });

      it("a second AUTH 0x19 while a re-authentication is going on: DISCONNECT 0x82, closed", async () => {
        const c = await connected("ra-twice");
        sendReauth(c);
        expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x18, properties: { authenticationData: NONCE } });
        sendReauth(c);
        await closedWith(c, 0x82);
      });

      it("[MQTT-3.15.2-1] AUTH 0x00 from the client (Success is the server's reason code): DISCONNECT 0x82, closed", async () => {
        const c = await connected("ra-success");
        c.send({ cmd: "auth", reasonCode: 0x00, properties: { authenticationMethod: NONCE_METHOD } });
        await closedWith(c, 0x82);
      });

      it("[MQTT-3.15.2-1] an AUTH of Remaining Length 0 is well formed (Reason Code 0x00, no properties), and 0x00 from the client is a Protocol Error: DISCONNECT 0x82, not 0x81", async () => {
        const c = await connected("ra-empty");
        c.sendBytes([0xf0, 0x00]);
        await closedWith(c, 0x82);
      });

      it("re-authentication renews the credentials' expiry: a connection whose first credentials expire stays open under the new ones", async () => {
        const c = await connected("ra-renew", "expires:1000");
        await reauthenticate(c);
        // The first credentials expired 1 s after CONNECT; the new ones do not expire.
        expect(await c.silentFor(1500)).toBe(true);
        c.send({ cmd: "pingreq" });
        await c.expect("pingresp");
      });
    });
  });
}
