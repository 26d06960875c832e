import { generate, type Packet, type QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import type { Auth, ClientPolicy } from "../../core/auth/types.js";
import { ConfigError, DEFAULTS, loadConfig } from "../../core/config/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";

/**
 * Bounded work per client (docs/security.md): what one SUBSCRIBE, UNSUBSCRIBE or a not-yet-authenticated socket can
 * make the broker do, and what the client gets at each bound. Real broker, real sockets, raw MQTT frames.
 */

function publish(topic: string, payload: Buffer | string, qos: QoS = 0, messageId?: number): Packet {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  return { cmd: "publish", topic, payload: body, qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) } as Packet;
}

function connectPacket(clientId: string, extra: Record<string, unknown> = {}): Packet {
  return { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId, ...extra } as Packet;
}

/** Every event the broker emits with `name`, from now on. */
function record<T extends unknown[]>(b: TestBroker, name: "session.subscribed" | "session.unsubscribed" | "connection.closed" | "client.disconnected"): T[] {
  const seen: T[] = [];
  b.broker.on(name, (...args: unknown[]) => seen.push(args as T));
  return seen;
}

/** PINGREQ/PINGRESP round trip; returns what arrived before the PINGRESP (the broker answers in order). */
async function barrier(c: RawClient): Promise<Packet[]> {
  c.send({ cmd: "pingreq" });
  const before: Packet[] = [];
  for (;;) {
    const p = await c.next();
    if (p.cmd === "pingresp") return before;
    before.push(p);
  }
}

/** Subscribes to anything but `secret/#` and never grants more than QoS 1. */
const restricted: Auth = {
  name: "restricted",
  connect: () => {
    const policy: ClientPolicy = {
      canPublish: () => true,
      canSubscribe: (filter, qos) => (filter.startsWith("secret/") ? null : (Math.min(qos, 1) as QoS)),
    };
    return Promise.resolve({ ok: true, policy });
  },
};

describe("duplicate filters in one SUBSCRIBE or UNSUBSCRIBE are handled once", () => {
  const f = useBroker({ limits: { maxFiltersPerPacket: 1000 } });

  it("300 x '#' with 20 retained messages: 300 return codes, one subscription, 20 retained sends, one event", async () => {
    const setter = await f.raw();
    for (let i = 0; i < 20; i++) setter.send({ ...publish(`dup/r${i}`, Buffer.alloc(1000, i)), retain: true } as Packet);
    await barrier(setter);
    const subscribed = record<[string, string]>(f.b, "session.subscribed");
    const c = await f.raw({ clientId: "dup-hash" });
    const granted = await c.subscribe(Array.from({ length: 300 }, (): [string, QoS] => ["#", 0]));
    expect(granted).toEqual(Array.from({ length: 300 }, () => 0));
    // Everything the SUBSCRIBE caused has arrived before PINGRESP: one copy per retained message.
    const retained = (await barrier(c)).filter((p) => p.cmd === "publish");
    expect(retained).toHaveLength(20);
    expect(subscribed.filter(([clientId]) => clientId === "dup-hash").map(([, filter]) => filter)).toEqual(["#"]);
    expect([...(f.b.broker.sessions.get("dup-hash")?.subscriptions.keys() ?? [])]).toEqual(["#"]);
  });

  it("the later duplicate replaces the earlier [MQTT-3.8.4-3]; each keeps its code in position [MQTT-3.8.4-5]", async () => {
    const c = await f.raw({ clientId: "dup-replace" });
    expect(await c.subscribe([["dup/a", 0], ["dup/b", 1], ["dup/a", 2]])).toEqual([0, 1, 2]);
    expect(f.b.broker.sessions.get("dup-replace")?.subscriptions.get("dup/a")).toBe(2);
    expect(await c.subscribe([["dup/a", 2], ["dup/a", 0]])).toEqual([2, 0]);
    expect(f.b.broker.sessions.get("dup-replace")?.subscriptions.get("dup/a")).toBe(0);
    // One copy, at the QoS of the replacing subscription.
    const p = await f.raw();
    p.send(publish("dup/a", "x", 1, 1));
    await p.expect("puback");
    const got = await c.expect("publish");
    expect(got.qos).toBe(0);
    expect(await c.silentFor(100)).toBe(true);
  });

  it("an invalid filter repeated gets 0x80 in every position", async () => {
    const c = await f.raw();
    expect(await c.subscribe([["dup/#/x", 0], ["dup/ok", 1], ["dup/#/x", 1]])).toEqual([0x80, 1, 0x80]);
  });

  it("UNSUBSCRIBE with a filter repeated 500 times removes it once and reports it once", async () => {
    const unsubscribed = record<[string, string]>(f.b, "session.unsubscribed");
    const c = await f.raw({ clientId: "dup-unsub" });
    expect(await c.subscribe("dup/u", 1)).toEqual([1]);
    await c.unsubscribe(Array.from({ length: 500 }, () => "dup/u"));
    expect(unsubscribed.filter(([clientId]) => clientId === "dup-unsub").map(([, filter]) => filter)).toEqual(["dup/u"]);
    expect(f.b.broker.sessions.get("dup-unsub")?.subscriptions.size).toBe(0);
  });
});

