import type { IConnackPacket, IPublishPacket, Packet, QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { topicMatches } from "../../core/topic/index.js";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

// Conformance statements not covered elsewhere: delivery, retained messages, topic names and filters, UNSUBSCRIBE,
// session state and authorization of PUBLISH.

const allowAll = createAllowAll();
/** Allow-all, except that publishing to deny/... is not authorized. */
const testAuth: Auth = {
  name: "test",
  async connect(client, password) {
    const decision = await allowAll.connect(client, password);
    if (!decision.ok) return decision;
    const inner = decision.policy;
    return { ok: true, policy: { canPublish: (topic) => !topic.startsWith("deny/") && inner.canPublish(topic), canSubscribe: inner.canSubscribe } };
  },
};

const f = useBroker({}, testAuth);

async function connect(clientId: string, clean = true): Promise<[RawClient, IConnackPacket]> {
  const [c, connack] = await f.connect({ clientId, clean });
  expect(connack.returnCode).toBe(0);
  return [c, connack];
}

async function client(clientId: string, clean = true): Promise<RawClient> {
  return (await connect(clientId, clean))[0];
}

/** Publishes and completes the publisher's side of the flow. */
async function publish(c: RawClient, topic: string, payload: string, qos: QoS = 0, retain = false, messageId = 1, dup = false): Promise<void> {
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, messageId: qos > 0 ? messageId : undefined, retain, dup } as Packet);
  if (qos === 1) expect(await c.expect("puback")).toMatchObject({ messageId });
  if (qos === 2) {
    expect(await c.expect("pubrec")).toMatchObject({ messageId });
    c.send({ cmd: "pubrel", messageId });
    expect(await c.expect("pubcomp")).toMatchObject({ messageId });
  }
}

const summary = (p: IPublishPacket): [string, string, number, boolean, boolean] => [p.topic, p.payload.toString(), p.qos, p.retain, p.dup];

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Drops the connection without DISCONNECT and waits until the broker has detached the session. */
async function dropConnection(c: RawClient, clientId: string): Promise<void> {
  c.destroy();
  await waitFor(() => f.b.broker.sessions.get(clientId)?.link === null, `${clientId} to be offline`);
}

