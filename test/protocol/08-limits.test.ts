import type { Packet } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../broker/connection.js";
import type { TestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";

function publishPacket(topic: string, payload: Buffer | string, qos: 0 | 1 = 0, messageId?: number): Packet {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  return { cmd: "publish", topic, payload: body, qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) } as Packet;
}

/** PINGREQ/PINGRESP round trip: every packet sent before it has been processed by the broker. */
async function barrier(c: RawClient, timeoutMs = 2000): Promise<void> {
  c.send({ cmd: "pingreq" });
  await c.expect("pingresp", timeoutMs);
}

function connectionOf(b: TestBroker, clientId: string): Connection {
  const conn = [...b.broker.connections].find((c) => c.clientId === clientId);
  if (conn === undefined) throw new Error(`no connection for ${clientId}`);
  return conn;
}

describe("packet size and topic limits", () => {
  const f = useBroker({ limits: { maxPacketSize: 1024, maxTopicLength: 64, maxTopicLevels: 4 } });
  let watcher: RawClient;
  let pub: RawClient;
  beforeAll(async () => {
    watcher = await RawClient.connected(f.b.mqttPort, { clientId: "limits-watcher" });
    expect(await watcher.subscribe("limits/#", 0)).toEqual([0]);
    pub = await RawClient.connected(f.b.mqttPort, { clientId: "limits-pub" });
  });
  afterAll(() => {
    watcher.destroy();
    pub.destroy();
  });

  /** The broker still routes between the long-lived clients. */
  async function stillServing(tag: string): Promise<void> {
    pub.send(publishPacket("limits/alive", tag));
    const p = await watcher.expect("publish");
    expect(p.topic).toBe("limits/alive");
    expect(p.payload.toString()).toBe(tag);
  }

  it("limits.maxPacketSize: a packet just under the limit is accepted", async () => {
    const c = await f.raw();
    c.send(publishPacket("limits/size", Buffer.alloc(900, 0x61)));
    const p = await watcher.expect("publish");
    expect(p.payload.length).toBe(900);
    await barrier(c);
    c.destroy();
  });

  it("limits.maxPacketSize: a 2000-byte PUBLISH closes the connection, other clients are still served", async () => {
    const c = await f.raw();
    c.send(publishPacket("limits/size", Buffer.alloc(2000, 0x62)));
    await c.waitClosed();
    expect(await watcher.silentFor(100)).toBe(true);
    await stillServing("after-2000");
  });

  it("limits.maxPacketSize: a huge declared remaining length closes the connection at once, without waiting for the bytes", async () => {
    const c = await f.raw();
    // PUBLISH with remaining length 268435455 (the MQTT maximum); none of the body follows.
    c.sendBytes([0x30, 0xff, 0xff, 0xff, 0x7f]);
    await c.waitClosed(1000);
    await stillServing("after-huge");
  });

  it("limits.maxPacketSize: a huge declared length before CONNECT closes at once too (not by the connect timeout)", async () => {
    const c = await f.open();
    c.sendBytes([0x10, 0xff, 0xff, 0xff, 0x7f]);
    // connectTimeoutMs is 10 s by default: a close within 1 s comes from the size check.
    await c.waitClosed(1000);
    expect(c.buffered).toEqual([]);
  });

  it("limits.maxTopicLength: PUBLISH to a longer topic closes the connection; the limit itself is accepted", async () => {
    const ok = await f.raw();
    const atLimit = `limits/${"x".repeat(64 - "limits/".length)}`;
    expect(Buffer.byteLength(atLimit)).toBe(64);
    ok.send(publishPacket(atLimit, "fits"));
    expect((await watcher.expect("publish")).topic).toBe(atLimit);
    await barrier(ok);
    ok.destroy();

    const c = await f.raw();
    c.send(publishPacket(`${atLimit}y`, "too-long"));
    await c.waitClosed();
    expect(await watcher.silentFor(100)).toBe(true);
    await stillServing("after-long-topic");
  });

  it("limits.maxTopicLevels: PUBLISH to a topic with more levels closes the connection; the limit itself is accepted", async () => {
    const ok = await f.raw();
    ok.send(publishPacket("limits/a/b/c", "four-levels"));
    expect((await watcher.expect("publish")).topic).toBe("limits/a/b/c");
    await barrier(ok);
    ok.destroy();

    const c = await f.raw();
    c.send(publishPacket("limits/a/b/c/d", "five-levels"));
    await c.waitClosed();
    expect(await watcher.silentFor(100)).toBe(true);
    await stillServing("after-deep-topic");
  });

  it("limits.maxTopicLength / maxTopicLevels: SUBSCRIBE with a too-long or too-deep filter gets 0x80 for that filter, the connection stays open", async () => {
    const c = await f.raw();
    c.send({
      cmd: "subscribe",
      messageId: 9,
      subscriptions: [
        { topic: `limits/${"z".repeat(64)}`, qos: 1 },
        { topic: "limits/+/+/+/#", qos: 1 },
        { topic: "limits/ok/#", qos: 1 },
      ],
    });
    const suback = await c.expect("suback");
    expect(suback.messageId).toBe(9);
    expect(suback.granted).toEqual([0x80, 0x80, 1]);
    await barrier(c);
    expect(c.closed).toBe(false);
    pub.send(publishPacket("limits/ok/t", "granted"));
    const p = await c.expect("publish");
    expect(p.payload.toString()).toBe("granted");
    expect((await watcher.expect("publish")).payload.toString()).toBe("granted");
    c.destroy();
  });
});