describe("the amplifying SUBSCRIBE of issue 12: '#' x 300, 200 retained messages of 10 KB, a client that never reads", () => {
  const f = useBroker({ limits: { maxRetained: 1000 } });

  async function setup(): Promise<void> {
    const setter = await f.raw();
    for (let i = 0; i < 200; i++) setter.send({ ...publish(`amp/r${i}`, Buffer.alloc(10_000, i)), retain: true } as Packet);
    await barrier(setter);
  }

  it("with the default limit (100 filters) the packet is not handled: the connection is closed, nothing is sent", async () => {
    await setup();
    const sent = f.b.broker.stats.messagesSent;
    const hits = f.b.broker.stats.limitHits["filters-per-packet"];
    const c = await f.raw({ clientId: "amp-default" });
    c.socket.pause();
    c.send({ cmd: "subscribe", messageId: 1, subscriptions: Array.from({ length: 300 }, () => ({ topic: "#", qos: 0 as QoS })) });
    for (let i = 0; i < 100 && f.b.broker.stats.limitHits["filters-per-packet"] === hits; i++) await new Promise((r) => setTimeout(r, 10));
    expect(f.b.broker.stats.limitHits["filters-per-packet"]).toBe(hits + 1);
    expect([...f.b.broker.connections].some((conn) => conn.clientId === "amp-default")).toBe(false);
    expect(f.b.broker.stats.messagesSent).toBe(sent);
  });

  it("with the limit raised to 1,000: each retained message is sent once (200, not 60,000), RSS grows less than 64 MB", async () => {
    const b = await startTestBroker({ limits: { maxRetained: 1000, maxFiltersPerPacket: 1000 } });
    try {
      const setter = await RawClient.connected(b.mqttPort);
      for (let i = 0; i < 200; i++) setter.send({ ...publish(`amp/r${i}`, Buffer.alloc(10_000, i)), retain: true } as Packet);
      await barrier(setter);
      setter.destroy();
      global.gc?.();
      const rss = process.memoryUsage().rss;
      const sent = b.broker.stats.messagesSent;
      const c = await RawClient.connected(b.mqttPort, { clientId: "amp-raised" });
      c.socket.pause();
      c.send({ cmd: "subscribe", messageId: 1, subscriptions: Array.from({ length: 300 }, () => ({ topic: "#", qos: 0 as QoS })) });
      for (let i = 0; i < 200 && b.broker.stats.messagesSent - sent < 200; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 500));
      expect(b.broker.stats.messagesSent - sent).toBe(200);
      expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
      c.destroy();
    } finally {
      await b.close();
    }
  });
});

describe("duplicate filters under a policy that refuses or downgrades", () => {
  const f = useBroker({}, restricted);

  it("a refused filter is 0x80 in every position; an earlier duplicate gets its own granted QoS", async () => {
    const c = await f.raw({ clientId: "dup-policy" });
    expect(await c.subscribe([["secret/x", 1], ["open/x", 2], ["secret/x", 0]])).toEqual([0x80, 1, 0x80]);
    expect(await c.subscribe([["open/y", 2], ["open/y", 0]])).toEqual([1, 0]);
    const subs = f.b.broker.sessions.get("dup-policy")?.subscriptions;
    expect(subs?.has("secret/x")).toBe(false);
    expect(subs?.get("open/y")).toBe(0);
  });
});