describe("PUBLISH flags and retained messages", () => {
  it("[MQTT-3.3.4-1] the server answers a PUBLISH as its QoS requires: nothing for QoS 0, PUBACK for 1, PUBREC for 2", async () => {
    const c = await client("answer");
    c.send({ cmd: "publish", topic: "answer/t", payload: Buffer.from("0"), qos: 0, retain: false, dup: false });
    expect(await c.silentFor(150)).toBe(true);
    c.send({ cmd: "publish", topic: "answer/t", payload: Buffer.from("1"), qos: 1, messageId: 10, retain: false, dup: false });
    c.send({ cmd: "publish", topic: "answer/t", payload: Buffer.from("0"), qos: 0, retain: false, dup: false });
    c.send({ cmd: "publish", topic: "answer/t", payload: Buffer.from("2"), qos: 2, messageId: 11, retain: false, dup: false });
    expect([await c.next(), await c.next()].map((p) => [p.cmd, p.messageId])).toEqual([
      ["puback", 10],
      ["pubrec", 11],
    ]);
    expect(await c.silentFor(150)).toBe(true);
  });

  it("[MQTT-3.3.5-2] a QoS 2 PUBLISH the server does not authorize is acknowledged as usual and not delivered; the connection stays open", async () => {
    const sub = await client("deny-sub");
    expect(await sub.subscribe("deny/#", 2)).toEqual([2]);
    const c = await client("deny-pub");
    const denied = f.b.broker.stats.publishDenied;
    await publish(c, "deny/t", "no", 2, false, 21);
    await publish(c, "deny/t", "no", 1, false, 22);
    expect(f.b.broker.stats.publishDenied).toBe(denied + 2);
    expect(await sub.silentFor(150)).toBe(true);
    expect(c.closed).toBe(false);
  });

  it("[MQTT-3.3.1-3] [MQTT-3.3.1-1] [MQTT-2.3.1-4] the DUP flag a subscriber sees is the server's own: 0 on first delivery even if the publisher set it, 1 on re-delivery", async () => {
    const [sub] = await connect("dup-sub", false);
    expect(await sub.subscribe("dup3/#", 2)).toEqual([2]);
    const pub = await client("dup-pub");
    await publish(pub, "dup3/q1", "a", 1, false, 5, true);
    await publish(pub, "dup3/q2", "b", 2, false, 6, true);
    const first = [await sub.expect("publish"), await sub.expect("publish")];
    expect(first.map(summary)).toEqual([
      ["dup3/q1", "a", 1, false, false],
      ["dup3/q2", "b", 2, false, false],
    ]);
    // Not acknowledged: re-sent on reconnect, now with DUP 1 and the same packet ids.
    await dropConnection(sub, "dup-sub");
    const [again] = await connect("dup-sub", false);
    const resent = [await again.expect("publish"), await again.expect("publish")];
    expect(resent.map(summary)).toEqual([
      ["dup3/q1", "a", 1, false, true],
      ["dup3/q2", "b", 2, false, true],
    ]);
    expect(resent.map((p) => p.messageId)).toEqual(first.map((p) => p.messageId));
    // A retained message stored from a PUBLISH with DUP 1 reaches a later subscriber with DUP 0.
    await publish(pub, "dup3/retained", "r", 1, true, 7, true);
    const late = await client("dup-late");
    expect(await late.subscribe("dup3/retained", 1)).toEqual([1]);
    expect(summary(await late.expect("publish"))).toEqual(["dup3/retained", "r", 1, true, false]);
    await publish(pub, "dup3/retained", "", 0, true);
  });

  it("[MQTT-3.3.1-7] a retained QoS 0 PUBLISH replaces the message retained for its topic", async () => {
    const pub = await client("r0-pub");
    await publish(pub, "r0/t", "old-q2", 2, true, 1);
    await publish(pub, "r0/t", "new-q0", 0, true);
    const sub = await client("r0-sub");
    expect(await sub.subscribe("r0/t", 2)).toEqual([2]);
    expect(summary(await sub.expect("publish"))).toEqual(["r0/t", "new-q0", 0, true, false]);
    expect(await sub.silentFor(150)).toBe(true);
    expect((await f.b.broker.store.getRetained("r0/t"))?.payload.toString()).toBe("new-q0");
    await publish(pub, "r0/t", "", 0, true);
  });

  it("[MQTT-3.1.2.7] retained messages are not session state: they outlive the publisher's session, clean or persistent", async () => {
    const clean = await client("r7-clean");
    await publish(clean, "r7/clean", "from clean", 1, true);
    clean.send({ cmd: "disconnect" });
    await clean.waitClosed();
    const persistent = await client("r7-persistent", false);
    await publish(persistent, "r7/persistent", "from persistent", 1, true);
    persistent.send({ cmd: "disconnect" });
    await persistent.waitClosed();
    // Reconnecting with clean session 1 discards the persistent session; then that ends too.
    const discard = await client("r7-persistent", true);
    discard.send({ cmd: "disconnect" });
    await discard.waitClosed();
    await waitFor(() => !f.b.broker.sessions.has("r7-clean") && !f.b.broker.sessions.has("r7-persistent"), "both sessions to end");

    const sub = await client("r7-sub");
    expect(await sub.subscribe("r7/#", 1)).toEqual([1]);
    const got = [await sub.expect("publish"), await sub.expect("publish")].map(summary).sort();
    expect(got).toEqual([
      ["r7/clean", "from clean", 1, true, false],
      ["r7/persistent", "from persistent", 1, true, false],
    ]);
    await publish(sub, "r7/clean", "", 0, true);
    await publish(sub, "r7/persistent", "", 0, true);
  });
});

