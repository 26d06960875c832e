import type { IPublishPacket, QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

/** SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK and topic filter semantics, end to end (MQTT 3.1.1 3.8-3.11, 4.7). */

const f = useBroker();
let seq = 0;

function publish(c: RawClient, topic: string, payload = topic, qos: QoS = 0, messageId?: number): void {
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) });
}

/**
 * Collects the PUBLISH packets `c` receives before the sentinel topic arrives, acknowledging QoS 1/2.
 * The broker keeps per-session order, so everything published before the sentinel by the same client is in.
 */
async function collectUntil(c: RawClient, sentinel: string): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  for (;;) {
    const p = await c.next();
    if (p.cmd === "pubrel") {
      c.send({ cmd: "pubcomp", messageId: p.messageId });
      continue;
    }
    if (p.cmd !== "publish") throw new Error(`unexpected ${p.cmd}`);
    if (p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId });
    if (p.qos === 2) c.send({ cmd: "pubrec", messageId: p.messageId });
    if (p.topic === sentinel) return got;
    got.push(p);
  }
}

/** Which of `topics` (published by a client) does a subscriber to `filter` receive? */
async function matched(filter: string, topics: string[]): Promise<string[]> {
  const sub = await f.raw();
  const pub = await f.raw();
  const end = `end/${++seq}`;
  expect(await sub.subscribe([[filter, 0], [end, 0]])).toEqual([0, 0]);
  for (const t of topics) publish(pub, t);
  publish(pub, end);
  return (await collectUntil(sub, end)).map((p) => p.topic);
}

async function expectClosedWithoutReply(c: RawClient): Promise<void> {
  await c.waitClosed();
  expect(c.buffered).toEqual([]);
}

function str(s: string): number[] {
  const bytes = [...Buffer.from(s)];
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

describe("SUBSCRIBE and SUBACK", () => {
  it("[MQTT-3.8.4-1] [MQTT-3.8.4-2] answers SUBACK carrying the SUBSCRIBE's packet id", async () => {
    const c = await f.raw();
    expect(await c.subscribe("id/a", 1, 4242)).toEqual([1]);
    expect(await c.subscribe("id/b", 0, 65535)).toEqual([0]);
    expect(await c.subscribe("id/c", 2, 1)).toEqual([2]);
  });

  it("[MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1] returns one return code per filter, in order, granting the requested QoS", async () => {
    const c = await f.raw();
    const codes = await c.subscribe([
      ["order/a", 2],
      ["order/b", 0],
      ["order/#/bad", 1],
      ["order/c", 1],
      ["order/+", 2],
      ["order/d+", 0],
      ["order/e", 0],
    ]);
    expect(codes).toEqual([2, 0, 0x80, 1, 2, 0x80, 0]);
  });

  for (const first of [0x80, 0x81, 0x83, 0x8a]) {
    it(`[MQTT-3.8.1-1] [MQTT-2.2.2-2] closes on SUBSCRIBE with reserved header flags 0x${(first & 0x0f).toString(16)}`, async () => {
      const c = await f.raw();
      const body = [0x00, 0x07, ...str("a/b"), 0x00];
      c.sendBytes([first, body.length, ...body]);
      await expectClosedWithoutReply(c);
    });
  }

  it("[MQTT-3.8.3-3] closes on SUBSCRIBE without any topic filter", async () => {
    const c = await f.raw();
    c.sendBytes([0x82, 0x02, 0x00, 0x07]);
    await expectClosedWithoutReply(c);
  });

  for (const options of [0x03, 0x04, 0x80, 0xfc]) {
    it(`[MQTT-3-8.3-4] closes on SUBSCRIBE whose requested QoS byte is 0x${options.toString(16).padStart(2, "0")}`, async () => {
      const c = await f.raw();
      const body = [0x00, 0x07, ...str("ok/1"), 0x01, ...str("ok/2"), options];
      c.sendBytes([0x82, body.length, ...body]);
      await expectClosedWithoutReply(c);
    });
  }

  it("[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1] answers 0x80 for invalid filters and the connection stays usable", async () => {
    const c = await f.raw();
    const codes = await c.subscribe([
      ["a/#/b", 1],
      ["a+", 1],
      ["", 1],
      ["#/a", 0],
      ["a/b#", 0],
      ["+a/b", 2],
      ["inv/ok", 1],
    ]);
    expect(codes).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1]);
    expect(c.closed).toBe(false);
    // Usable afterwards: a PINGREQ is answered and the valid filter delivers.
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
    const pub = await f.raw();
    publish(pub, "inv/ok", "hello", 1, 9);
    await pub.expect("puback");
    const msg = await c.expect("publish");
    expect([msg.topic, msg.payload.toString(), msg.qos]).toEqual(["inv/ok", "hello", 1]);
  });

  it("[MQTT-3.8.4-3] a second SUBSCRIBE to the same filter replaces it: one copy, at the new QoS", async () => {
    const sub = await f.raw();
    const pub = await f.raw();
    expect(await sub.subscribe([["rep/t", 0]])).toEqual([0]);
    expect(await sub.subscribe([["rep/t", 2]])).toEqual([2]);
    expect(await sub.subscribe([["rep/end", 0]])).toEqual([0]);
    publish(pub, "rep/t", "up", 2, 11);
    await pub.expect("pubrec");
    pub.send({ cmd: "pubrel", messageId: 11 });
    await pub.expect("pubcomp");
    publish(pub, "rep/end");
    const got = await collectUntil(sub, "rep/end");
    expect(got.map((p) => [p.topic, p.payload.toString(), p.qos])).toEqual([["rep/t", "up", 2]]);
    // collectUntil answered PUBREC; finish the QoS 2 exchange.
    expect((await sub.expect("pubrel")).messageId).toBe(got[0]?.messageId);
    sub.send({ cmd: "pubcomp", messageId: got[0]?.messageId });

    // Downgrade: replacing with QoS 0 delivers QoS 0.
    expect(await sub.subscribe([["rep/t", 0]])).toEqual([0]);
    publish(pub, "rep/t", "down", 2, 12);
    await pub.expect("pubrec");
    publish(pub, "rep/end");
    const again = await collectUntil(sub, "rep/end");
    expect(again.map((p) => [p.topic, p.payload.toString(), p.qos])).toEqual([["rep/t", "down", 0]]);
  });
});

