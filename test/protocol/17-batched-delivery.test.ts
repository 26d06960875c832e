import type { IPublishPacket, Packet } from "mqtt-packet";
import { generate } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

// The broker copies everything it writes to a connection in one tick into one buffer, and encodes a message once
// for all its receivers (each receiver's copy gets its own QoS, RETAIN, DUP and packet id). These tests check what
// subscribers receive when many packets, receivers and QoS levels meet in one tick.

const f = useBroker();

/** Reads PUBLISHes from `sub`, acknowledging each (PUBACK, or PUBREC then PUBCOMP on PUBREL), until `n` arrived. */
async function receive(sub: RawClient, n: number): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  while (got.length < n) {
    const p: Packet = await sub.next(5000);
    if (p.cmd === "publish") {
      got.push(p);
      if (p.qos === 1) sub.send({ cmd: "puback", messageId: p.messageId as number });
      if (p.qos === 2) sub.send({ cmd: "pubrec", messageId: p.messageId as number });
    } else if (p.cmd === "pubrel") {
      sub.send({ cmd: "pubcomp", messageId: p.messageId as number });
    } else {
      throw new Error(`unexpected ${p.cmd}`);
    }
  }
  return got;
}

describe("delivery batched per tick", () => {
  it("one message to receivers at QoS 0, 1 and 2: each copy has its own QoS and packet id", async () => {
    const subs = [await f.raw(), await f.raw(), await f.raw()];
    for (const [q, s] of subs.entries()) expect(await s.subscribe("batch/one", q as 0 | 1 | 2)).toEqual([q]);
    // One message to the QoS 2 receiver alone first: its next packet id is then 2, the QoS 1 receiver's is 1.
    const q2 = subs[2] as RawClient;
    expect(await q2.subscribe("batch/pre", 2)).toEqual([2]);
    const pub = await f.raw();
    pub.send({ cmd: "publish", topic: "batch/pre", payload: Buffer.from("pre"), qos: 1, messageId: 1, retain: false, dup: false });
    await pub.expect("puback");
    expect((await receive(q2, 1))[0]?.messageId).toBe(1);
    pub.send({ cmd: "publish", topic: "batch/one", payload: Buffer.from("shared"), qos: 2, messageId: 2, retain: false, dup: false });
    await pub.expect("pubrec");
    pub.send({ cmd: "pubrel", messageId: 2 });
    await pub.expect("pubcomp");
    const got = (await Promise.all(subs.map((s) => receive(s, 1)))).map((g) => g[0] as IPublishPacket);
    expect(got.map((p) => [p.topic, p.payload.toString(), p.qos, p.messageId ?? null, p.retain, p.dup])).toEqual([
      ["batch/one", "shared", 0, null, false, false],
      ["batch/one", "shared", 1, 1, false, false],
      ["batch/one", "shared", 2, 2, false, false],
    ]);
  });

  it("a burst written in one chunk, with a large payload inside, reaches every receiver complete and in order", async () => {
    const subs = [await f.raw(), await f.raw(), await f.raw()];
    for (const [q, s] of subs.entries()) expect(await s.subscribe("batch/burst/#", q as 0 | 1 | 2)).toEqual([q]);
    const pub = await f.raw();
    const payloads = Array.from({ length: 150 }, (_, i) => (i === 70 ? Buffer.alloc(40_000, 0x41 + (i % 26)) : Buffer.from(`message ${i}`)));
    const bytes = Buffer.concat(
      payloads.map((payload, i) => generate({ cmd: "publish", topic: `batch/burst/${i % 3}`, payload, qos: 1, messageId: i + 1, retain: false, dup: false })),
    );
    pub.sendBytes(bytes);
    const acks: number[] = [];
    while (acks.length < payloads.length) {
      const p = await pub.next(5000);
      if (p.cmd === "puback") acks.push(p.messageId as number);
    }
    expect(acks).toEqual(payloads.map((_, i) => i + 1));
    for (const [q, s] of subs.entries()) {
      const got = await receive(s, payloads.length);
      expect(got.map((p, i) => Buffer.compare(p.payload as Buffer, payloads[i] as Buffer))).toEqual(payloads.map(() => 0));
      expect(got.map((p) => p.topic)).toEqual(payloads.map((_, i) => `batch/burst/${i % 3}`));
      expect(new Set(got.map((p) => p.qos))).toEqual(new Set([Math.min(q, 1)]));
      if (q > 0) expect(new Set(got.map((p) => p.messageId)).size).toBe(payloads.length);
    }
  });

  it("round after round of messages of changing sizes to several receivers: a batch's memory, used again for later batches, never mixes two messages", async () => {
    // A batch the kernel took at once is used again for a later one (broker/outbox.ts, broker/spare-batches.ts), and the bytes of the
    // last PUBLISH written are copied for its next receiver: sizes that change every round make batches land in
    // spares larger than they need and leave spares of every size behind.
    const subs = [await f.raw(), await f.raw(), await f.raw()];
    for (const [q, s] of subs.entries()) expect(await s.subscribe("batch/sizes/#", Math.min(q, 1) as 0 | 1)).toEqual([Math.min(q, 1)]);
    const pub = await f.raw();
    const sizes = Array.from({ length: 120 }, (_, i) => (i * 37) % 130);
    const received: string[][] = subs.map(() => []);
    for (const [i, size] of sizes.entries()) {
      const payload = Buffer.alloc(size, 0x61 + (i % 26));
      pub.send({ cmd: "publish", topic: `batch/sizes/${"x".repeat(i % 7)}`, payload, qos: 1, messageId: i + 1, retain: false, dup: false });
      await pub.expect("puback");
      for (const [k, s] of subs.entries()) {
        const [p] = await receive(s, 1);
        received[k]?.push(`${(p as IPublishPacket).topic} ${(p as IPublishPacket).payload.toString()}`);
      }
    }
    const want = sizes.map((size, i) => `batch/sizes/${"x".repeat(i % 7)} ${String.fromCharCode(0x61 + (i % 26)).repeat(size)}`);
    for (const got of received) expect(got).toEqual(want);
  });

  it("a retained message goes to a new subscriber with RETAIN 1 and to existing ones with RETAIN 0, in the same tick", async () => {
    const existing = await f.raw();
    expect(await existing.subscribe("batch/retained", 1)).toEqual([1]);
    const pub = await f.raw();
    pub.send({ cmd: "publish", topic: "batch/retained", payload: Buffer.from("kept"), qos: 1, messageId: 9, retain: true, dup: false });
    await pub.expect("puback");
    const [live] = await receive(existing, 1);
    expect(live?.retain).toBe(false);
    const late = await f.raw();
    expect(await late.subscribe("batch/retained", 1)).toEqual([1]);
    const [stored] = await receive(late, 1);
    expect(stored?.retain).toBe(true);
    expect(stored?.payload.toString()).toBe("kept");
  });
});

