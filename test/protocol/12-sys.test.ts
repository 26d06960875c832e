import type { IPublishPacket, Packet } from "mqtt-packet";
import { afterAll, describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";

// $SYS statistics, published every second here (sysIntervalSeconds: 1) as retained QoS 0 messages.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects every PUBLISH a raw client receives, in order. */
class Collector {
  readonly messages: IPublishPacket[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  constructor(readonly client: RawClient) {
    this.loop = (async () => {
      while (this.running && !client.closed) {
        let p: Packet;
        try {
          p = await client.next(200);
        } catch {
          continue;
        }
        if (p.cmd === "publish") this.messages.push(p);
      }
    })();
  }
  /** Waits until a message after index `from` satisfies `pred`; returns its index. */
  async waitFor(pred: (m: IPublishPacket) => boolean, from = 0, timeoutMs = 4000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m, k) => k >= from && pred(m));
      if (i >= 0) return i;
      if (Date.now() > deadline) throw new Error(`no matching message within ${timeoutMs} ms; got ${this.messages.slice(from).map((m) => m.topic).join(", ")}`);
      await sleep(20);
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.destroy();
  }
}

async function subscriber(port: number, filters: string[]): Promise<Collector> {
  const client = await RawClient.connected(port);
  expect(await client.subscribe(filters.map((topic) => [topic, 0]))).toEqual(filters.map(() => 0));
  return new Collector(client);
}

const topicIs = (t: string) => (m: IPublishPacket) => m.topic === t;
const num = (m: IPublishPacket) => Number(m.payload.toString());

describe("$SYS topics", () => {
  const f = useBroker({ sysIntervalSeconds: 1 });
  const open: Collector[] = [];
  afterAll(async () => {
    for (const c of open) await c.stop();
  });

  it("a $SYS/# subscriber receives the broker version retained (RETAIN=1) and the counters", async () => {
    const sys = await subscriber(f.b.mqttPort, ["$SYS/#"]);
    open.push(sys);
    const v = sys.messages[await sys.waitFor(topicIs("$SYS/broker/version"))]!;
    expect(v.retain).toBe(true);
    expect(v.qos).toBe(0);
    expect(v.payload.toString()).toMatch(/^mqgate \d+\.\d+\.\d+/);
    const uptime = sys.messages[await sys.waitFor(topicIs("$SYS/broker/uptime"))]!;
    expect(uptime.payload.toString()).toMatch(/^\d+ seconds$/);
    for (const t of ["clients/connected", "clients/total", "messages/received", "messages/sent", "bytes/received", "subscriptions/count"]) {
      const m = sys.messages[await sys.waitFor(topicIs(`$SYS/broker/${t}`))]!;
      expect(m.payload.toString(), t).toMatch(/^\d+$/);
    }
    // Live updates follow the retained snapshot: a later pass arrives with RETAIN=0 [MQTT-3.3.1-9].
    const before = sys.messages.length;
    const live = sys.messages[await sys.waitFor(topicIs("$SYS/broker/uptime"), before, 3000)]!;
    expect(live.retain).toBe(false);
  });

  it("$SYS/broker/clients/connected counts a newly connected client", async () => {
    const sys = await subscriber(f.b.mqttPort, ["$SYS/broker/clients/connected"]);
    open.push(sys);
    const first = num(sys.messages[await sys.waitFor(() => true)]!);
    expect(first).toBeGreaterThanOrEqual(1); // the subscriber itself
    const extra = await f.raw();
    const from = sys.messages.length;
    const i = await sys.waitFor((m) => num(m) >= first + 1, from);
    expect(num(sys.messages[i]!)).toBeGreaterThanOrEqual(first + 1);
    extra.destroy();
  });

  it("$SYS/broker/messages/received grows by at least the number of messages published", async () => {
    // One socket carries both the counters and the test messages, in order: a counter received after the last
    // test message was computed after the broker had received all of them.
    const sys = await subscriber(f.b.mqttPort, ["$SYS/broker/messages/received", "sys-test/n"]);
    open.push(sys);
    const received = topicIs("$SYS/broker/messages/received");
    const start = await sys.waitFor(received);
    const pub = await f.raw();
    const N = 25;
    for (let i = 1; i <= N; i++) {
      pub.send({ cmd: "publish", topic: "sys-test/n", payload: Buffer.from(String(i)), qos: 1, messageId: i, retain: false, dup: false });
      expect((await pub.expect("puback")).messageId).toBe(i);
    }
    const lastTest = await sys.waitFor((m) => m.topic === "sys-test/n" && m.payload.toString() === String(N));
    // The latest counter seen before the publishes were all routed is the baseline.
    const before = sys.messages.slice(start, lastTest).filter(received).map(num);
    const baseline = Math.max(...before);
    const next = sys.messages[await sys.waitFor(received, lastTest + 1)]!;
    expect(num(next)).toBeGreaterThanOrEqual(baseline + N);
    pub.destroy();
  });

  it("[MQTT-4.7.2-1] subscriptions starting with # or + receive no $SYS messages", async () => {
    const hash = await subscriber(f.b.mqttPort, ["#"]);
    const plus = await subscriber(f.b.mqttPort, ["+/broker/#", "+/+/uptime"]);
    const sys = await subscriber(f.b.mqttPort, ["$SYS/broker/uptime"]);
    open.push(hash, plus, sys);
    // Wait for two $SYS passes, then a marker that # must see.
    await sys.waitFor(() => true);
    await sys.waitFor(() => true, sys.messages.length, 3000);
    const pub = await f.raw();
    pub.send({ cmd: "publish", topic: "marker", payload: Buffer.from("m"), qos: 1, messageId: 1, retain: false, dup: false });
    await pub.expect("puback");
    await hash.waitFor(topicIs("marker"));
    expect(hash.messages.map((m) => m.topic)).toEqual(["marker"]);
    expect(plus.messages).toEqual([]);
    pub.destroy();
  });

  it("a client PUBLISH to $SYS is acknowledged but dropped and counted as denied", async () => {
    const sys = await subscriber(f.b.mqttPort, ["$SYS/broker/fake", "$SYS/broker/version"]);
    open.push(sys);
    await sys.waitFor(topicIs("$SYS/broker/version"));
    const denied = f.b.broker.stats.publishDenied;
    const pub = await f.raw();
    pub.send({ cmd: "publish", topic: "$SYS/broker/fake", payload: Buffer.from("x"), qos: 1, messageId: 9, retain: true, dup: false });
    expect((await pub.expect("puback")).messageId).toBe(9);
    pub.send({ cmd: "publish", topic: "$SYS/broker/version", payload: Buffer.from("evil"), qos: 0, retain: true, dup: false });
    pub.send({ cmd: "pingreq" });
    await pub.expect("pingresp");
    expect(f.b.broker.stats.publishDenied).toBe(denied + 2);
    expect(await pub.silentFor(300)).toBe(true);
    expect(sys.messages.map((m) => m.topic)).toEqual(["$SYS/broker/version"]);
    pub.destroy();
    const fresh = await subscriber(f.b.mqttPort, ["$SYS/broker/version"]);
    open.push(fresh);
    const v = fresh.messages[await fresh.waitFor(() => true)]!;
    expect(v.payload.toString()).toMatch(/^mqgate /);
  });
});
