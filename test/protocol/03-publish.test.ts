import mqtt from "mqtt";
import { generate, type IPublishPacket, type QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

/** PUBLISH and the QoS 0/1/2 flows in both directions, packet ids, ordering and payloads (MQTT 3.1.1 3.3-3.7, 4.3, 4.6). */

const f = useBroker();
let seq = 0;

function publish(c: RawClient, topic: string, payload: string | Buffer, qos: QoS = 0, messageId?: number, dup = false): void {
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup, ...(qos > 0 ? { messageId } : {}) });
}

/** Publishes and completes the inbound flow (PUBACK, or PUBREC/PUBREL/PUBCOMP). */
async function publishAcked(c: RawClient, topic: string, payload: string | Buffer, qos: QoS, messageId = 100): Promise<void> {
  publish(c, topic, payload, qos, messageId);
  if (qos === 1) expect((await c.expect("puback")).messageId).toBe(messageId);
  if (qos === 2) {
    expect((await c.expect("pubrec")).messageId).toBe(messageId);
    c.send({ cmd: "pubrel", messageId });
    expect((await c.expect("pubcomp")).messageId).toBe(messageId);
  }
}

function str(s: string): number[] {
  const bytes = [...Buffer.from(s)];
  return [bytes.length >> 8, bytes.length & 0xff, ...bytes];
}

async function expectClosed(c: RawClient): Promise<void> {
  await c.waitClosed();
  expect(c.buffered).toEqual([]);
}

function url(port = f.b.mqttPort): string {
  return `mqtt://127.0.0.1:${port}`;
}

describe("inbound flows", () => {
  it("[MQTT-4.3.2-2] QoS 1 PUBLISH is answered with PUBACK carrying the same packet id", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe("in/q1", 1)).toEqual([1]);
    const pub = await f.raw();
    publish(pub, "in/q1", "one", 1, 4321);
    expect((await pub.expect("puback")).messageId).toBe(4321);
    const got = await sub.expect("publish");
    expect([got.topic, got.payload.toString(), got.qos]).toEqual(["in/q1", "one", 1]);
  });

  it("[MQTT-4.3.3-2] QoS 2 PUBLISH: PUBREC, then PUBREL is answered with PUBCOMP", async () => {
    const pub = await f.raw();
    publish(pub, "in/q2", "two", 2, 65535);
    expect((await pub.expect("pubrec")).messageId).toBe(65535);
    pub.send({ cmd: "pubrel", messageId: 65535 });
    expect((await pub.expect("pubcomp")).messageId).toBe(65535);
  });

  it("[MQTT-4.3.3-2] a QoS 2 PUBLISH re-sent with DUP=1 before PUBREL is delivered once; after PUBREL the id is a new message", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe("dup/#", 0)).toEqual([0]);
    const pub = await f.raw();
    publish(pub, "dup/t", "first", 2, 7);
    expect((await pub.expect("pubrec")).messageId).toBe(7);
    publish(pub, "dup/t", "first", 2, 7, true);
    expect((await pub.expect("pubrec")).messageId).toBe(7);
    pub.send({ cmd: "pubrel", messageId: 7 });
    expect((await pub.expect("pubcomp")).messageId).toBe(7);
    await publishAcked(pub, "dup/t", "second", 2, 7);
    publish(pub, "dup/end", "end");
    const seen: string[] = [];
    for (;;) {
      const p = await sub.expect("publish");
      if (p.topic === "dup/end") break;
      seen.push(p.payload.toString());
    }
    expect(seen).toEqual(["first", "second"]);
  });

  it("[MQTT-4.3.3-2] PUBREL for an unknown packet id is answered with PUBCOMP", async () => {
    const c = await f.raw();
    c.send({ cmd: "pubrel", messageId: 999 });
    expect((await c.expect("pubcomp")).messageId).toBe(999);
  });

  for (const first of [0x60, 0x63, 0x6a]) {
    it(`[MQTT-3.6.1-1] closes on PUBREL with header flags 0x${(first & 0x0f).toString(16)}`, async () => {
      const c = await f.raw();
      c.sendBytes([first, 0x02, 0x00, 0x01]);
      await expectClosed(c);
    });
  }
});

