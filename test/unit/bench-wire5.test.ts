import { generate, parser as createParser, type IPublishPacket, type Packet } from "mqtt-packet";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { BenchClient } from "../../bench/client.js";
import { FrameReader, PublishTemplate, type PublishView, readStamp, skipProperties, viewPublish5, writeStamp } from "../../bench/wire.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

function parse5(buf: Buffer): Packet[] {
  const out: Packet[] = [];
  const p = createParser({ protocolVersion: 5 });
  p.on("packet", (packet: Packet) => out.push(packet));
  p.on("error", (err: Error) => {
    throw err;
  });
  p.parse(buf);
  return out;
}

const emptyView = (): PublishView => ({ qos: 0, topicStart: 0, topicEnd: 0, packetId: 0, payloadStart: 0, payloadEnd: 0 });

/** Runs `buf` (one packet) through the frame reader and views its PUBLISH body with `view`. */
function viewOf(buf: Buffer, view: typeof viewPublish5): { v: PublishView; body: Buffer } {
  let got: { v: PublishView; body: Buffer } | null = null;
  new FrameReader((first, b, start, end) => {
    got = { v: view(first, b, start, end, emptyView()), body: b };
  }).push(buf);
  if (got === null) throw new Error("no frame");
  return got;
}

describe("PublishTemplate at MQTT 5", () => {
  for (const qos of [0, 1, 2] as const) {
    it(`encodes a PUBLISH with an empty property block that mqtt-packet's 5.0 parser reads (QoS ${qos})`, () => {
      const tpl = new PublishTemplate("bench/in/2", qos, 64, 5);
      const out = Buffer.alloc(tpl.size * 2);
      const o = tpl.write(out, tpl.write(out, 0, 7, 2, 41, 10.5), 8, 2, 42, 11.5);
      expect(o).toBe(out.length);
      const [a, b] = parse5(out) as [IPublishPacket, IPublishPacket];
      expect(a).toMatchObject({ cmd: "publish", topic: "bench/in/2", qos, retain: false, dup: false });
      expect(a.properties ?? {}).toEqual({});
      expect([a.messageId, b.messageId]).toEqual(qos > 0 ? [7, 8] : [undefined, undefined]);
      expect(readStamp(a.payload as Buffer, 0, 64)).toEqual({ publisher: 2, seq: 41, sentAt: 10.5 });
      expect(readStamp(b.payload as Buffer, 0, 64)).toEqual({ publisher: 2, seq: 42, sentAt: 11.5 });
    });
  }

  it("is the 3.1.1 template with one zero byte (Property Length) after the packet id, remaining length + 1", () => {
    const v4 = new PublishTemplate("bench/out", 1, 64);
    const v5 = new PublishTemplate("bench/out", 1, 64, 5);
    const idEnd = 2 + 2 + "bench/out".length + 2;
    expect(v5.size).toBe(v4.size + 1);
    expect(v5.template[1]).toBe((v4.template[1] as number) + 1);
    expect(Buffer.concat([v4.template.subarray(0, idEnd), Buffer.from([0]), v4.template.subarray(idEnd)]).subarray(2)).toEqual(v5.template.subarray(2));
    expect(new PublishTemplate("bench/out", 1, 64, 4).template).toEqual(v4.template);
  });

  it("handles a remaining length over 127 bytes", () => {
    const tpl = new PublishTemplate("t", 2, 300, 5);
    const out = Buffer.alloc(tpl.size);
    tpl.write(out, 0, 65_535, 1, 4_000_000_000, 0);
    const [p] = parse5(out) as [IPublishPacket];
    expect([p.messageId, (p.payload as Buffer).length]).toEqual([65_535, 300]);
    expect(readStamp(p.payload as Buffer, 0, 300)?.seq).toBe(4_000_000_000);
  });
});