describe("UNSUBSCRIBE and UNSUBACK", () => {
  it("[MQTT-3.10.4-4] [MQTT-3.10.4-5] answers UNSUBACK with the same packet id, also when not subscribed", async () => {
    const c = await f.raw();
    c.send({ cmd: "unsubscribe", messageId: 777, unsubscriptions: ["never/subscribed"] });
    expect((await c.expect("unsuback")).messageId).toBe(777);
    await c.subscribe([["uns/a", 1]]);
    c.send({ cmd: "unsubscribe", messageId: 65535, unsubscriptions: ["uns/a", "uns/unknown"] });
    expect((await c.expect("unsuback")).messageId).toBe(65535);
  });

  it("[MQTT-3.10.4-1] [MQTT-3.10.4-2] stops delivery for an unsubscribed filter; other filters keep delivering", async () => {
    const sub = await f.raw();
    const pub = await f.raw();
    await sub.subscribe([["us/a", 1], ["us/b", 0], ["us/end", 0]]);
    publish(pub, "us/a");
    publish(pub, "us/b");
    publish(pub, "us/end");
    expect((await collectUntil(sub, "us/end")).map((p) => p.topic)).toEqual(["us/a", "us/b"]);
    await sub.unsubscribe("us/a", 5);
    publish(pub, "us/a");
    publish(pub, "us/b");
    publish(pub, "us/end");
    expect((await collectUntil(sub, "us/end")).map((p) => p.topic)).toEqual(["us/b"]);
  });

  it("[MQTT-3.10.4-1] only removes a subscription whose filter is character-for-character identical", async () => {
    const sub = await f.raw();
    const pub = await f.raw();
    await sub.subscribe([["ux/#", 0], ["ux/end", 0]]);
    await sub.unsubscribe(["ux/+", "UX/#", "ux/a"], 6);
    publish(pub, "ux/a");
    publish(pub, "ux/end");
    expect((await collectUntil(sub, "ux/end")).map((p) => p.topic)).toEqual(["ux/a"]);
  });

  for (const first of [0xa0, 0xa3, 0xab]) {
    it(`[MQTT-3.10.1-1] [MQTT-2.2.2-2] closes on UNSUBSCRIBE with reserved header flags 0x${(first & 0x0f).toString(16)}`, async () => {
      const c = await f.raw();
      const body = [0x00, 0x03, ...str("a/b")];
      c.sendBytes([first, body.length, ...body]);
      await expectClosedWithoutReply(c);
    });
  }

  it("[MQTT-3.10.3-2] closes on UNSUBSCRIBE without any topic filter", async () => {
    const c = await f.raw();
    c.sendBytes([0xa2, 0x02, 0x00, 0x03]);
    await expectClosedWithoutReply(c);
  });
});

