import type { IPublishPacket, Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import type { Store, StoreOp, StoreOpResult } from "../../core/store/types.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";
import { useRedisStores } from "../helpers/redis-stores.js";

/**
 * Packet ids of a persistent session's stored messages (the sent boundary, decision 021): a message sent from the
 * queue gets the id its store seq gives, the store records one "sent up to" number instead of every id, and a
 * resumed session re-sends what was in flight with those ids. On the memory store and on Redis.
 */

async function waitFor(cond: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function publishPacket(topic: string, payload: string, messageId: number): Packet {
  return { cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, messageId };
}

function seqOf(r: StoreOpResult | undefined): number {
  if (r === undefined || !r.ok || r.seq === undefined) throw new Error(`no seq in ${JSON.stringify(r)}`);
  return r.seq;
}

function enqueueOp(clientId: string, topic: string): StoreOp {
  const msg = { topic, payload: Buffer.from(topic), qos: 1 as const, retain: false };
  return { op: "enqueue", clientId, entry: { msg, qos: 1, retain: false, packetId: 0 }, maxQueued: 100_000, dropPolicy: "oldest" };
}

for (const kind of ["memory", "redis"] as const) {
  describe(`persistent session packet ids (${kind} store)`, () => {
    const redis = kind === "redis" ? useRedisStores() : null;
    const f = useBroker({ limits: { maxInflight: 2 } }, undefined, redis === null ? undefined : async () => (await redis.factory()).store);
    const store = (): Store => f.b.broker.store;

    it("[MQTT-4.4.0-1] messages sent from the queue come back after a reconnect with DUP=1 and the same packet ids, before the ones never sent", async () => {
      const pub = await f.raw({ clientId: "ids-pub" });
      const first = await f.raw({ clientId: "ids-sub", clean: false });
      expect(await first.subscribe("ids/r/#", 1)).toEqual([1]);
      for (let i = 1; i <= 5; i++) {
        pub.send(publishPacket("ids/r/t", `m${i}`, i));
        expect((await pub.expect("puback")).messageId).toBe(i);
      }
      // A window of 2: m1 and m2 are sent at once, m3..m5 wait in the queue.
      const got = [await first.expect("publish"), await first.expect("publish")];
      expect(await first.silentFor(100)).toBe(true);
      for (const p of got.slice()) {
        first.send({ cmd: "puback", messageId: p.messageId as number });
        got.push(await first.expect("publish"));
      }
      expect(got.map((p) => p.payload.toString())).toEqual(["m1", "m2", "m3", "m4"]);
      const [m3, m4] = got.slice(2) as [IPublishPacket, IPublishPacket];
      first.destroy();
      await waitFor(() => f.b.broker.sessions.get("ids-sub")?.link === null, "the broker to see the disconnect");

      const again = f.track(await RawClient.open(f.b.mqttPort));
      expect((await again.connect({ clientId: "ids-sub", clean: false })).sessionPresent).toBe(true);
      const resent = [await again.expect("publish"), await again.expect("publish")];
      expect(resent.map((p) => [p.payload.toString(), p.messageId, p.dup])).toEqual([["m3", m3.messageId, true], ["m4", m4.messageId, true]]);
      expect(await again.silentFor(100)).toBe(true);
      again.send({ cmd: "puback", messageId: m3.messageId as number });
      const m5 = await again.expect("publish");
      expect([m5.payload.toString(), m5.dup]).toEqual(["m5", false]);
      again.send({ cmd: "puback", messageId: m4.messageId as number });
      again.send({ cmd: "puback", messageId: m5.messageId as number });
      expect(await again.silentFor(100)).toBe(true);
      expect((await store().getSession("ids-sub"))?.outgoing).toEqual([]);
    });

    it("[MQTT-2.3.1-4] a stored message whose packet id an unacknowledged one still holds (65,535 seqs apart) waits for its PUBACK", async () => {
      const s = store();
      await s.claimSession("ids-wrap", { node: "seed", clean: false, username: null, now: Date.now() });
      const a = seqOf((await s.apply([enqueueOp("ids-wrap", "wrap/a")]))[0]);
      // 65,534 more seqs, gone again: the next message's seq is a's + 65,535, which gives the same packet id.
      for (let done = 0; done < 65_534; done += 5000) {
        const r = await s.apply(Array.from({ length: Math.min(5000, 65_534 - done) }, () => enqueueOp("ids-wrap", "filler")));
        const { epoch } = (await s.getSession("ids-wrap")) as { epoch: number };
        await s.apply(r.map((x): StoreOp => ({ op: "outgoing.delete", clientId: "ids-wrap", epoch, seq: seqOf(x) })));
      }
      const [b, c] = (await s.apply([enqueueOp("ids-wrap", "wrap/b"), enqueueOp("ids-wrap", "wrap/c")])).map(seqOf);
      expect([b, c]).toEqual([a + 65_535, a + 65_536]);
      const { epoch } = (await s.getSession("ids-wrap")) as { epoch: number };
      expect(await s.releaseSession("ids-wrap", epoch, Date.now())).toBe(true);

      const sub = await f.open();
      expect((await sub.connect({ clientId: "ids-wrap", clean: false })).sessionPresent).toBe(true);
      const pa = await sub.expect("publish");
      expect([pa.payload.toString(), pa.dup]).toEqual(["wrap/a", false]);
      // b's id is the one a holds: neither b nor c (behind it, in order) goes out while a is unacknowledged.
      expect(await sub.silentFor(300)).toBe(true);
      sub.send({ cmd: "puback", messageId: pa.messageId as number });
      const pb = await sub.expect("publish");
      const pc = await sub.expect("publish");
      expect([pb.payload.toString(), pb.messageId]).toEqual(["wrap/b", pa.messageId]);
      expect([pc.payload.toString(), pc.messageId]).toEqual(["wrap/c", ((pa.messageId as number) % 65_535) + 1]);
      sub.send({ cmd: "puback", messageId: pb.messageId as number });
      sub.send({ cmd: "puback", messageId: pc.messageId as number });
      expect(await sub.silentFor(100)).toBe(true);
      expect((await s.getSession("ids-wrap"))?.outgoing).toEqual([]);
    });

    it("[MQTT-4.4.0-1] two stored in-flight messages with one packet id (one stored behind the owner's back): the first is re-sent with it, the other after it as new, with its own", async () => {
      const s = store();
      const { epoch } = await s.claimSession("ids-twice", { node: "seed", clean: false, username: null, now: Date.now() });
      const [a, b] = (await s.apply([enqueueOp("ids-twice", "twice/a"), enqueueOp("ids-twice", "twice/b")])).map(seqOf) as [number, number];
      const pa = ((a - 1) % 65_535) + 1;
      // a was sent under the boundary (id from its seq); b was sent at once with the same id, as if a had not been.
      await s.apply([{ op: "outgoing.sent", clientId: "ids-twice", epoch, seq: a }, { op: "outgoing.update", clientId: "ids-twice", epoch, seq: b, packetId: pa, state: 0 }]);
      expect((await s.getSession("ids-twice"))?.outgoing.map((o) => o.packetId)).toEqual([pa, pa]);
      expect(await s.releaseSession("ids-twice", epoch, Date.now())).toBe(true);

      const sub = await f.open();
      expect((await sub.connect({ clientId: "ids-twice", clean: false })).sessionPresent).toBe(true);
      const first = await sub.expect("publish");
      expect([first.payload.toString(), first.messageId, first.dup]).toEqual(["twice/a", pa, true]);
      // b is sent again as a new message, with the id its own seq gives (free: it differs from a's).
      const second = await sub.expect("publish");
      expect([second.payload.toString(), second.messageId, second.dup]).toEqual(["twice/b", ((b - 1) % 65_535) + 1, false]);
      sub.send({ cmd: "puback", messageId: pa });
      sub.send({ cmd: "puback", messageId: second.messageId as number });
      expect(await sub.silentFor(100)).toBe(true);
      expect((await s.getSession("ids-twice"))?.outgoing).toEqual([]);
    });
  });
}