describe("outbound flows", () => {
  it("[MQTT-2.3.1-1] [MQTT-4.3.2-1] QoS 1 to a subscriber: non-zero packet id, kept in flight until PUBACK", async () => {
    const clientId = `out1-${++seq}`;
    let sub = await f.raw({ clientId, clean: false });
    expect(await sub.subscribe("out/q1", 1)).toEqual([1]);
    const pub = await f.raw();
    await publishAcked(pub, "out/q1", "m", 1);
    const first = await sub.expect("publish");
    expect([first.qos, first.dup, first.payload.toString()]).toEqual([1, false, "m"]);
    expect(first.messageId).toBeGreaterThan(0);
    expect(f.b.broker.sessions.get(clientId)?.inflight.has(first.messageId as number)).toBe(true);
    // Not acknowledged: after reconnecting, it is sent again with DUP=1 and the same id [MQTT-4.4.0-1].
    sub.destroy();
    await sub.waitClosed();
    sub = await f.raw({ clientId, clean: false });
    const again = await sub.expect("publish");
    expect([again.messageId, again.dup, again.qos, again.payload.toString()]).toEqual([first.messageId, true, 1, "m"]);
    sub.send({ cmd: "puback", messageId: again.messageId });
    sub.send({ cmd: "pingreq" });
    await sub.expect("pingresp");
    expect(f.b.broker.sessions.get(clientId)?.inflight.size).toBe(0);
    sub.send({ cmd: "disconnect" });
    await sub.waitClosed();
    // Acknowledged: the resumed session has nothing to re-send.
    sub = await f.raw({ clientId, clean: false });
    expect(await sub.silentFor(200)).toBe(true);
    expect(f.b.broker.sessions.get(clientId)?.inflight.size).toBe(0);
  });

  it("[MQTT-4.3.3-1] QoS 2 to a subscriber: PUBLISH, PUBREC answered with PUBREL, PUBCOMP ends it", async () => {
    const clientId = `out2-${++seq}`;
    const sub = await f.raw({ clientId });
    expect(await sub.subscribe("out/q2", 2)).toEqual([2]);
    const pub = await f.raw();
    await publishAcked(pub, "out/q2", "m2", 2);
    const msg = await sub.expect("publish");
    expect([msg.qos, msg.dup, msg.payload.toString()]).toEqual([2, false, "m2"]);
    expect(msg.messageId).toBeGreaterThan(0);
    // Without PUBREC nothing more comes.
    expect(await sub.silentFor(150)).toBe(true);
    sub.send({ cmd: "pubrec", messageId: msg.messageId });
    expect((await sub.expect("pubrel")).messageId).toBe(msg.messageId);
    expect(f.b.broker.sessions.get(clientId)?.inflight.has(msg.messageId as number)).toBe(true);
    sub.send({ cmd: "pubcomp", messageId: msg.messageId });
    sub.send({ cmd: "pingreq" });
    await sub.expect("pingresp");
    expect(f.b.broker.sessions.get(clientId)?.inflight.size).toBe(0);
  });

  for (const granted of [0, 1, 2] as const) {
    for (const published of [0, 1, 2] as const) {
      it(`[MQTT-3.3.5-1] [MQTT-3.8.4-6] published QoS ${published}, granted QoS ${granted}: delivered at QoS ${Math.min(published, granted)}`, async () => {
        const sub = await f.raw();
        expect(await sub.subscribe(`min/${granted}/${published}`, granted)).toEqual([granted]);
        const pub = await f.raw();
        await publishAcked(pub, `min/${granted}/${published}`, "x", published);
        const msg = await sub.expect("publish");
        expect(msg.qos).toBe(Math.min(published, granted));
        expect(msg.messageId !== undefined && msg.messageId > 0).toBe(msg.qos > 0);
      });
    }
  }

  it("[MQTT-3.3.5-1] overlapping subscriptions deliver exactly one copy at the highest granted QoS", async () => {
    const sub = await f.raw();
    expect(
      await sub.subscribe([
        ["ov/#", 0],
        ["ov/+", 2],
        ["ov/b", 1],
      ]),
    ).toEqual([0, 2, 1]);
    const pub = await f.raw();
    await publishAcked(pub, "ov/b", "q2", 2);
    await publishAcked(pub, "ov/b", "q1", 1);
    publish(pub, "ov/end", "end");
    const got: IPublishPacket[] = [];
    for (;;) {
      const p = await sub.next();
      if (p.cmd !== "publish") throw new Error(`unexpected ${p.cmd}`);
      if (p.topic === "ov/end") break;
      got.push(p);
    }
    expect(got.map((p) => [p.payload.toString(), p.qos])).toEqual([
      ["q2", 2],
      ["q1", 1],
    ]);
  });
});

