import mqtt from "mqtt";
import type { IConnackPacket, IPublishPacket, Packet } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";
import { MemoryStore } from "../../core/store/memory.js";
import { orderKey, orderTag } from "../../core/order-key.js";

/** Opens a raw connection with the given client id and clean flag; returns the client and its CONNACK. */
async function connectRaw(port: number, clientId: string, clean: boolean): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const c = await RawClient.open(port);
  const connack = await c.connect({ clientId, clean });
  expect(connack.returnCode).toBe(0);
  return { c, connack };
}

/** PINGREQ/PINGRESP round trip: every packet sent before it has been processed by the broker. */
async function barrier(c: RawClient): Promise<void> {
  c.send({ cmd: "pingreq" });
  await c.expect("pingresp");
}

/** Polls until `cond` holds; fails after `timeoutMs`. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function disconnect(c: RawClient): Promise<void> {
  c.send({ cmd: "disconnect" });
  await c.waitClosed();
}

function publishPacket(topic: string, payload: string, qos: 0 | 1 | 2, messageId?: number, dup = false): Packet {
  return { cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup, ...(qos > 0 ? { messageId } : {}) } as Packet;
}

/** Acknowledges a received QoS 1/2 PUBLISH completely (PUBACK, or PUBREC/PUBREL/PUBCOMP). */
async function ack(c: RawClient, p: IPublishPacket): Promise<void> {
  if (p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId as number });
  if (p.qos === 2) {
    c.send({ cmd: "pubrec", messageId: p.messageId as number });
    expect((await c.expect("pubrel")).messageId).toBe(p.messageId);
    c.send({ cmd: "pubcomp", messageId: p.messageId as number });
  }
}