describe("a message queued for one receiver, written after another receiver's batch was used again (maxInflight 1)", () => {
  const g = useBroker({ limits: { maxInflight: 1 } });

  it("reaches the queued receiver intact: the bytes kept for the next receiver are forgotten once their batch is reused", async () => {
    // A publishes and receives its own messages; B's window (1) is full, so M waits in B's queue while A's batch
    // (M and A's PUBACK) is written, given back as a spare, and used for A's next batch (PINGRESP).
    const a = await g.raw();
    const b = await g.raw();
    expect(await a.subscribe("batch/stale/#", 1)).toEqual([1]);
    expect(await b.subscribe("batch/stale/#", 1)).toEqual([1]);
    const publish = async (messageId: number, payload: string): Promise<void> => {
      a.send({ cmd: "publish", topic: `batch/stale/${messageId}`, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false });
      const seen: string[] = [];
      while (seen.length < 2) {
        const p = await a.next(5000);
        seen.push(p.cmd);
        if (p.cmd === "publish") {
          expect(p.payload.toString()).toBe(payload);
          a.send({ cmd: "puback", messageId: p.messageId as number });
        }
      }
      expect(seen.sort()).toEqual(["puback", "publish"]);
    };
    await publish(1, "first");
    const p1 = (await b.next(5000)) as IPublishPacket;
    expect(p1.payload.toString()).toBe("first");
    await publish(2, "the second message");
    a.send({ cmd: "pingreq" });
    await a.expect("pingresp");
    // B's acknowledgement lets M out of its queue: written then, with M still the last message written.
    b.send({ cmd: "puback", messageId: p1.messageId as number });
    const [m] = await receive(b, 1);
    expect([(m as IPublishPacket).topic, (m as IPublishPacket).payload.toString()]).toEqual(["batch/stale/2", "the second message"]);
  });
});
