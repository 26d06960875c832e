import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";
import { NONCE, NONCE_ANSWER, NONCE_WELCOME, nonceAuth } from "./support.js";

/**
 * MQTT 5 enhanced authentication (4.12) through the auth interface's hook (`Auth.enhanced`): a backend offering
 * one method, a challenge (a nonce) and a response (the nonce reversed), like a SCRAM or signed-nonce exchange
 * (`nonceAuth`, test/protocol5/support.ts). Re-authentication after CONNACK: 08-reauth.test.ts.
 */
const auth = nonceAuth();

const f = useBroker({}, auth);

async function open5(): Promise<RawClient> {
  return f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
}

describe("MQTT 5 enhanced authentication", () => {
  it("[MQTT-4.12.0-2] [MQTT-4.12.0-5] [MQTT-3.15.2-1] a challenge in AUTH 0x18, the client's answer, then CONNACK 0x00 with the method and the server's data", async () => {
    const c = await open5();
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId: "ea-ok", properties: { authenticationMethod: "TEST-NONCE" } });
    const challenge = await c.expect("auth");
    expect(challenge).toMatchObject({ reasonCode: 0x18, properties: { authenticationMethod: "TEST-NONCE", authenticationData: NONCE } });
    c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "TEST-NONCE", authenticationData: NONCE_ANSWER } });
    const connack = await c.expect("connack");
    expect(connack).toMatchObject({ reasonCode: 0, properties: { authenticationMethod: "TEST-NONCE", authenticationData: NONCE_WELCOME } });
    expect(await c.subscribe("ea/#", 0)).toEqual([0]);
  });

  it("[MQTT-4.12.0-4] a wrong answer is refused with CONNACK 0x86", async () => {
    const c = await open5();
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId: "ea-bad", properties: { authenticationMethod: "TEST-NONCE" } });
    await c.expect("auth");
    c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "TEST-NONCE", authenticationData: Buffer.from("nope") } });
    expect((await c.expect("connack")).reasonCode).toBe(0x86);
    await c.waitClosed();
  });

  it("an answer under another method is a Protocol Error: CONNACK 0x82", async () => {
    const c = await open5();
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId: "ea-other", properties: { authenticationMethod: "TEST-NONCE" } });
    await c.expect("auth");
    c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: "OTHER", authenticationData: Buffer.from("x") } });
    expect((await c.expect("connack")).reasonCode).toBe(0x82);
  });

  it("[MQTT-4.12.0-1] a method the backend does not offer: CONNACK 0x8C", async () => {
    const c = await open5();
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId: "ea-unknown", properties: { authenticationMethod: "SCRAM-SHA-256" } });
    expect((await c.expect("connack")).reasonCode).toBe(0x8c);
  });
});

describe("MQTT 5 enhanced authentication, bounded in time", () => {
  const quick = useBroker({ limits: { connectTimeoutMs: 300 } }, auth);

  it("a client that never answers the challenge is closed by the connect timeout, without CONNACK", async () => {
    const slow = quick.track(await RawClient.open(quick.b.mqttPort, "127.0.0.1", undefined, 5));
    slow.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId: "ea-silent", properties: { authenticationMethod: "TEST-NONCE" } });
    await slow.expect("auth");
    await slow.waitClosed(3000);
    expect(slow.buffered.filter((p) => p.cmd === "connack")).toEqual([]);
    expect(quick.b.broker.sessions.has("ea-silent")).toBe(false);
  });
});