describe("persistent and clean sessions", () => {
  const f = useBroker();
  let pub: RawClient;
  let pubId = 1;
  /** Publishes from `pub` and waits until the broker has routed it. */
  async function publish(topic: string, payload: string, qos: 0 | 1 | 2 = 1): Promise<void> {
    const id = pubId++;
    pub.send(publishPacket(topic, payload, qos, id));
    if (qos === 1) expect((await pub.expect("puback")).messageId).toBe(id);
    else if (qos === 2) {
      expect((await pub.expect("pubrec")).messageId).toBe(id);
      pub.send({ cmd: "pubrel", messageId: id });
      expect((await pub.expect("pubcomp")).messageId).toBe(id);
    } else await barrier(pub);
  }

  beforeAll(async () => {
    pub = await RawClient.connected(f.b.mqttPort, { clientId: "session-publisher" });
  });
  afterAll(() => {
    pub.destroy();
  });

  it("[MQTT-3.1.2-4] subscriptions of a clean=0 session survive a disconnect", async () => {
    const first = await connectRaw(f.b.mqttPort, "persist-subs", false);
    expect(first.connack.sessionPresent).toBe(false);
    expect(await first.c.subscribe("persist/subs/#", 1)).toEqual([1]);
    await disconnect(first.c);
    expect(f.b.broker.sessions.get("persist-subs")?.subscriptions.get("persist/subs/#")).toBe(1);

    const { c, connack } = await connectRaw(f.b.mqttPort, "persist-subs", false);
    expect(connack.sessionPresent).toBe(true);
    await publish("persist/subs/a", "hello", 1);
    const p = await c.expect("publish");
    expect(p.topic).toBe("persist/subs/a");
    expect(p.payload.toString()).toBe("hello");
    expect(p.qos).toBe(1);
    await ack(c, p);
    await disconnect(c);
  });

  it("[MQTT-3.1.2-5] [MQTT-3.2.2-2] QoS 1 and 2 messages published while offline are delivered in order on reconnect, session present 1", async () => {
    const first = await connectRaw(f.b.mqttPort, "persist-offline", false);
    expect(await first.c.subscribe("persist/offline/#", 2)).toEqual([2]);
    await disconnect(first.c);
    const sent: { payload: string; qos: 1 | 2 }[] = [];
    for (let i = 0; i < 8; i++) {
      const qos = i % 2 === 0 ? 1 : 2;
      sent.push({ payload: `m${i}`, qos });
      await publish("persist/offline/t", `m${i}`, qos);
    }
    const { c, connack } = await connectRaw(f.b.mqttPort, "persist-offline", false);
    expect(connack.sessionPresent).toBe(true);
    // All fit in the in-flight window: read the PUBLISHes first, then complete each flow.
    const received: IPublishPacket[] = [];
    for (let i = 0; i < sent.length; i++) received.push(await c.expect("publish"));
    expect(received.map((p) => ({ payload: p.payload.toString(), qos: p.qos }))).toEqual(sent);
    expect(received.every((p) => !p.dup && !p.retain)).toBe(true);
    for (const p of received) await ack(c, p);
    expect(await c.silentFor(150)).toBe(true);
    await disconnect(c);
  });

  it("[MQTT-3.1.2-5] QoS 0 messages published while the client is offline are not delivered", async () => {
    const first = await connectRaw(f.b.mqttPort, "persist-qos0", false);
    expect(await first.c.subscribe("persist/qos0/#", 1)).toEqual([1]);
    await disconnect(first.c);
    await publish("persist/qos0/t", "offline-q0", 0);
    await publish("persist/qos0/t", "offline-q1", 1);
    await publish("persist/qos0/t", "offline-q0-again", 0);
    const { c, connack } = await connectRaw(f.b.mqttPort, "persist-qos0", false);
    expect(connack.sessionPresent).toBe(true);
    const p = await c.expect("publish");
    expect(p.payload.toString()).toBe("offline-q1");
    await ack(c, p);
    expect(await c.silentFor(150)).toBe(true);
    // Control: QoS 0 is delivered while the client is online.
    await publish("persist/qos0/t", "online-q0", 0);
    const live = await c.expect("publish");
    expect(live.payload.toString()).toBe("online-q0");
    expect(live.qos).toBe(0);
    await disconnect(c);
  });

  it("[MQTT-3.1.2-6] [MQTT-3.2.2-1] reconnecting with clean=1 discards the session: no subscriptions, no queued messages", async () => {
    const first = await connectRaw(f.b.mqttPort, "discard-me", false);
    expect(await first.c.subscribe("discard/#", 1)).toEqual([1]);
    await disconnect(first.c);
    await publish("discard/t", "queued-1", 1);
    await publish("discard/t", "queued-2", 2);
    expect((await f.b.broker.store.getSession("discard-me"))?.outgoing.length).toBe(2);

    const { c, connack } = await connectRaw(f.b.mqttPort, "discard-me", true);
    expect(connack.sessionPresent).toBe(false);
    expect(f.b.broker.sessions.get("discard-me")?.subscriptions.size).toBe(0);
    await publish("discard/t", "after-clean", 1);
    expect(await c.silentFor(200)).toBe(true);
    await disconnect(c);
  });

  it("[MQTT-3.1.2-6] [MQTT-3.2.2-3] the state of a clean=1 session is discarded when it disconnects", async () => {
    const before = f.b.broker.subscriptionCount;
    const first = await connectRaw(f.b.mqttPort, "clean-gone", true);
    expect(await first.c.subscribe("clean/gone/#", 1)).toEqual([1]);
    expect(f.b.broker.sessions.has("clean-gone")).toBe(true);
    expect(f.b.broker.subscriptionCount).toBe(before + 1);
    await disconnect(first.c);
    expect(f.b.broker.sessions.has("clean-gone")).toBe(false);
    expect(f.b.broker.subscriptionCount).toBe(before);

    // Also when the socket just drops.
    const second = await connectRaw(f.b.mqttPort, "clean-gone", true);
    expect(await second.c.subscribe("clean/gone/#", 1)).toEqual([1]);
    second.c.destroy();
    await waitFor(() => !f.b.broker.sessions.has("clean-gone"), "the clean session to be dropped");
    expect(f.b.broker.subscriptionCount).toBe(before);

    const { c, connack } = await connectRaw(f.b.mqttPort, "clean-gone", false);
    expect(connack.sessionPresent).toBe(false);
    await publish("clean/gone/t", "nobody", 1);
    expect(await c.silentFor(150)).toBe(true);
    // Remove the persistent session this test created.
    await disconnect(c);
    await disconnect((await connectRaw(f.b.mqttPort, "clean-gone", true)).c);
  });

  it("[MQTT-4.4.0-1] an unacknowledged QoS 1 PUBLISH is re-sent on reconnect with DUP=1 and the same packet id, before newer messages", async () => {
    const first = await connectRaw(f.b.mqttPort, "resend-q1", false);
    expect(await first.c.subscribe("resend/q1/#", 1)).toEqual([1]);
    await publish("resend/q1/t", "first", 1);
    const original = await first.c.expect("publish");
    expect(original.dup).toBe(false);
    expect(original.payload.toString()).toBe("first");
    // No PUBACK: the socket just goes away.
    first.c.destroy();
    await waitFor(() => f.b.broker.sessions.get("resend-q1")?.link === null, "the broker to see the disconnect");
    await publish("resend/q1/t", "second", 1);

    const { c, connack } = await connectRaw(f.b.mqttPort, "resend-q1", false);
    expect(connack.sessionPresent).toBe(true);
    const again = await c.expect("publish");
    expect(again.payload.toString()).toBe("first");
    expect(again.messageId).toBe(original.messageId);
    expect(again.dup).toBe(true);
    expect(again.qos).toBe(1);
    const newer = await c.expect("publish");
    expect(newer.payload.toString()).toBe("second");
    expect(newer.dup).toBe(false);
    expect(newer.messageId).not.toBe(original.messageId);
    await ack(c, again);
    await ack(c, newer);
    expect(await c.silentFor(150)).toBe(true);
    await disconnect(c);
    expect(f.b.broker.sessions.get("resend-q1")?.inflight.size).toBe(0);
  });

  it("[MQTT-4.4.0-1] an outgoing QoS 2 message with PUBREC but no PUBCOMP gets PUBREL (not PUBLISH) re-sent on reconnect", async () => {
    const first = await connectRaw(f.b.mqttPort, "resend-q2", false);
    expect(await first.c.subscribe("resend/q2/#", 2)).toEqual([2]);
    await publish("resend/q2/t", "exactly-once", 2);
    const p = await first.c.expect("publish");
    expect(p.qos).toBe(2);
    first.c.send({ cmd: "pubrec", messageId: p.messageId as number });
    expect((await first.c.expect("pubrel")).messageId).toBe(p.messageId);
    first.c.destroy();
    await waitFor(() => f.b.broker.sessions.get("resend-q2")?.link === null, "the broker to see the disconnect");

    const { c, connack } = await connectRaw(f.b.mqttPort, "resend-q2", false);
    expect(connack.sessionPresent).toBe(true);
    const rel = await c.next();
    expect(rel.cmd).toBe("pubrel");
    expect((rel as Extract<Packet, { cmd: "pubrel" }>).messageId).toBe(p.messageId);
    expect(await c.silentFor(150)).toBe(true);
    c.send({ cmd: "pubcomp", messageId: p.messageId as number });
    await barrier(c);
    expect(f.b.broker.sessions.get("resend-q2")?.inflight.size).toBe(0);
    // The session goes on normally.
    await publish("resend/q2/t", "next", 2);
    const next = await c.expect("publish");
    expect(next.payload.toString()).toBe("next");
    expect(next.dup).toBe(false);
    await ack(c, next);
    await disconnect(c);
  });

  it("[MQTT-4.3.3-2] [MQTT-4.4.0-1] an inbound QoS 2 PUBLISH re-sent with DUP=1 after a reconnect is delivered only once", async () => {
    const sub = await RawClient.connected(f.b.mqttPort, { clientId: "inbound-q2-sub" });
    expect(await sub.subscribe("inbound/q2/#", 2)).toEqual([2]);
    const first = await connectRaw(f.b.mqttPort, "inbound-q2-pub", false);
    first.c.send(publishPacket("inbound/q2/t", "once", 2, 77));
    expect((await first.c.expect("pubrec")).messageId).toBe(77);
    const delivered = await sub.expect("publish");
    expect(delivered.payload.toString()).toBe("once");
    await ack(sub, delivered);
    // Gone before PUBREL.
    first.c.destroy();
    await waitFor(() => f.b.broker.sessions.get("inbound-q2-pub")?.link === null, "the broker to see the disconnect");

    const { c, connack } = await connectRaw(f.b.mqttPort, "inbound-q2-pub", false);
    expect(connack.sessionPresent).toBe(true);
    c.send(publishPacket("inbound/q2/t", "once", 2, 77, true));
    expect((await c.expect("pubrec")).messageId).toBe(77);
    c.send({ cmd: "pubrel", messageId: 77 });
    expect((await c.expect("pubcomp")).messageId).toBe(77);
    expect(await sub.silentFor(200)).toBe(true);
    // The id is released: a new PUBLISH with it is a new message.
    c.send(publishPacket("inbound/q2/t", "new", 2, 77));
    expect((await c.expect("pubrec")).messageId).toBe(77);
    c.send({ cmd: "pubrel", messageId: 77 });
    expect((await c.expect("pubcomp")).messageId).toBe(77);
    const fresh = await sub.expect("publish");
    expect(fresh.payload.toString()).toBe("new");
    await ack(sub, fresh);
    await disconnect(c);
    await disconnect(sub);
  });
});

