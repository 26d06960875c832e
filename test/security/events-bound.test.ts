import type { Packet, QoS } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import { createSqsClient } from "../../core/communicator/sqs-client.js";
import { SendFailed } from "../../core/communicator/errors.js";
import type { MqgateEvent } from "../../core/events/schema.js";
import { MemoryEventSink } from "../../core/events/sink.js";
import { SqsEventSink } from "../../core/events/sqs-sink.js";
import { freePort } from "../../scripts/lib/ports.js";
import { createAllowAll } from "../../core/auth/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";

/**
 * The events bridge during an SQS outage (decision 009, docs/events.md "Bounded buffer"): what it holds is bounded
 * in count and bytes, what does not fit is dropped and counted, a QoS 1/2 publish whose event would not fit is
 * refused before it is acknowledged, and each client's events reach the queue in order.
 */

function publish(topic: string, payload: Buffer | string, qos: QoS = 0, messageId?: number): Packet {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  return { cmd: "publish", topic, payload: body, qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) } as Packet;
}

async function barrier(c: RawClient): Promise<void> {
  c.send({ cmd: "pingreq" });
  for (;;) if ((await c.next()).cmd === "pingresp") return;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A memory sink that refuses every call while `down`, as the SQS sink does when SQS is unreachable. */
class OutageSink extends MemoryEventSink {
  down = true;
  calls = 0;
  override async emit(events: readonly MqgateEvent[]): Promise<void> {
    this.calls++;
    if (this.down) throw new SendFailed("events queue", events.map((e) => e.id), "connect ECONNREFUSED (test outage)");
    return super.emit(events);
  }
}

function bridgeOf(b: TestBroker): NonNullable<TestBroker["events"]> {
  if (b.events === null) throw new Error("no events bridge");
  return b.events;
}

let broker: TestBroker | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await broker?.close();
  broker = null;
});

async function client(b: TestBroker, clientId: string): Promise<RawClient> {
  const c = await RawClient.connected(b.mqttPort, { clientId });
  clients.push(c);
  return c;
}

describe("events bridge with the real SQS sink pointed at a dead endpoint", () => {
  async function start(events: { maxBufferedEvents?: number; maxBufferedBytes?: number }): Promise<TestBroker> {
    const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const sqs = createSqsClient({ endpoint: dead, maxAttempts: 1, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const sink = new SqsEventSink({ client: sqs, queueUrl: `${dead}/000000000000/events.fifo`, attempts: 1, retryBaseMs: 1, flushIntervalMs: 0 });
    broker = await startTestBroker({ events }, createAllowAll(), undefined, { events: sink });
    return broker;
  }

  it("count bound: QoS 0 is still routed, its events beyond the bound are dropped and counted; a QoS 1 publish is refused unacknowledged", async () => {
    const b = await start({ maxBufferedEvents: 20 });
    const overflow: [boolean, number][] = [];
    b.broker.on("events.overflow", (full, dropped) => overflow.push([full, dropped]));
    const watcher = await client(b, "ev-watch");
    expect(await watcher.subscribe("ev/#", 1)).toEqual([1]);
    const pub = await client(b, "ev-pub");
    for (let i = 0; i < 100; i++) pub.send(publish("ev/q0", Buffer.alloc(1000, i)));
    await barrier(pub);
    for (let i = 0; i < 100; i++) expect((await watcher.expect("publish")).payload[0]).toBe(i);
    const bridge = bridgeOf(b);
    expect(bridge.buffered.events).toBeLessThanOrEqual(20);
    // client.connected x2 and session.subscribed took 3 places; the first 17 publishes the rest.
    expect(bridge.buffered.dropped["buffer-full"]).toBe(83);
    expect(overflow).toEqual([[true, 1]]);

    // The hostile (or unlucky) QoS 1 publisher: no PUBACK, the connection is closed, nothing was routed.
    pub.send(publish("ev/q1", "must not be lost", 1, 7));
    await pub.waitClosed();
    expect(pub.buffered).toHaveLength(0);
    expect(b.broker.stats.limitHits["events-backlog"]).toBe(1);
    expect(await watcher.silentFor(200)).toBe(true);
    expect(bridge.buffered.events).toBeLessThanOrEqual(20);
  });

  it("byte bound: 10 KB payloads stop at maxBufferedBytes whatever the count", async () => {
    const b = await start({ maxBufferedEvents: 10_000, maxBufferedBytes: 100_000 });
    const pub = await client(b, "ev-bytes");
    for (let i = 0; i < 200; i++) pub.send(publish("ev/big", Buffer.alloc(10_000, 0x61)));
    await barrier(pub);
    const bridge = bridgeOf(b);
    expect(bridge.buffered.bytes).toBeLessThanOrEqual(100_000);
    expect(bridge.buffered.events).toBeLessThan(10);
    expect(bridge.buffered.dropped["buffer-full"]).toBeGreaterThan(190);
  });
});

describe("events bridge order across an outage", () => {
  it("a client's events arrive in order after the outage; a QoS 1 publish is acknowledged only once its event is in", async () => {
    const sink = new OutageSink();
    broker = await startTestBroker({}, createAllowAll(), undefined, { events: sink });
    const c = await client(broker, "ord");
    for (let i = 1; i <= 5; i++) c.send(publish("ord/t", `m${i}`));
    c.send(publish("ord/t", "m6", 1, 1));
    expect(await c.silentFor(500)).toBe(true); // PUBACK held: its event is not in the queue
    await until("a few failed attempts", () => sink.calls >= 3);
    sink.down = false;
    const puback = await c.expect("puback", 10_000);
    expect(puback.messageId).toBe(1);
    const mine = sink.events.filter((e) => e.clientId === "ord");
    expect(mine.map((e) => (e.type === "message.published" ? Buffer.from(e.payload, "base64").toString() : e.type))).toEqual([
      "client.connected", "m1", "m2", "m3", "m4", "m5", "m6",
    ]);
  });

  it("beyond the bound: a gap, never a reordering; later events of the client go on once there is room", async () => {
    const sink = new OutageSink();
    broker = await startTestBroker({ events: { maxBufferedEvents: 5 } }, createAllowAll(), undefined, { events: sink });
    const overflow: [boolean, number][] = [];
    broker.broker.on("events.overflow", (full, dropped) => overflow.push([full, dropped]));
    const c = await client(broker, "gap");
    for (let i = 1; i <= 10; i++) c.send(publish("gap/t", `m${i}`));
    await barrier(c);
    sink.down = false;
    const bridge = bridgeOf(broker);
    await until("the held events to be sent", () => bridge.buffered.events === 0);
    c.send(publish("gap/t", "m11"));
    await until("m11", () => sink.events.length === 6);
    const payloads = sink.events.map((e) => (e.type === "message.published" ? Buffer.from(e.payload, "base64").toString() : e.type));
    expect(payloads).toEqual(["client.connected", "m1", "m2", "m3", "m4", "m11"]);
    expect(bridge.buffered.dropped["buffer-full"]).toBe(6);
    expect(overflow).toEqual([[true, 1], [false, 6]]);
  });
});