describe("slow consumers (limits.socketHighWaterMark, limits.maxQueued)", () => {
  const HWM = 16_384;
  const MAX_QUEUED = 100;
  const f = useBroker({ limits: { socketHighWaterMark: HWM, maxQueued: MAX_QUEUED } });

  it("a QoS 0 flood to a subscriber that never reads is dropped as slow-consumer; the broker's buffer stays bounded, other subscribers get everything in order", async () => {
    const BATCH = 500;
    // The kernel absorbs a few MB for a socket that is not read (about 4 MB on Linux loopback): flood until the
    // broker sees the congestion, then 2000 more messages on top. The cap only stops a broken broker.
    const CAP = 50_000;
    const slow = await f.raw({ clientId: "slow-q0" });
    expect(await slow.subscribe("flood0/#", 0)).toEqual([0]);
    slow.socket.pause();
    const fast = await f.raw({ clientId: "fast-q0" });
    expect(await fast.subscribe("flood0/#", 0)).toEqual([0]);
    const pub = await f.raw({ clientId: "flood-pub-q0" });
    const slowConn = connectionOf(f.b, "slow-q0");
    const droppedBefore = f.b.broker.stats.dropped["slow-consumer"];
    const dropped = (): number => f.b.broker.stats.dropped["slow-consumer"] - droppedBefore;

    const payload = Buffer.alloc(1024, 0x2e);
    let sent = 0;
    let fastOutOfOrder = 0;
    let maxBuffered = 0;
    let extra = -1;
    while (extra < 2000) {
      if (sent >= CAP) throw new Error(`no slow-consumer drop after ${sent} messages of 1 KB`);
      for (let i = 0; i < BATCH; i++) {
        const body = Buffer.from(payload);
        body.writeUInt32BE(sent + i, 0);
        pub.send(publishPacket("flood0/t", body));
      }
      // The fast subscriber reads normally: it gets the whole batch, in order.
      for (let i = 0; i < BATCH; i++) {
        const p = await fast.expect("publish", 5000);
        if ((p.payload as Buffer).readUInt32BE(0) !== sent + i) fastOutOfOrder++;
      }
      sent += BATCH;
      maxBuffered = Math.max(maxBuffered, slowConn.unsentBytes);
      if (extra >= 0) extra += BATCH;
      else if (dropped() > 0) extra = 0;
    }
    expect(fastOutOfOrder).toBe(0);
    expect(fast.closed).toBe(false);
    expect(slowConn.congested).toBe(true);
    expect(dropped()).toBeGreaterThanOrEqual(2000);
    // Megabytes were published; the broker holds a bounded amount for the slow client.
    expect(maxBuffered).toBeLessThan(256 * 1024);

    // Once the slow client reads again it catches up: what it gets is in order, and new messages flow again.
    slow.socket.resume();
    const deadline = Date.now() + 5000;
    while (slowConn.congested) {
      if (Date.now() > deadline) throw new Error("still congested 5 s after the client resumed reading");
      await new Promise((r) => setTimeout(r, 10));
    }
    pub.send(publishPacket("flood0/after", "after"));
    let last = -1;
    let slowOutOfOrder = 0;
    for (;;) {
      const p = await slow.expect("publish", 5000);
      if (p.topic === "flood0/after") break;
      const seq = (p.payload as Buffer).readUInt32BE(0);
      if (seq <= last) slowOutOfOrder++;
      last = seq;
    }
    expect(slowOutOfOrder).toBe(0);
    expect((await fast.expect("publish")).topic).toBe("flood0/after");
    slow.destroy();
    fast.destroy();
    pub.destroy();
  });

  it("a QoS 1 flood to a subscriber that never reads stays bounded by maxInflight + maxQueued (queue-full drops)", async () => {
    const COUNT = 1000;
    const slow = await f.raw({ clientId: "slow-q1" });
    expect(await slow.subscribe("flood1/#", 1)).toEqual([1]);
    slow.socket.pause();
    const pub = await f.raw({ clientId: "flood-pub-q1" });
    const dropped = f.b.broker.stats.dropped["queue-full"];
    const payload = Buffer.alloc(1024, 0x2e);
    for (let i = 0; i < COUNT; i++) pub.send(publishPacket("flood1/t", payload, 1, (i % 65_535) + 1));
    let acks = 0;
    while (acks < COUNT) {
      const p = await pub.next(5000);
      if (p.cmd === "puback") acks++;
    }
    const session = f.b.broker.sessions.get("slow-q1");
    expect(session).toBeDefined();
    expect(session?.queuedCount).toBe(MAX_QUEUED);
    expect(session?.inflight.size).toBeLessThanOrEqual(f.b.config.limits.maxInflight);
    const stored = (session?.queuedCount ?? 0) + (session?.inflight.size ?? 0);
    expect(f.b.broker.stats.dropped["queue-full"] - dropped).toBe(COUNT - stored);
    expect(f.b.broker.stats.dropped["queue-full"] - dropped).toBeGreaterThan(0);
    slow.destroy();
    pub.destroy();
  });
});