describe("topic names and filters", () => {
  it("[MQTT-3.3.2-1] the topic name is the first field of the PUBLISH variable header: a length-prefixed UTF-8 string", async () => {
    const topic = "capteur/température/日本/😀";
    const bytes = Buffer.from(topic, "utf8");
    expect(bytes.length).not.toBe(topic.length);
    const sub = await client("t21-sub");
    expect(await sub.subscribe(topic, 1)).toEqual([1]);
    const chunks: Buffer[] = [];
    sub.socket.on("data", (d: Buffer) => chunks.push(d));
    // Sent as raw bytes: PUBLISH QoS 1, topic length in bytes, topic, packet id 0x0102, payload.
    const pub = await client("t21-pub");
    const body = Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes, Buffer.from([1, 2]), Buffer.from("p")]);
    pub.sendBytes(Buffer.concat([Buffer.from([0x32, body.length]), body]));
    expect(await pub.expect("puback")).toMatchObject({ messageId: 0x0102 });
    const got = await sub.expect("publish");
    expect(got.topic).toBe(topic);
    const wire = Buffer.concat(chunks);
    expect(wire[0]).toBe(0x32);
    expect(wire.subarray(2, 4)).toEqual(Buffer.from([bytes.length >> 8, bytes.length & 0xff]));
    expect(wire.subarray(4, 4 + bytes.length)).toEqual(bytes);
    expect(wire.subarray(4 + bytes.length + 2).toString()).toBe("p");
  });

  it("[MQTT-3.3.2-3] a subscriber receives the publisher's topic name, and only topics that match its filters", async () => {
    const filters = ["m3/+/c", "m3/x/#", "m3/lit"];
    const sub = await client("t23-sub");
    expect(await sub.subscribe(filters.map((filter) => [filter, 0]))).toEqual(filters.map(() => 0));
    const pub = await client("t23-pub");
    const topics = ["m3/a/c", "m3/a/d", "m3/x", "m3/x/y/z", "m3/lit", "m3/litx", "m3/a/c/d", "m3//c", "m3/lit/", "m3/b/c"];
    for (const t of topics) await publish(pub, t, t);
    const expected = topics.filter((t) => filters.some((f) => topicMatches(f, t)));
    expect(expected).toEqual(["m3/a/c", "m3/x", "m3/x/y/z", "m3/lit", "m3//c", "m3/b/c"]);
    const got: string[] = [];
    while (got.length < expected.length) {
      const p = await sub.expect("publish");
      expect(p.payload.toString()).toBe(p.topic);
      got.push(p.topic);
    }
    expect(got).toEqual(expected);
    expect(await sub.silentFor(100)).toBe(true);
  });

  it("[MQTT-3.8.3-1] SUBSCRIBE topic filters are UTF-8 strings: a multi-byte filter matches those characters, ill-formed UTF-8 closes", async () => {
    const sub = await client("t83-sub");
    expect(await sub.subscribe("föö/+/日本", 1)).toEqual([1]);
    const pub = await client("t83-pub");
    await publish(pub, "föö/x/日本", "yes");
    await publish(pub, "foo/x/日本", "no");
    expect(summary(await sub.expect("publish"))).toEqual(["föö/x/日本", "yes", 0, false, false]);
    expect(await sub.silentFor(100)).toBe(true);
    // SUBSCRIBE id 2, filter 0x61 0xC3 0x28 (0xC3 must be followed by a continuation byte), QoS 0.
    sub.sendBytes([0x82, 8, 0, 2, 0, 3, 0x61, 0xc3, 0x28, 0]);
    await sub.waitClosed();
    expect(sub.buffered).toEqual([]);
  });

  it("[MQTT-4.7.1-1] wildcards may appear in topic filters but never in topic names", async () => {
    const sub = await client("t471-sub");
    const filters = ["+", "#", "w/+", "w/#", "w/+/b"];
    expect(await sub.subscribe(filters.map((filter) => [filter, 0]))).toEqual(filters.map(() => 0));
    for (const [i, name] of ["+", "#", "w/+", "w/#", "w/+/b", "w+b", "w/a#"].entries()) {
      const c = await client(`t471-${i}`);
      c.send({ cmd: "publish", topic: name, payload: Buffer.from("x"), qos: 0, retain: false, dup: false });
      await c.waitClosed();
      expect(c.buffered).toEqual([]);
    }
    expect(await sub.silentFor(100)).toBe(true);
  });

  it("[MQTT-4.7.3-2] a topic name or filter containing U+0000 closes the connection: PUBLISH, SUBSCRIBE, UNSUBSCRIBE", async () => {
    const nul = [0, 3, 0x61, 0x00, 0x62]; // "a\0b"
    for (const bytes of [
      [0x30, 6, ...nul, 0x78], // PUBLISH QoS 0, payload "x"
      [0x82, 8, 0, 1, ...nul, 0], // SUBSCRIBE id 1, QoS 0
      [0xa2, 7, 0, 1, ...nul], // UNSUBSCRIBE id 1
    ]) {
      const c = await client("t473");
      c.sendBytes(bytes);
      await c.waitClosed();
      expect(c.buffered).toEqual([]);
    }
  });

  it("[MQTT-4.7.3-4] matching compares topics exactly as received: no Unicode normalisation, case folding or character replacement", async () => {
    const sub = await client("t474-sub");
    const filters = ["n/caf\u00e9", "n/Ab", "n/\ufffd", "n/\ufb01", "n/\u0378"];
    expect(await sub.subscribe(filters.map((filter) => [filter, 0]))).toEqual(filters.map(() => 0));
    const pub = await client("t474-pub");
    const attempts = ["n/cafe\u0301", "n/ab", "n/AB", "n/fi", "n/\u0379", "n/caf\u00e9", "n/Ab", "n/\u0378"];
    for (const t of attempts) await publish(pub, t, t);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push((await sub.expect("publish")).topic);
    expect(got).toEqual(["n/caf\u00e9", "n/Ab", "n/\u0378"]);
    expect(await sub.silentFor(100)).toBe(true);
  });
});