describe("offline queue bound (limits.maxQueued)", () => {
  for (const [policy, expected] of [
    ["oldest", ["3", "4", "5"]],
    ["newest", ["1", "2", "3"]],
  ] as const) {
    it(`maxQueued=3, queueDropPolicy "${policy}": 5 offline QoS 1 messages → ${expected.join(",")} delivered, 2 dropped as queue-full`, async () => {
      const b = await startTestBroker({ limits: { maxQueued: 3, queueDropPolicy: policy } });
      try {
        const first = await connectRaw(b.mqttPort, "bounded", false);
        expect(await first.c.subscribe("bounded/#", 1)).toEqual([1]);
        await disconnect(first.c);
        const pub = await RawClient.connected(b.mqttPort, { clientId: "bounded-pub" });
        for (let i = 1; i <= 5; i++) {
          pub.send(publishPacket("bounded/t", String(i), 1, i));
          expect((await pub.expect("puback")).messageId).toBe(i);
        }
        expect(b.broker.stats.dropped["queue-full"]).toBe(2);
        const { c, connack } = await connectRaw(b.mqttPort, "bounded", false);
        expect(connack.sessionPresent).toBe(true);
        const got: string[] = [];
        for (let i = 0; i < 3; i++) {
          const p = await c.expect("publish");
          got.push(p.payload.toString());
          await ack(c, p);
        }
        expect(got).toEqual(expected);
        expect(await c.silentFor(150)).toBe(true);
        c.destroy();
        pub.destroy();
      } finally {
        await b.close();
      }
    });
  }
});