describe("malformed PUBLISH closes the connection", () => {
  const cases: [string, number[]][] = [
    ["[MQTT-3.3.2-2] topic name with '+'", [0x30, 0x06, ...str("a/+"), 0x78]],
    ["[MQTT-3.3.2-2] topic name with '#'", [0x30, 0x06, ...str("a/#"), 0x78]],
    ["[MQTT-3.3.1-4] QoS 3 (both QoS bits set)", [0x36, 0x06, ...str("a"), 0x00, 0x01, 0x78]],
    ["[MQTT-3.3.1-2] QoS 0 with DUP=1", [0x38, 0x04, ...str("a"), 0x78]],
    ["[MQTT-2.3.1-1] QoS 1 with packet id 0", [0x32, 0x06, ...str("a"), 0x00, 0x00, 0x78]],
    ["[MQTT-2.3.1-1] QoS 2 with packet id 0", [0x34, 0x06, ...str("a"), 0x00, 0x00, 0x78]],
  ];
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const sub = await f.raw();
      expect(await sub.subscribe("#", 0)).toEqual([0]);
      const c = await f.raw();
      c.sendBytes(bytes);
      await expectClosed(c);
      expect(await sub.silentFor(100)).toBe(true);
    });
  }
});

describe("packet ids and the in-flight window (limits.maxInflight=5)", () => {
  const wb = useBroker({ limits: { maxInflight: 5, maxQueued: 100_000 } });

  it("[MQTT-2.3.1-2] [MQTT-2.3.1-4] [MQTT-4.3.2-1] never reuses an id still in flight and holds messages beyond the window until acked", async () => {
    const sub = await wb.raw();
    expect(await sub.subscribe("win/t", 1)).toEqual([1]);
    const pub = await wb.raw();
    for (let i = 0; i < 12; i++) await publishAcked(pub, "win/t", String(i), 1, i + 1);
    const window: IPublishPacket[] = [];
    for (let i = 0; i < 5; i++) window.push(await sub.expect("publish"));
    expect(window.map((p) => p.payload.toString())).toEqual(["0", "1", "2", "3", "4"]);
    expect(new Set(window.map((p) => p.messageId)).size).toBe(5);
    expect(await sub.silentFor(200)).toBe(true);

    // One ack frees one slot: exactly one more, with an id not used by the four still in flight.
    const [acked, ...inflight] = window as [IPublishPacket, ...IPublishPacket[]];
    sub.send({ cmd: "puback", messageId: acked.messageId });
    const sixth = await sub.expect("publish");
    expect(sixth.payload.toString()).toBe("5");
    expect(inflight.map((p) => p.messageId)).not.toContain(sixth.messageId);
    expect(await sub.silentFor(150)).toBe(true);

    // Ack everything as it comes: the rest arrives in order.
    const rest: string[] = [];
    for (const p of [...inflight, sixth]) sub.send({ cmd: "puback", messageId: p.messageId });
    while (rest.length < 6) {
      const p = await sub.expect("publish");
      rest.push(p.payload.toString());
      sub.send({ cmd: "puback", messageId: p.messageId });
    }
    expect(rest).toEqual(["6", "7", "8", "9", "10", "11"]);
    expect(await sub.silentFor(150)).toBe(true);
  });

  it("[MQTT-2.3.1-2] [MQTT-2.3.1-4] [MQTT-4.3.2-1] skips an id still in flight when the 16-bit packet id space wraps around", async () => {
    const sub = await wb.raw();
    expect(await sub.subscribe("wrap/t", 1)).toEqual([1]);
    const pub = await wb.raw();
    const total = 65_540;
    const chunks: Buffer[] = [];
    for (let i = 0; i < total; i++) {
      chunks.push(generate({ cmd: "publish", topic: "wrap/t", payload: Buffer.from(String(i)), qos: 1, retain: false, dup: false, messageId: (i % 65_535) + 1 }));
    }
    pub.sendBytes(Buffer.concat(chunks));
    // The first message stays unacknowledged for the whole test; everything else is acked on arrival.
    const held = await sub.expect("publish");
    expect(held.payload.toString()).toBe("0");
    const inflight = new Set<number>([held.messageId as number]);
    let reused = 0;
    let outOfOrder = 0;
    const afterWrap: number[] = [];
    for (let i = 1; i < total; i++) {
      const p = await sub.expect("publish", 5000);
      const id = p.messageId as number;
      if (inflight.has(id) || id === 0) reused++;
      if (p.payload.toString() !== String(i)) outOfOrder++;
      if (i >= 65_535) afterWrap.push(id);
      sub.send({ cmd: "puback", messageId: id });
    }
    expect({ reused, outOfOrder }).toEqual({ reused: 0, outOfOrder: 0 });
    // Ids 2..65535 were used once, then the counter wrapped: 1 is still in flight, so it is skipped.
    expect(afterWrap).not.toContain(held.messageId);
    expect(afterWrap.length).toBe(5);
  });
});