describe("viewPublish5", () => {
  const payload = Buffer.alloc(64, 0x61);
  writeStamp(payload, 0, 9, 1234, 99.25);

  for (const qos of [0, 1, 2] as const) {
    it(`skips the property block before the payload (QoS ${qos}, Property Length of 2 bytes)`, () => {
      // A user property long enough that the Property Length takes two bytes, and a Subscription Identifier.
      const properties = { subscriptionIdentifier: 300, contentType: "application/octet-stream", userProperties: { k: "v".repeat(150) } };
      const pkt = generate({ cmd: "publish", topic: "bench/x", payload, qos, messageId: qos > 0 ? 513 : undefined, dup: false, retain: false, properties } as IPublishPacket, {
        protocolVersion: 5,
      });
      const { v, body } = viewOf(pkt, viewPublish5);
      expect([v.qos, v.packetId, body.toString("utf8", v.topicStart, v.topicEnd)]).toEqual([qos, qos > 0 ? 513 : 0, "bench/x"]);
      expect(v.payloadEnd - v.payloadStart).toBe(64);
      expect(readStamp(body, v.payloadStart, v.payloadEnd - v.payloadStart)).toEqual({ publisher: 9, seq: 1234, sentAt: 99.25 });
    });
  }

  it("reads the bench's own MQTT 5 PUBLISH (Property Length 0) like the 3.1.1 one", () => {
    const tpl = new PublishTemplate("bench/lat", 1, 64, 5);
    const out = Buffer.alloc(tpl.size);
    tpl.write(out, 0, 3, 0, 77, 5);
    const { v, body } = viewOf(out, viewPublish5);
    expect(readStamp(body, v.payloadStart, v.payloadEnd - v.payloadStart)).toEqual({ publisher: 0, seq: 77, sentAt: 5 });
  });
});

describe("skipProperties", () => {
  it("returns the offset after a one- or two-byte Property Length and its properties", () => {
    expect(skipProperties(Buffer.from([0, 0xaa]), 0, 2)).toBe(1);
    expect(skipProperties(Buffer.from([3, 1, 2, 3, 0xaa]), 0, 5)).toBe(4);
    const long = Buffer.concat([Buffer.from([0x80, 0x01]), Buffer.alloc(128)]);
    expect(skipProperties(long, 0, long.length)).toBe(130);
  });

  it("refuses a block that overruns the packet, a missing length and a length of more than 4 bytes", () => {
    expect(() => skipProperties(Buffer.from([5, 1, 2]), 0, 3)).toThrow(/overruns/);
    expect(() => skipProperties(Buffer.from([1, 2]), 2, 2)).toThrow(/malformed/);
    expect(() => skipProperties(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), 0, 5)).toThrow(/malformed/);
  });
});

describe("BenchClient at MQTT 5 against the broker", () => {
  let broker: TestBroker;
  const clients: BenchClient[] = [];
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await broker.close();
  });

  const open = async (clientId: string, clean = true) => {
    const c = await BenchClient.open({ host: "127.0.0.1", port: broker.mqttPort, clientId, clean, keepalive: 0, timeoutMs: 5000, protocol: 5 });
    clients.push(c);
    return c;
  };

  for (const qos of [1, 2] as const) {
    it(`publishes, receives the stamped payloads and completes each exchange (QoS ${qos})`, async () => {
      const sub = await open(`b5-sub-${qos}`, false);
      const pub = await open(`b5-pub-${qos}`);
      expect(pub.receiveMaximum).toBeGreaterThanOrEqual(100);
      expect(pub.receiveMaximum).toBeLessThan(65_535);
      expect(await sub.subscribe("bench/#", qos)).toBe(qos);
      const got: number[] = [];
      const completed: number[] = [];
      const done = new Promise<void>((resolve) => {
        const check = () => got.length === 5 && completed.length === 5 && resolve();
        sub.onMessage = (p, seq, _sentAt, _at, q) => {
          expect([p, q]).toEqual([3, qos]);
          got.push(seq);
          check();
        };
        pub.onComplete = (id) => {
          completed.push(id);
          check();
        };
      });
      const tpl = new PublishTemplate("bench/in/3", qos, 64, 5);
      const out = Buffer.alloc(tpl.size * 5);
      let o = 0;
      for (let seq = 0; seq < 5; seq++) o = tpl.write(out, o, seq + 1, 3, seq, performance.now());
      pub.write(out);
      await done;
      expect(got).toEqual([0, 1, 2, 3, 4]);
      expect(completed).toEqual([1, 2, 3, 4, 5]);
      expect(sub.foreign).toBe(0);
    });
  }
});
