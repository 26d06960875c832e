import type { IPublishPacket, QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

/** Retained messages (MQTT 3.1.1 3.3.1.3, 3.8.4) end to end. */

const f = useBroker();
let seq = 0;

/** Publishes and completes the inbound flow, so the broker has processed the message when this resolves. */
async function publish(c: RawClient, topic: string, payload: string, opts: { qos?: QoS; retain?: boolean } = {}): Promise<void> {
  const qos = opts.qos ?? 1;
  const messageId = qos > 0 ? 1 + (++seq % 60000) : undefined;
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: opts.retain ?? true, dup: false, messageId });
  if (qos === 0) {
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
  } else if (qos === 1) {
    expect((await c.expect("puback")).messageId).toBe(messageId);
  } else {
    expect((await c.expect("pubrec")).messageId).toBe(messageId);
    c.send({ cmd: "pubrel", messageId });
    expect((await c.expect("pubcomp")).messageId).toBe(messageId);
  }
}

/**
 * Everything `c` receives (retained messages already on their way included) before the sentinel topic, which it
 * subscribes to and `pub` then publishes; QoS 1/2 deliveries are acknowledged.
 */
async function collect(c: RawClient, pub: RawClient, sentinel: string): Promise<IPublishPacket[]> {
  const messageId = 1 + (++seq % 60000);
  c.send({ cmd: "subscribe", messageId, subscriptions: [{ topic: sentinel, qos: 0 }] });
  const got: IPublishPacket[] = [];
  for (;;) {
    const p = await c.next();
    if (p.cmd === "suback" && p.messageId === messageId) {
      pub.send({ cmd: "publish", topic: sentinel, payload: Buffer.from("end"), qos: 0, retain: false, dup: false });
      continue;
    }
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

function summary(packets: IPublishPacket[]): [string, string, number, boolean][] {
  return packets.map((p) => [p.topic, p.payload.toString(), p.qos, p.retain]);
}

describe("retained messages", () => {
  it("[MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] a retained message is stored and sent to a later subscriber with RETAIN=1", async () => {
    const pub = await f.raw();
    await publish(pub, "ret/a", "v1", { qos: 1 });
    const sub = await f.raw();
    expect(await sub.subscribe("ret/a", 1)).toEqual([1]);
    const msg = await sub.expect("publish");
    expect([msg.topic, msg.payload.toString(), msg.qos, msg.retain, msg.dup]).toEqual(["ret/a", "v1", 1, true, false]);
    sub.send({ cmd: "puback", messageId: msg.messageId });
  });

  it("[MQTT-3.3.1-9] live delivery of a retained PUBLISH to existing subscribers has RETAIN=0", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe("ret/live", 2)).toEqual([2]);
    const pub = await f.raw();
    await publish(pub, "ret/live", "now", { qos: 2 });
    const msg = await sub.expect("publish");
    expect([msg.payload.toString(), msg.qos, msg.retain]).toEqual(["now", 2, false]);
    // It was stored nevertheless.
    const later = await f.raw();
    expect(await later.subscribe("ret/live", 0)).toEqual([0]);
    expect(summary([await later.expect("publish")])).toEqual([["ret/live", "now", 0, true]]);
  });

  it("[MQTT-3.3.1-5] a newer retained message replaces the old one", async () => {
    const pub = await f.raw();
    await publish(pub, "ret/rep", "old");
    await publish(pub, "ret/rep", "new");
    const sub = await f.raw();
    expect(await sub.subscribe("ret/rep", 1)).toEqual([1]);
    expect(summary(await collect(sub, pub, "ret/rep-end"))).toEqual([["ret/rep", "new", 1, true]]);
  });

  it("[MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty retained payload clears the topic and is still delivered to current subscribers", async () => {
    const pub = await f.raw();
    await publish(pub, "ret/clr", "keep-me-not");
    const current = await f.raw();
    expect(await current.subscribe("ret/clr", 1)).toEqual([1]);
    const first = await current.expect("publish");
    expect(first.retain).toBe(true);
    current.send({ cmd: "puback", messageId: first.messageId });
    await publish(pub, "ret/clr", "");
    const cleared = await current.expect("publish");
    expect([cleared.topic, cleared.payload.length, cleared.retain, cleared.qos]).toEqual(["ret/clr", 0, false, 1]);
    current.send({ cmd: "puback", messageId: cleared.messageId });
    await f.b.broker.journal.barrier();
    expect(await f.b.broker.store.getRetained("ret/clr")).toBeNull();
    const later = await f.raw();
    expect(await later.subscribe("ret/clr", 1)).toEqual([1]);
    expect(await collect(later, pub, "ret/clr-end")).toEqual([]);
  });

  it("[MQTT-3.3.1-12] a PUBLISH with RETAIN=0 neither stores nor replaces the retained message", async () => {
    const pub = await f.raw();
    await publish(pub, "ret/nr", "stored");
    await publish(pub, "ret/nr", "transient", { retain: false });
    await publish(pub, "ret/nr2", "transient", { retain: false });
    const sub = await f.raw();
    expect(await sub.subscribe([["ret/nr", 0], ["ret/nr2", 0]])).toEqual([0, 0]);
    expect(summary(await collect(sub, pub, "ret/nr-end"))).toEqual([["ret/nr", "stored", 0, true]]);
  });

  for (const [stored, granted] of [
    [2, 1],
    [2, 0],
    [1, 2],
    [0, 2],
    [1, 1],
  ] as [QoS, QoS][]) {
    it(`[MQTT-3.8.4-6] retained QoS ${stored} sent to a new QoS ${granted} subscription at QoS ${Math.min(stored, granted)}`, async () => {
      const topic = `ret/qos/${stored}${granted}`;
      const pub = await f.raw();
      await publish(pub, topic, "q", { qos: stored });
      const sub = await f.raw();
      expect(await sub.subscribe(topic, granted)).toEqual([granted]);
      expect(summary(await collect(sub, pub, `${topic}/end`))).toEqual([[topic, "q", Math.min(stored, granted), true]]);
    });
  }

  it("[MQTT-3.3.1-6] a wildcard subscription receives every matching retained message", async () => {
    const pub = await f.raw();
    for (const t of ["wr/a", "wr/b/c", "wr/d", "wrx/b/c", "other/wr"]) await publish(pub, t, `v-${t}`);
    const hash = await f.raw();
    expect(await hash.subscribe("wr/#", 1)).toEqual([1]);
    const all = await collect(hash, pub, "end/wr1");
    expect(summary(all).sort()).toEqual([
      ["wr/a", "v-wr/a", 1, true],
      ["wr/b/c", "v-wr/b/c", 1, true],
      ["wr/d", "v-wr/d", 1, true],
    ]);
    const plus = await f.raw();
    expect(await plus.subscribe("+/b/c", 0)).toEqual([0]);
    expect(summary(await collect(plus, pub, "end/wr2")).sort()).toEqual([
      ["wr/b/c", "v-wr/b/c", 0, true],
      ["wrx/b/c", "v-wrx/b/c", 0, true],
    ]);
  });

  it("[MQTT-3.8.4-3] re-subscribing to the same filter re-sends the retained messages", async () => {
    const pub = await f.raw();
    await publish(pub, "ret/again", "again", { qos: 0 });
    const sub = await f.raw();
    expect(await sub.subscribe("ret/again", 0)).toEqual([0]);
    expect(summary([await sub.expect("publish")])).toEqual([["ret/again", "again", 0, true]]);
    expect(await sub.subscribe("ret/again", 1)).toEqual([1]);
    const second = await sub.expect("publish");
    expect([second.payload.toString(), second.retain, second.qos]).toEqual(["again", true, 0]);
    expect(await collect(sub, pub, "ret/again-end")).toEqual([]);
  });

  it("retained messages survive the publisher disconnecting", async () => {
    const pub = await f.raw();
    await publish(pub, "ret/gone", "still here", { qos: 2 });
    pub.send({ cmd: "disconnect" });
    await pub.waitClosed();
    const pub2 = await f.raw();
    const sub = await f.raw();
    expect(await sub.subscribe("ret/gone", 2)).toEqual([2]);
    expect(summary(await collect(sub, pub2, "ret/gone-end"))).toEqual([["ret/gone", "still here", 2, true]]);
  });
});