describe("UNSUBSCRIBE", () => {
  it("[MQTT-3.10.3-1] the topic filters of an UNSUBSCRIBE are consecutive UTF-8 strings: each one is read and removed", async () => {
    const sub = await client("u31-sub");
    const filters = ["u31/é", "u31/日本/+", "u31/a", "u31/keep"];
    expect(await sub.subscribe(filters.map((filter) => [filter, 0]))).toEqual(filters.map(() => 0));
    const strings = filters.slice(0, 3).map((f) => {
      const bytes = Buffer.from(f);
      return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
    });
    const body = Buffer.concat([Buffer.from([0x12, 0x34]), ...strings]);
    sub.sendBytes(Buffer.concat([Buffer.from([0xa2, body.length]), body]));
    expect(await sub.expect("unsuback")).toMatchObject({ messageId: 0x1234 });
    expect([...f.b.broker.sessions.get("u31-sub")?.subscriptions.keys() ?? []]).toEqual(["u31/keep"]);
    const pub = await client("u31-pub");
    for (const t of ["u31/é", "u31/日本/x", "u31/a", "u31/keep"]) await publish(pub, t, t);
    expect((await sub.expect("publish")).topic).toBe("u31/keep");
    expect(await sub.silentFor(100)).toBe(true);
    // A half string at the end (one length byte) is malformed.
    sub.sendBytes([0xa2, 6, 0, 2, 0, 1, 0x61, 0]);
    await sub.waitClosed();
    expect(sub.buffered).toEqual([]);
  });

  it("[MQTT-3.10.4-6] an UNSUBSCRIBE with several filters acts as one UNSUBSCRIBE per filter, answered by a single UNSUBACK", async () => {
    const sub = await client("u46-sub");
    expect(await sub.subscribe(["a", "b", "c", "d"].map((x) => [`u46/${x}`, 0]))).toEqual([0, 0, 0, 0]);
    sub.send({ cmd: "unsubscribe", messageId: 42, unsubscriptions: ["u46/a", "u46/c", "u46/none", "u46/a"] });
    expect(await sub.expect("unsuback")).toMatchObject({ messageId: 42 });
    expect(await sub.silentFor(100)).toBe(true);
    const pub = await client("u46-pub");
    for (const x of ["a", "b", "c", "d"]) await publish(pub, `u46/${x}`, x);
    expect([(await sub.expect("publish")).topic, (await sub.expect("publish")).topic]).toEqual(["u46/b", "u46/d"]);
    expect(await sub.silentFor(100)).toBe(true);
  });

  it("[MQTT-3.10.4-3] QoS 1 and QoS 2 deliveries already started are completed after the UNSUBSCRIBE", async () => {
    const [sub] = await connect("u43-sub", false);
    expect(await sub.subscribe("u43/#", 2)).toEqual([2]);
    const pub = await client("u43-pub");
    await publish(pub, "u43/q1", "one", 1, false, 1);
    await publish(pub, "u43/q2", "two", 2, false, 2);
    const [one, two] = [await sub.expect("publish"), await sub.expect("publish")];
    sub.send({ cmd: "unsubscribe", messageId: 3, unsubscriptions: ["u43/#"] });
    expect(await sub.expect("unsuback")).toMatchObject({ messageId: 3 });
    // The QoS 2 flow goes on: PUBREC is answered with PUBREL.
    sub.send({ cmd: "pubrec", messageId: two.messageId as number });
    expect(await sub.expect("pubrel")).toMatchObject({ messageId: two.messageId });
    sub.send({ cmd: "pubcomp", messageId: two.messageId as number });
    // The QoS 1 message, never acknowledged, is still owed: re-sent on reconnect.
    await dropConnection(sub, "u43-sub");
    const [again] = await connect("u43-sub", false);
    expect(summary(await again.expect("publish"))).toEqual(["u43/q1", "one", 1, false, true]);
    again.send({ cmd: "puback", messageId: one.messageId as number });
    await publish(pub, "u43/q1", "after", 1, false, 4);
    expect(await again.silentFor(150)).toBe(true);
    expect(f.b.broker.sessions.get("u43-sub")?.inflight.size).toBe(0);
  });
});

