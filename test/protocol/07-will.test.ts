import { generate, type IConnectPacket, type IPublishPacket, type QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { createAclAuth } from "../../core/auth/index.js";
import { type BrokerFixture, useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

const f = useBroker();

function will(topic: string, payload: string, qos: QoS = 0, retain = false): IConnectPacket["will"] {
  return { topic, payload: Buffer.from(payload), qos, retain };
}

/** A client of `fx`'s broker subscribed to `filter` at `qos`. */
async function watcher(fx: BrokerFixture, filter: string, qos: QoS = 2): Promise<RawClient> {
  const w = await fx.raw();
  expect(await w.subscribe(filter, qos)).toEqual([qos]);
  return w;
}

/** Publishes a marker QoS 1 message from a fresh client and waits for its PUBACK. */
async function publishMarker(topic: string): Promise<void> {
  const p = await f.raw();
  p.send({ cmd: "publish", topic, payload: Buffer.from("marker"), qos: 1, messageId: 1, retain: false, dup: false });
  await p.expect("puback");
}

function text(p: IPublishPacket): string {
  return Buffer.from(p.payload).toString();
}

describe("will message", () => {
  it("[MQTT-3.1.2-8] is published when the connection closes without DISCONNECT (socket destroyed)", async () => {
    const w = await watcher(f, "will/destroy/#", 1);
    const c = await f.raw({ will: will("will/destroy/a", "dead", 1) });
    c.destroy();
    const msg = await w.expect("publish");
    expect(msg).toMatchObject({ topic: "will/destroy/a", qos: 1, retain: false });
    expect(text(msg)).toBe("dead");
  });

  it("[MQTT-3.1.2-8] is published with its QoS 2 to a QoS 2 subscriber", async () => {
    const w = await watcher(f, "will/qos2", 2);
    const c = await f.raw({ will: will("will/qos2", "two", 2) });
    c.destroy();
    const msg = await w.expect("publish");
    expect(msg).toMatchObject({ topic: "will/qos2", qos: 2 });
    w.send({ cmd: "pubrec", messageId: msg.messageId });
    expect(await w.expect("pubrel")).toMatchObject({ messageId: msg.messageId });
  });

  it("is published with an empty payload as a zero-length message", async () => {
    const w = await watcher(f, "will/empty", 0);
    const c = await f.raw({ will: will("will/empty", "") });
    c.destroy();
    const msg = await w.expect("publish");
    expect(msg.topic).toBe("will/empty");
    expect(Buffer.from(msg.payload).length).toBe(0);
  });

  it("[MQTT-3.1.2-17] a will with RETAIN=1 is stored: a later subscriber gets it with RETAIN=1", async () => {
    const c = await f.raw({ will: will("will/retained", "last words", 1, true) });
    c.destroy();
    await c.waitClosed();
    let stored = false;
    for (let i = 0; i < 100 && !stored; i++) {
      stored = (await f.b.broker.store.getRetained("will/retained")) !== null;
      if (!stored) await new Promise((r) => setTimeout(r, 10));
    }
    const late = await watcher(f, "will/retained", 1);
    const msg = await late.expect("publish");
    expect(msg).toMatchObject({ topic: "will/retained", retain: true, qos: 1 });
    expect(text(msg)).toBe("last words");
  });

  it("[MQTT-3.1.2-16] a will with RETAIN=0 is not stored: a later subscriber gets nothing", async () => {
    const w = await watcher(f, "will/notretained", 0);
    const c = await f.raw({ will: will("will/notretained", "once") });
    c.destroy();
    expect(await w.expect("publish")).toMatchObject({ topic: "will/notretained", retain: false });
    const late = await watcher(f, "will/notretained", 0);
    await publishMarker("will/notretained");
    expect(text(await late.expect("publish"))).toBe("marker");
  });

  it("[MQTT-3.1.2-10] [MQTT-3.14.4-3] is not published after DISCONNECT", async () => {
    const w = await watcher(f, "will/clean", 1);
    const c = await f.raw({ will: will("will/clean", "should not appear", 1) });
    c.send({ cmd: "disconnect" });
    await c.waitClosed();
    // If the will had been published it would have been routed before the marker.
    await publishMarker("will/clean");
    expect(text(await w.expect("publish"))).toBe("marker");
    expect(await w.silentFor(100)).toBe(true);
  });

  it("[MQTT-3.1.2-8] is published when the broker closes the connection for a protocol error", async () => {
    const w = await watcher(f, "will/proto", 0);
    const c = await f.raw({ clientId: "proto-err", will: will("will/proto", "violation") });
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "proto-err" });
    await c.waitClosed();
    expect(text(await w.expect("publish"))).toBe("violation");
  });

  it("[MQTT-3.1.2-8] is published when the broker closes the connection on a PUBLISH with an invalid topic", async () => {
    const w = await watcher(f, "will/badtopic", 0);
    const c = await f.raw({ will: will("will/badtopic", "wildcard publish") });
    c.sendBytes(generate({ cmd: "publish", topic: "bad/+", payload: Buffer.from("x"), qos: 0, retain: false, dup: false }));
    await c.waitClosed();
    expect(text(await w.expect("publish"))).toBe("wildcard publish");
  });

  it("[MQTT-3.1.2-8] [MQTT-3.1.2-24] is published when the keepalive expires", async () => {
    const w = await watcher(f, "will/keepalive", 0);
    const c = await f.raw({ keepalive: 1, will: will("will/keepalive", "timed out") });
    await c.waitClosed(4000);
    expect(text(await w.expect("publish"))).toBe("timed out");
  });

  it("[MQTT-3.1.3-10] a will topic with a wildcard closes the connection without CONNACK", async () => {
    for (const topic of ["will/+", "will/#"]) {
      const c = await f.open();
      c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "badwill", will: will(topic, "x") });
      await c.waitClosed();
      expect(c.buffered).toEqual([]);
    }
  });
});

describe("will message and the ACL", () => {
  const acl = useBroker(
    {},
    createAclAuth({
      anonymous: true,
      rules: [{ users: ["$anonymous"], allow: { publish: ["wills/ok/%c", "marker"], subscribe: ["wills/#"] } }],
    }),
  );

  it("a will to a topic the ACL forbids is not published (counted as publishDenied)", async () => {
    const w = await watcher(acl, "wills/#", 1);
    const denied = acl.b.broker.stats.publishDenied;
    const forbidden = await acl.raw({ clientId: "c1", will: will("wills/forbidden", "nope", 1) });
    forbidden.destroy();
    await forbidden.waitClosed();
    for (let i = 0; i < 100 && acl.b.broker.stats.publishDenied === denied; i++) await new Promise((r) => setTimeout(r, 10));
    expect(acl.b.broker.stats.publishDenied).toBe(denied + 1);
    // A permitted will, published afterwards, is the first thing the watcher receives.
    const allowed = await acl.raw({ clientId: "c2", will: will("wills/ok/c2", "yes", 1) });
    allowed.destroy();
    const msg = await w.expect("publish");
    expect(msg.topic).toBe("wills/ok/c2");
    expect(text(msg)).toBe("yes");
  });
});