describe("limits.maxRetained=2", () => {
  const lb = useBroker({ limits: { maxRetained: 2 } });

  it("does not store a third retained topic, but replacing or clearing an existing one works", async () => {
    const pub = await lb.raw();
    await publish(pub, "lim/1", "a");
    await publish(pub, "lim/2", "b");
    expect(lb.b.broker.stats.dropped["retained-limit"]).toBe(0);
    // A current subscriber still gets the live message that could not be stored.
    const live = await lb.raw();
    expect(await live.subscribe("lim/3", 0)).toEqual([0]);
    await publish(pub, "lim/3", "c");
    expect(summary([await live.expect("publish")])).toEqual([["lim/3", "c", 0, false]]);
    expect(lb.b.broker.stats.dropped["retained-limit"]).toBe(1);
    await publish(pub, "lim/1", "a2");
    expect(lb.b.broker.stats.dropped["retained-limit"]).toBe(1);

    const sub = await lb.raw();
    expect(await sub.subscribe("lim/#", 0)).toEqual([0]);
    expect(summary(await collect(sub, pub, "end/lim1")).sort()).toEqual([
      ["lim/1", "a2", 0, true],
      ["lim/2", "b", 0, true],
    ]);

    // Clearing one frees a slot.
    await publish(pub, "lim/2", "");
    await publish(pub, "lim/3", "c2");
    expect(lb.b.broker.stats.dropped["retained-limit"]).toBe(1);
    const sub2 = await lb.raw();
    expect(await sub2.subscribe("lim/#", 0)).toEqual([0]);
    expect(summary(await collect(sub2, pub, "end/lim2")).sort()).toEqual([
      ["lim/1", "a2", 0, true],
      ["lim/3", "c2", 0, true],
    ]);
  });
});