describe("in-flight window and takeover (maxInflight=2)", () => {
  const f = useBroker({ limits: { maxInflight: 2 } });

  it("[MQTT-4.6.0-6] 20 messages queued while offline arrive in order through a window of 2 (mqtt client, clean=false)", async () => {
    const url = `mqtt://127.0.0.1:${f.b.mqttPort}`;
    const opts = { clientId: "window-client", clean: false, reconnectPeriod: 0 };
    const first = await mqtt.connectAsync(url, opts);
    await first.subscribeAsync("window/#", { qos: 1 });
    await first.endAsync();
    const pub = await mqtt.connectAsync(url, { clientId: "window-pub", reconnectPeriod: 0 });
    for (let i = 0; i < 20; i++) await pub.publishAsync("window/t", String(i), { qos: 1 });
    expect((await f.b.broker.store.getSession("window-client"))?.outgoing.length).toBe(20);

    // Listen before CONNACK arrives: queued messages follow it at once.
    const again = mqtt.connect(url, opts);
    const got: string[] = [];
    let maxInflight = 0;
    const done = new Promise<void>((resolve, reject) => {
      again.on("error", reject);
      again.on("message", (_topic, payload) => {
        got.push(payload.toString());
        maxInflight = Math.max(maxInflight, f.b.broker.sessions.get("window-client")?.inflight.size ?? 0);
        if (got.length === 20) resolve();
      });
    });
    const connack = await new Promise<IConnackPacket>((resolve) => again.once("connect", resolve));
    expect(connack.sessionPresent).toBe(true);
    await done;
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(maxInflight).toBeLessThanOrEqual(2);
    await again.endAsync();
    await pub.endAsync();
  });

  it("[MQTT-3.1.4-2] [MQTT-3.2.2-2] takeover of a persistent session: the first connection is closed, the second gets session present 1 and everything pending", async () => {
    const first = await connectRaw(f.b.mqttPort, "takeover", false);
    expect(await first.c.subscribe("takeover/#", 1)).toEqual([1]);
    const pub = await RawClient.connected(f.b.mqttPort, { clientId: "takeover-pub" });
    for (let i = 1; i <= 4; i++) {
      pub.send(publishPacket("takeover/t", String(i), 1, i));
      expect((await pub.expect("puback")).messageId).toBe(i);
    }
    // Window of 2: messages 1 and 2 are in flight (not acknowledged), 3 and 4 queued.
    const p1 = await first.c.expect("publish");
    const p2 = await first.c.expect("publish");
    expect([p1.payload.toString(), p2.payload.toString()]).toEqual(["1", "2"]);
    expect((await f.b.broker.store.getSession("takeover"))?.outgoing.filter((o) => o.packetId === 0).length).toBe(2);

    const { c, connack } = await connectRaw(f.b.mqttPort, "takeover", false);
    expect(connack.sessionPresent).toBe(true);
    await first.c.waitClosed();
    const got: { payload: string; dup: boolean; id: number | undefined }[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await c.expect("publish");
      got.push({ payload: p.payload.toString(), dup: p.dup, id: p.messageId });
      await ack(c, p);
    }
    expect(got.map((g) => g.payload)).toEqual(["1", "2", "3", "4"]);
    expect(got.map((g) => g.dup)).toEqual([true, true, false, false]);
    expect(got[0]?.id).toBe(p1.messageId);
    expect(got[1]?.id).toBe(p2.messageId);
    expect(await c.silentFor(150)).toBe(true);
    await disconnect(c);
    pub.destroy();
  });
});