describe("order and payloads (mqtt client)", () => {
  for (const qos of [0, 1, 2] as const) {
    it(`[MQTT-4.6.0-6] 1000 QoS ${qos} messages from one publisher arrive in order`, async () => {
      const sub = await mqtt.connectAsync(url(), { clientId: `ord-sub-${qos}`, reconnectPeriod: 0 });
      const pub = await mqtt.connectAsync(url(), { clientId: `ord-pub-${qos}`, reconnectPeriod: 0 });
      try {
        await sub.subscribeAsync(`ord/${qos}`, { qos });
        const got: string[] = [];
        const done = new Promise<void>((resolve) => {
          sub.on("message", (_topic, payload, packet) => {
            got.push(packet.qos === qos ? payload.toString() : `wrong QoS ${packet.qos}`);
            if (got.length === 1000) resolve();
          });
        });
        await Promise.all(Array.from({ length: 1000 }, (_, i) => pub.publishAsync(`ord/${qos}`, String(i), { qos })));
        await done;
        expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
      } finally {
        await sub.endAsync();
        await pub.endAsync();
      }
    });
  }

  it("preserves payload bytes exactly: all 256 byte values, empty, 200 KB", async () => {
    const sub = await mqtt.connectAsync(url(), { clientId: "bytes-sub", reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(url(), { clientId: "bytes-pub", reconnectPeriod: 0 });
    try {
      await sub.subscribeAsync("bytes/#", { qos: 1 });
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = Buffer.alloc(200 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 8)) & 0xff;
      const sent: [string, Buffer][] = [
        ["bytes/all", all],
        ["bytes/empty", Buffer.alloc(0)],
        ["bytes/big", big],
        ["bytes/reversed", Buffer.from(all).reverse()],
      ];
      const got: [string, Buffer][] = [];
      const done = new Promise<void>((resolve) => {
        sub.on("message", (topic, payload) => {
          got.push([topic, Buffer.from(payload)]);
          if (got.length === sent.length) resolve();
        });
      });
      for (const [topic, payload] of sent) await pub.publishAsync(topic, payload, { qos: 1 });
      await done;
      expect(got.map(([t]) => t)).toEqual(sent.map(([t]) => t));
      for (let i = 0; i < sent.length; i++) expect((got[i] as [string, Buffer])[1].equals((sent[i] as [string, Buffer])[1])).toBe(true);
    } finally {
      await sub.endAsync();
      await pub.endAsync();
    }
  });
});

describe("$SYS is not writable by clients", () => {
  it("a client PUBLISH to $SYS/x is acknowledged but not delivered to a $SYS/# subscriber", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe("$SYS/#", 0)).toEqual([0]);
    const pub = await f.raw();
    const denied = f.b.broker.stats.publishDenied;
    await publishAcked(pub, "$SYS/x", "fake", 1);
    await publishAcked(pub, "$SYS/broker/version", "fake", 2, 101);
    publish(pub, "$SYS/y", "fake", 0);
    pub.send({ cmd: "pingreq" });
    await pub.expect("pingresp");
    expect(f.b.broker.stats.publishDenied).toBe(denied + 3);
    expect(await sub.silentFor(200)).toBe(true);
    await f.b.broker.journal.barrier();
    expect(await f.b.broker.store.getRetained("$SYS/broker/version")).toBeNull();
  });
});