describe("$SYS retained messages (sysIntervalSeconds: 1)", () => {
  const sb = useBroker({ sysIntervalSeconds: 1 });

  it("[MQTT-4.7.2-1] '#' and '+/...' subscribers get no $SYS messages; a '$SYS/#' subscriber gets $SYS/broker/version retained", async () => {
    const pub = await sb.raw();
    await publish(pub, "plain/retained", "p");
    const hash = await sb.raw();
    const plus = await sb.raw();
    const sys = await sb.raw();
    expect(await hash.subscribe("#", 0)).toEqual([0]);
    expect(await plus.subscribe([["+/broker/#", 0], ["+/broker/version", 0]])).toEqual([0, 0]);
    expect(await sys.subscribe("$SYS/#", 0)).toEqual([0]);

    // The retained $SYS messages follow the SUBACK; one of them is the broker version.
    let version: IPublishPacket;
    do version = await sys.expect("publish");
    while (version.topic !== "$SYS/broker/version");
    expect([version.retain, version.qos, version.payload.toString().startsWith("mqgate ")]).toEqual([true, 0, true]);

    // Wait past at least one $SYS publish interval: live $SYS updates must not reach the wildcards either.
    await new Promise((r) => setTimeout(r, 1300));
    const live = sys.buffered.filter((p) => p.cmd === "publish" && !p.retain);
    expect(live.length).toBeGreaterThan(0);
    expect(live.every((p) => p.cmd === "publish" && p.topic.startsWith("$SYS/broker/"))).toBe(true);
    expect(summary(await collect(hash, pub, "end/sys1"))).toEqual([["plain/retained", "p", 0, true]]);
    expect(await collect(plus, pub, "end/sys2")).toEqual([]);
  });
});