describe("the bounds are configuration, validated", () => {
  it("defaults: 100 filters per packet, 64 KiB CONNECT, 64 KiB before CONNACK, 10,000 events / 32 MiB buffered", () => {
    expect(DEFAULTS.limits).toMatchObject({ maxFiltersPerPacket: 100, maxConnectPacketSize: 65_536, maxPreAuthBytes: 65_536 });
    expect(DEFAULTS.events).toMatchObject({ maxBufferedEvents: 10_000, maxBufferedBytes: 33_554_432 });
  });

  for (const [key, overrides] of [
    ["limits.maxFiltersPerPacket", { limits: { maxFiltersPerPacket: 0 } }],
    ["limits.maxConnectPacketSize", { limits: { maxConnectPacketSize: 10 } }],
    ["limits.maxPreAuthBytes", { limits: { maxPreAuthBytes: -1 } }],
    ["events.maxBufferedEvents", { events: { maxBufferedEvents: 0 } }],
    ["events.maxBufferedBytes", { events: { maxBufferedBytes: 100 } }],
  ] as const) {
    it(`${key} out of range is refused at startup`, async () => {
      const err = await loadConfig({ env: {}, overrides }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(String((err as Error).message)).toContain(key);
    });
  }
});

describe("limits.maxFiltersPerPacket", () => {
  const f = useBroker({ limits: { maxFiltersPerPacket: 10 } });

  it("a SUBSCRIBE with exactly the limit is served", async () => {
    const c = await f.raw();
    expect(await c.subscribe(Array.from({ length: 10 }, (_, i): [string, QoS] => [`lim/${i}`, 0]))).toEqual(Array.from({ length: 10 }, () => 0));
  });

  it("one filter more: no SUBACK, nothing subscribed, the connection is closed as limit-exceeded and counted", async () => {
    const closed = record<[string, string]>(f.b, "client.disconnected");
    const before = f.b.broker.stats.limitHits["filters-per-packet"];
    const subscribed = record<[string, string]>(f.b, "session.subscribed");
    const c = await f.raw({ clientId: "too-many-filters" });
    c.send({ cmd: "subscribe", messageId: 1, subscriptions: Array.from({ length: 11 }, (_, i) => ({ topic: `lim/x${i}`, qos: 0 as QoS })) });
    await c.waitClosed();
    expect(c.buffered).toHaveLength(0);
    expect(f.b.broker.stats.limitHits["filters-per-packet"]).toBe(before + 1);
    expect(closed.find(([id]) => id === "too-many-filters")?.[1]).toBe("limit-exceeded");
    expect(subscribed.filter(([id]) => id === "too-many-filters")).toEqual([]);
  });

  it("an UNSUBSCRIBE with one filter more closes the connection too (3.1.1 UNSUBACK has no failure code)", async () => {
    const c = await f.raw();
    c.send({ cmd: "unsubscribe", messageId: 1, unsubscriptions: Array.from({ length: 11 }, (_, i) => `lim/${i}`) });
    await c.waitClosed();
    expect(c.buffered).toHaveLength(0);
  });
});

/** An authenticator that takes `ms` to answer, like password hashing on a busy node. */
function slowAuth(ms: number): Auth {
  const policy: ClientPolicy = { canPublish: () => true, canSubscribe: (_f, qos) => qos };
  return { name: "slow", connect: () => new Promise((resolve) => setTimeout(() => resolve({ ok: true, policy }), ms)) };
}

describe("pre-authentication buffering", () => {
  const f = useBroker({ limits: { maxPreAuthBytes: 4096, maxConnectPacketSize: 2048 } }, slowAuth(300));

  it("packets pipelined behind CONNECT within maxPreAuthBytes are handled after CONNACK, in order", async () => {
    const watcher = await f.raw({ clientId: "pre-watch" });
    expect(await watcher.subscribe("pre/#", 0)).toEqual([0]);
    const c = await f.open();
    const frames = [generate(connectPacket("pre-ok"))];
    for (let i = 0; i < 3; i++) frames.push(generate(publish("pre/in-order", String(i).repeat(1000))));
    c.sendBytes(Buffer.concat(frames));
    expect((await c.expect("connack")).returnCode).toBe(0);
    for (let i = 0; i < 3; i++) expect((await watcher.expect("publish")).payload.toString()).toBe(String(i).repeat(1000));
  });

  it("more than maxPreAuthBytes behind CONNECT: closed without CONNACK, nothing routed, counted", async () => {
    const watcher = await f.raw({ clientId: "pre-watch-2" });
    expect(await watcher.subscribe("pre/#", 0)).toEqual([0]);
    const closed = record<[unknown, string]>(f.b, "connection.closed");
    const before = f.b.broker.stats.limitHits["pre-auth-bytes"];
    const c = await f.open();
    const frames = [generate(connectPacket("pre-flood"))];
    for (let i = 0; i < 10; i++) frames.push(generate(publish("pre/flood", Buffer.alloc(1000, 0x61))));
    c.sendBytes(Buffer.concat(frames)); // 10 KB in one write: one read on loopback
    await c.waitClosed();
    expect(c.buffered).toHaveLength(0);
    expect(f.b.broker.stats.limitHits["pre-auth-bytes"]).toBe(before + 1);
    expect(closed.map(([, reason]) => reason)).toContain("limit-exceeded");
    expect(await watcher.silentFor(400)).toBe(true);
  });

  it("reading is paused while authentication runs: a 16 MB flood stays in the client's socket, not in the broker", async () => {
    const before = f.b.broker.stats.bytesReceived;
    const c = await f.open();
    c.sendBytes(generate(connectPacket("pre-paused")));
    // Sent in separate writes after CONNECT, so none share CONNECT's read: every byte waits behind the paused socket.
    await new Promise((r) => setTimeout(r, 20));
    const frame = generate(publish("pre/paused", Buffer.alloc(16 * 1024, 0x62)));
    for (let i = 0; i < 1024; i++) c.sendBytes(frame);
    await new Promise((r) => setTimeout(r, 150)); // authentication takes 300 ms
    const readDuringAuth = f.b.broker.stats.bytesReceived - before;
    // What the broker read: CONNECT, and at most a read or two the socket had already taken in (64 KiB each).
    expect(readDuringAuth).toBeLessThan(256 * 1024);
    expect(c.socket.writableLength).toBeGreaterThan(8 * 1024 * 1024);
    // Once authenticated the client is served: back-pressure, not a failure.
    expect((await c.expect("connack")).returnCode).toBe(0);
    await barrier(c);
    expect(f.b.broker.stats.bytesReceived - before).toBeGreaterThan(16 * 1024 * 1024);
  });

  it("limits.maxConnectPacketSize: a first packet announcing more is refused from its header, before its body", async () => {
    const before = f.b.broker.stats.limitHits["connect-packet-size"];
    const c = await f.open();
    // CONNECT fixed header with a remaining length of 100,000 (varint a0 8d 06) and nothing else.
    c.sendBytes([0x10, 0xa0, 0x8d, 0x06]);
    await c.waitClosed();
    expect(f.b.broker.stats.limitHits["connect-packet-size"]).toBe(before + 1);
    // Any first packet: a PUBLISH header announcing 100 KB is closed the same way.
    const d = await f.open();
    d.sendBytes([0x30, 0xa0, 0x8d, 0x06]);
    await d.waitClosed();
  });

  it("limits.maxConnectPacketSize: a CONNECT with a will under the limit is accepted, over it closed; later packets may be larger", async () => {
    const [ok, connack] = await f.connect({ clientId: "will-ok", will: { topic: "pre/will", payload: Buffer.alloc(1500), qos: 0, retain: false } });
    expect(connack.returnCode).toBe(0);
    ok.send(publish("pre/big", Buffer.alloc(3000))); // bigger than maxConnectPacketSize, within maxPacketSize
    await barrier(ok);
    const c = await f.open();
    c.send(connectPacket("will-big", { will: { topic: "pre/will", payload: Buffer.alloc(2500), qos: 0, retain: false } }));
    await c.waitClosed();
    expect(c.buffered).toHaveLength(0);
  });
});

/** A memory store whose subscription writes take `ms`: a SUBSCRIBE of a persistent session waits that long. */
class SlowSubscribeStore extends MemoryStore {
  constructor(private readonly ms: number) {
    super();
  }
  override async updateSubscriptions(...args: Parameters<MemoryStore["updateSubscriptions"]>): Promise<boolean> {
    await new Promise((r) => setTimeout(r, this.ms));
    return super.updateSubscriptions(...args);
  }
}

describe("packets held while a SUBSCRIBE waits for the store", () => {
  const f = useBroker({ limits: { maxPacketSize: 65_536 } }, undefined, new SlowSubscribeStore(300));

  it("reading is paused: a flood sent behind the SUBSCRIBE waits in the client's socket", async () => {
    const c = await f.raw({ clientId: "held", clean: false });
    const before = f.b.broker.stats.bytesReceived;
    c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "held/#", qos: 0 }] });
    await new Promise((r) => setTimeout(r, 20));
    const frame = generate(publish("held/x", Buffer.alloc(16 * 1024, 0x63)));
    for (let i = 0; i < 1024; i++) c.sendBytes(frame);
    await new Promise((r) => setTimeout(r, 150));
    expect(f.b.broker.stats.bytesReceived - before).toBeLessThan(256 * 1024);
    expect((await c.expect("suback")).granted).toEqual([0]);
    // The held publishes are handled after the SUBACK, in order: the client receives its own messages.
    const first = await c.expect("publish", 5000);
    expect(first.topic).toBe("held/x");
  });

  it("a client that pipelines 2,000 small publishes behind its SUBSCRIBE (one read) is served, in order, not closed", async () => {
    const c = await f.raw({ clientId: "held-small", clean: false });
    const frames = [generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "small/#", qos: 0 }] })];
    for (let i = 0; i < 2000; i++) frames.push(generate(publish("small/t", String(i))));
    c.sendBytes(Buffer.concat(frames));
    expect((await c.expect("suback")).granted).toEqual([0]);
    for (let i = 0; i < 2000; i++) expect((await c.expect("publish")).payload.toString()).toBe(String(i));
  });
});