describe("sessions and ownership", () => {
  it("[MQTT-4.1.0-1] a persistent session keeps its state between connections: subscriptions, unacknowledged and queued messages, inbound QoS 2 ids", async () => {
    const watcher = await client("s41-watch");
    expect(await watcher.subscribe("s41in/#", 0)).toEqual([0]);
    const [c] = await connect("s41", false);
    expect(await c.subscribe("s41/#", 1)).toEqual([1]);
    const pub = await client("s41-pub");
    await publish(pub, "s41/t", "in flight", 1, false, 1);
    const inflight = await c.expect("publish");
    // Inbound QoS 2 from the session's client: PUBREC received, PUBREL not yet sent.
    c.send({ cmd: "publish", topic: "s41in/t", payload: Buffer.from("once"), qos: 2, messageId: 77, retain: false, dup: false });
    expect(await c.expect("pubrec")).toMatchObject({ messageId: 77 });
    expect((await watcher.expect("publish")).payload.toString()).toBe("once");
    await dropConnection(c, "s41");
    await publish(pub, "s41/t", "queued", 1, false, 2);

    const [again, connack] = await connect("s41", false);
    expect(connack.sessionPresent).toBe(true);
    const resent = await again.expect("publish");
    expect([...summary(resent), resent.messageId]).toEqual(["s41/t", "in flight", 1, false, true, inflight.messageId]);
    const queued = await again.expect("publish");
    expect(summary(queued)).toEqual(["s41/t", "queued", 1, false, false]);
    for (const p of [resent, queued]) again.send({ cmd: "puback", messageId: p.messageId as number });
    // The inbound id 77 is still known: the re-sent PUBLISH is not delivered again; PUBREL completes it.
    again.send({ cmd: "publish", topic: "s41in/t", payload: Buffer.from("once"), qos: 2, messageId: 77, retain: false, dup: true });
    expect(await again.expect("pubrec")).toMatchObject({ messageId: 77 });
    again.send({ cmd: "pubrel", messageId: 77 });
    expect(await again.expect("pubcomp")).toMatchObject({ messageId: 77 });
    expect(await watcher.silentFor(150)).toBe(true);
    // The subscription still delivers.
    await publish(pub, "s41/t", "live", 0);
    expect(summary(await again.expect("publish"))).toEqual(["s41/t", "live", 0, false, false]);
  });

  it("[MQTT-4.1.0-2] a session lasts as long as its connection: refused or malformed CONNECTs with the same client id do not end it", async () => {
    const c = await client("s42");
    expect(await c.subscribe("s42/#", 0)).toEqual([0]);
    const session = f.b.broker.sessions.get("s42");
    const MQTT = [0, 4, 0x4d, 0x51, 0x54, 0x54];
    const S42 = [0, 3, 0x73, 0x34, 0x32];
    const attempts = [
      // All with client id "s42": protocol level 6 (refused with 0x01), the reserved flag set (closed), will QoS 3
      // (closed).
      [...MQTT, 6, 0x02, 0, 0, ...S42],
      [...MQTT, 4, 0x03, 0, 0, ...S42],
      [...MQTT, 4, 0x1e, 0, 0, ...S42, 0, 1, 0x77, 0, 1, 0x6d],
    ].map((body) => Buffer.from([0x10, body.length, ...body]));
    for (const bytes of attempts) {
      const other = await f.open();
      other.sendBytes(bytes);
      await other.waitClosed();
    }
    expect(f.b.broker.sessions.get("s42")).toBe(session);
    expect(c.closed).toBe(false);
    const pub = await client("s42-pub");
    await publish(pub, "s42/t", "still here");
    expect(summary(await c.expect("publish"))).toEqual(["s42/t", "still here", 0, false, false]);
  });

  it("[MQTT-4.5.0-1] an accepted message is added to the session of every matching subscriber: online, offline persistent, wildcard", async () => {
    const online = await client("o45-online");
    expect(await online.subscribe("o45/x/t", 1)).toEqual([1]);
    const wildcard = await client("o45-wild");
    expect(await wildcard.subscribe("o45/#", 0)).toEqual([0]);
    const [offline] = await connect("o45-offline", false);
    expect(await offline.subscribe("o45/+/t", 2)).toEqual([2]);
    await dropConnection(offline, "o45-offline");
    const pub = await client("o45-pub");
    await publish(pub, "o45/x/t", "owned", 1, false, 9);
    expect(summary(await online.expect("publish"))).toEqual(["o45/x/t", "owned", 1, false, false]);
    expect(summary(await wildcard.expect("publish"))).toEqual(["o45/x/t", "owned", 0, false, false]);
    const [back] = await connect("o45-offline", false);
    expect(summary(await back.expect("publish"))).toEqual(["o45/x/t", "owned", 1, false, false]);
  });
});