describe("order keys of stored messages (decision 038)", () => {
  const store = new MemoryStore();
  const f = useBroker({}, undefined, store);

  it("a QoS 1/2 message stored for an offline persistent session carries <publisher>.<epoch>.<n>, taken when it was received", async () => {
    const sub = await f.raw({ clientId: "ok-sub", clean: false });
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "ok/#", qos: 2 }] });
    await sub.expect("suback");
    await disconnect(sub);
    // Persistent publisher: its claims have epochs, and its second connection a higher one.
    const pub = await f.raw({ clientId: "ok-pub", clean: false });
    pub.send(publishPacket("ok/a", "1", 1, 1));
    await pub.expect("puback");
    pub.send(publishPacket("ok/a", "2", 2, 2));
    await pub.expect("pubrec");
    pub.send({ cmd: "pubrel", messageId: 2 });
    await pub.expect("pubcomp");
    const epoch1 = f.b.broker.sessions.get("ok-pub")?.epoch as number;
    await disconnect(pub);
    const again = await f.raw({ clientId: "ok-pub", clean: false });
    const epoch2 = f.b.broker.sessions.get("ok-pub")?.epoch as number;
    expect(epoch2).toBeGreaterThan(epoch1);
    again.send(publishPacket("ok/a", "3", 1, 3));
    await again.expect("puback");
    const stored = (await store.getSession("ok-sub"))?.outgoing ?? [];
    const tag = orderTag("ok-pub");
    expect(stored.map((o) => [o.msg.payload.toString(), o.msg.order])).toEqual([
      ["1", orderKey(tag, epoch1, 1)],
      ["2", orderKey(tag, epoch1, 2)],
      ["3", orderKey(tag, epoch2, 3)],
    ]);
    await disconnect(again);
  });
});
