import { describe, expect, it } from "vitest";
import { MAX_SUB_IDS } from "../../core/subscription-word.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";

/**
 * What MQTT 5 adds to the work one client can cause, and what it gets at each bound (docs/security.md, "MQTT 5"):
 * the topic alias table, the Receive Maximum, Subscription Identifiers per delivery, properties within the
 * maximum packet size, Reason Strings.
 */
const f = useBroker({ limits: { maxPacketSize: 4096, maxSubscriptionsPerSession: 100 } });

async function raw5(clientId: string, properties: Record<string, unknown> = {}): Promise<RawClient> {
  const c = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, 5));
  const connack = await c.connect({ clientId, properties });
  if (connack.reasonCode !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
  return c;
}

describe("MQTT 5 limits", () => {
  it("the topic alias table holds at most 64 topics per connection: alias 65 is refused with DISCONNECT 0x94", async () => {
    const c = await raw5("lim-alias");
    const long = `${"a".repeat(400)}/`;
    for (let alias = 1; alias <= 64; alias++) {
      c.send({ cmd: "publish", topic: `${long}${alias}`, payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { topicAlias: alias } });
    }
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
    c.send({ cmd: "publish", topic: "x", payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { topicAlias: 65 } });
    expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x94 });
  });

  it("more unacknowledged QoS 2 publishes than the Receive Maximum (1,024) closes with DISCONNECT 0x93", async () => {
    const c = await raw5("lim-recv");
    // PUBREC comes back for each; the client never sends PUBREL, so every id stays unacknowledged.
    for (let id = 1; id <= 1024; id++) c.send({ cmd: "publish", topic: "r", payload: Buffer.from("x"), qos: 2, retain: false, dup: false, messageId: id });
    for (let i = 0; i < 1024; i++) await c.expect("pubrec");
    expect(f.b.broker.sessions.get("lim-recv")?.inboundQos2Count).toBe(1024);
    c.send({ cmd: "publish", topic: "r", payload: Buffer.from("x"), qos: 2, retain: false, dup: false, messageId: 1025 });
    expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x93 });
    await c.waitClosed();
  });

  it(`a delivery carries at most ${MAX_SUB_IDS} Subscription Identifiers, however many subscriptions match`, async () => {
    const sub = await raw5("lim-subids");
    // 63 distinct filters match ids/a/b/c/d: each level literal or "+", with or without a trailing "#".
    const levels = ["ids", "a", "b", "c", "d"];
    const filters: string[] = [];
    for (let k = 0; k <= 5; k++) {
      for (let mask = 0; mask < 1 << k; mask++) {
        const parts = levels.slice(0, k).map((l, i) => ((mask >> i) & 1 ? "+" : l));
        if (k < 5) filters.push([...parts, "#"].join("/"));
        else filters.push(parts.join("/"));
      }
    }
    const chosen = filters.slice(0, 40);
    for (let i = 0; i < chosen.length; i++) {
      sub.send({ cmd: "subscribe", messageId: i + 1, subscriptions: [{ topic: chosen[i] as string, qos: 0 }], properties: { subscriptionIdentifier: i + 1 } } as never);
      expect((await sub.expect("suback")).granted).toEqual([0]);
    }
    const pub = await raw5("lim-subids-pub");
    pub.send({ cmd: "publish", topic: "ids/a/b/c/d", payload: Buffer.from("x"), qos: 0, retain: false, dup: false });
    const got = await sub.expect("publish");
    const ids = got.properties?.subscriptionIdentifier;
    expect(Array.isArray(ids) ? ids.length : 1).toBe(MAX_SUB_IDS);
    // One copy of the message, not one per subscription [MQTT-3.3.4-2 of 3.1.1's sense, MQTT 5 3.3.4].
    expect(await sub.silentFor(200)).toBe(true);
  });

  it("user properties count towards the maximum packet size: a PUBLISH beyond it closes with DISCONNECT 0x95", async () => {
    const c = await raw5("lim-props");
    const userProperties: Record<string, string[]> = { k: Array.from({ length: 500 }, (_, i) => `value-${i}`) };
    c.send({ cmd: "publish", topic: "p", payload: Buffer.from("x"), qos: 0, retain: false, dup: false, properties: { userProperties } });
    expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x95 });
  });

  it("a Reason String is cut to 256 characters, and left out when the client's Maximum Packet Size has no room for it", async () => {
    const small = await raw5("lim-reason", { maximumPacketSize: 16 });
    small.send({ cmd: "publish", topic: "bad/#", payload: Buffer.alloc(0), qos: 0, retain: false, dup: false });
    const d = await small.expect("disconnect");
    expect(d.reasonCode).toBe(0x90);
    expect(d.properties?.reasonString).toBeUndefined();
    const big = await raw5("lim-reason-2");
    big.send({ cmd: "publish", topic: `bad/${"x".repeat(600)}/#`, payload: Buffer.alloc(0), qos: 0, retain: false, dup: false });
    const d2 = await big.expect("disconnect");
    expect((d2.properties?.reasonString ?? "").length).toBeLessThanOrEqual(256);
    expect(d2.properties?.reasonString).toMatch(/^invalid topic name/);
  });
});