describe("limits.maxSubscriptionsPerSession", () => {
  const lb = useBroker({ limits: { maxSubscriptionsPerSession: 2 } });

  it("refuses a third distinct filter with 0x80 but still replaces existing ones", async () => {
    const c = await lb.raw();
    expect(await c.subscribe([["lim/a", 0], ["lim/b", 0]])).toEqual([0, 0]);
    expect(await c.subscribe([["lim/c", 1]])).toEqual([0x80]);
    // Re-subscribing an existing filter is a replacement, not a new subscription.
    expect(await c.subscribe([["lim/a", 2], ["lim/c", 0], ["lim/b", 1]])).toEqual([2, 0x80, 1]);
    // The refused filter does not deliver, the replaced one delivers at its new QoS.
    const pub = await lb.raw();
    publish(pub, "lim/c", "c", 1, 1);
    await pub.expect("puback");
    publish(pub, "lim/a", "a", 2, 2);
    await pub.expect("pubrec");
    const msg = await c.expect("publish");
    expect([msg.topic, msg.qos]).toEqual(["lim/a", 2]);
    // Unsubscribing frees a slot.
    await c.unsubscribe("lim/b", 3);
    expect(await c.subscribe([["lim/c", 1], ["lim/d", 1]])).toEqual([1, 0x80]);
  });
});

describe("topic filter semantics end to end", () => {
  it("[MQTT-4.7.1-3] '+' matches exactly one level, including an empty one", async () => {
    const topics = ["w1/a/t", "w1/b/t", "w1//t", "w1/a/b/t", "w1/t", "w1/a/t/x", "W1/a/t"];
    expect(await matched("w1/+/t", topics)).toEqual(["w1/a/t", "w1/b/t", "w1//t"]);
    expect(await matched("w1/+", ["w1/a", "w1/", "w1", "w1/a/b"])).toEqual(["w1/a", "w1/"]);
    expect(await matched("+/+", ["/x", "a/b", "a", "a/b/c"])).toEqual(["/x", "a/b"]);
  });

  it("[MQTT-4.7.1-2] '#' matches the parent level and any number of child levels", async () => {
    expect(await matched("sport/#", ["sport", "sport/tennis", "sport/tennis/player1", "sport/", "sports", "Sport/x"])).toEqual([
      "sport",
      "sport/tennis",
      "sport/tennis/player1",
      "sport/",
    ]);
    expect(await matched("w2/+/#", ["w2", "w2/a", "w2/a/b/c", "x/w2/a"])).toEqual(["w2/a", "w2/a/b/c"]);
  });

  it("[MQTT-4.7.1-2] '#' alone matches every topic not starting with '$', including '/'", async () => {
    const sub = await f.raw();
    const pub = await f.raw();
    await sub.subscribe([["#", 0]]);
    for (const t of ["hash/a", "/", "/hash", "hash"]) publish(pub, t);
    publish(pub, "$hash/x");
    publish(pub, "hash/end");
    const got = await collectUntil(sub, "hash/end");
    expect(got.map((p) => p.topic)).toEqual(["hash/a", "/", "/hash", "hash"]);
  });

  it("(4.7.3) topics are case-sensitive and empty levels are distinct", async () => {
    expect(await matched("Case/Topic", ["Case/Topic", "case/topic", "CASE/TOPIC", "Case/topic"])).toEqual(["Case/Topic"]);
    expect(await matched("/fin", ["/fin", "fin", "fin/", "//fin"])).toEqual(["/fin"]);
    expect(await matched("e//x", ["e//x", "e/x", "e///x"])).toEqual(["e//x"]);
  });

  it("[MQTT-4.7.2-1] wildcard filters at the first level do not match '$' topics; explicit '$' filters do", async () => {
    const hash = await f.raw();
    const plus = await f.raw();
    const dollar = await f.raw();
    const pub = await f.raw();
    await hash.subscribe([["#", 0]]);
    await plus.subscribe([["+/d/x", 0], ["+/d/end", 0]]);
    await dollar.subscribe([["$d/#", 0], ["$SYS/#", 0]]);
    publish(pub, "$d/x");
    // $SYS topics cannot be published by clients: the broker publishes this one itself.
    f.b.broker.publish({ topic: "$SYS/d/x", payload: Buffer.from("sys"), qos: 0, retain: false });
    publish(pub, "$d/end");
    const got = await collectUntil(dollar, "$d/end");
    expect(got.map((p) => p.topic).sort()).toEqual(["$SYS/d/x", "$d/x"]);
    publish(pub, "p/d/end");
    expect(await collectUntil(plus, "p/d/end")).toEqual([]);
    expect((await collectUntil(hash, "p/d/end")).map((p) => p.topic)).toEqual([]);
  });
});
