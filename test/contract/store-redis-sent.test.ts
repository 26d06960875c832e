import { describe, expect, it } from "vitest";
import { sessionKeys } from "../../core/store/keys.js";
import { RedisStore } from "../../core/store/redis.js";
import { sentPacketId } from "../../core/store/sent-boundary.js";
import { IoRedisTransport } from "../../core/store/transport-ioredis.js";
import type { StoreOp, StoreOpResult } from "../../core/store/types.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { enqueueOp, msg } from "./store/fixtures.js";
import { RecordingTransport } from "../helpers/recording-transport.js";

/** The sent boundary on Redis (decision 021): its schema, data written before it, and what a batch costs. */

const redis = useRedisStores();

function seqOf(r: StoreOpResult | undefined): number {
  if (r === undefined || !r.ok || r.seq === undefined) throw new Error(`no seq in ${JSON.stringify(r)}`);
  return r.seq;
}

describe("the sent boundary on Redis", () => {
  async function open(): Promise<{ store: RedisStore; t: RecordingTransport; epoch: number }> {
    await redis.admin.flushall();
    const t = new RecordingTransport(await IoRedisTransport.connect(redis.server.url));
    const store = new RedisStore(t);
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    return { store, t, epoch };
  }

  it("is one meta field written once per batch: entries keep their stored values, the queue index keeps only the entries above it", async () => {
    const { store, epoch } = await open();
    const k = sessionKeys("c1");
    const s = (await store.apply(Array.from({ length: 6 }, (_, i) => enqueueOp("c1", msg(`t/${i}`))))).map(seqOf);
    const before = await redis.admin.hgetall(k.out);
    const sent = (i: number): StoreOp => ({ op: "outgoing.sent", clientId: "c1", epoch, seq: s[i] as number });
    expect((await store.apply([sent(0), sent(1), sent(2), sent(3)])).every((r) => r.ok)).toBe(true);
    expect(await redis.admin.hget(k.meta, "sent")).toBe(String(s[3]));
    expect(await redis.admin.hgetall(k.out)).toEqual(before);
    expect(await redis.admin.zrange(k.queue, 0, -1)).toEqual([String(s[4]), String(s[5])]);
    // The snapshot derives the packet ids of the entries below the boundary.
    expect((await store.getSession("c1"))?.outgoing.map((o) => o.packetId)).toEqual([...s.slice(0, 4).map(sentPacketId), 0, 0]);
    await store.close();
  });

  it("a session written before the boundary (explicit packet ids in the headers, no `sent`) loads and goes on", async () => {
    const { store, epoch } = await open();
    const k = sessionKeys("c1");
    const body = "10103:a/bAP8="; // message QoS 1, delivery QoS 1, topic a/b, payload 00 ff
    await redis.admin.hset(k.out, "1", `5:0:${body}`, "2", "9:1:20203:a/bAP8=", "3", `0:0:${body}`, "4", `0:0:${body}`);
    await redis.admin.zadd(k.queue, 3, "3", 4, "4");
    await redis.admin.hset(k.version, "seq", "4");
    const again = await store.claimSession("c1", { node: "n2", clean: false, username: null, now: 2 });
    expect(again.snapshot.outgoing.map((o) => [o.seq, o.qos, o.packetId, o.state])).toEqual([[1, 1, 5, 0], [2, 2, 9, 1], [3, 1, 0, 0], [4, 1, 0, 0]]);
    const r = await store.apply([
      { op: "outgoing.delete", clientId: "c1", epoch: again.epoch, seq: 1 },
      { op: "outgoing.sent", clientId: "c1", epoch: again.epoch, seq: 3 },
      enqueueOp("c1", msg("new"), { maxQueued: 2 }),
      enqueueOp("c1", msg("newer"), { maxQueued: 2 }),
    ]);
    expect(r).toEqual([{ ok: true }, { ok: true }, { ok: true, seq: 5 }, { ok: true, seq: 6, dropped: 4 }]);
    expect((await store.getSession("c1"))?.outgoing.map((o) => [o.seq, o.packetId, o.state])).toEqual([[2, 9, 1], [3, sentPacketId(3), 0], [5, 0, 0], [6, 0, 0]]);
    expect(await redis.admin.zrange(k.queue, 0, -1)).toEqual(["5", "6"]);
    expect(epoch).toBeLessThan(again.epoch);
    await store.close();
  });

  it("a fan-in batch costs one argument per message: enqueues share one code, sends and acknowledgements are folded", async () => {
    const { store, t, epoch } = await open();
    const s = (await store.apply(Array.from({ length: 100 }, (_, i) => enqueueOp("c1", msg(`t/${i}`))))).map(seqOf);
    await store.apply(s.slice(0, 50).map((seq): StoreOp => ({ op: "outgoing.sent", clientId: "c1", epoch, seq })));
    // Under fan-in: each PUBACK deletes an entry and lets the next one be sent.
    const ops: StoreOp[] = [];
    for (let i = 0; i < 50; i++) {
      ops.push({ op: "outgoing.delete", clientId: "c1", epoch, seq: s[i] as number });
      ops.push({ op: "outgoing.sent", clientId: "c1", epoch, seq: s[50 + i] as number });
    }
    t.sent = [];
    expect(await store.apply(ops)).toEqual(ops.map(() => ({ ok: true })));
    expect(t.sent).toHaveLength(1);
    const call = t.sent[0] as readonly string[];
    expect(call[0]).toBe("EVALSHA");
    // EVALSHA sha 8 <8 keys> window, no record (field, batch) and the time (decision 030), then: no names, 'k' epoch,
    // 'x' from to, 's' seq.
    expect(call.slice(12, 14)).toEqual(["", ""]);
    expect(call.slice(15)).toEqual(["0", "k", String(epoch), "x", String(s[0]), String(s[49]), "s", String(s[99])]);
    expect((await store.getSession("c1"))?.outgoing.map((o) => [o.seq, o.packetId])).toEqual(s.slice(50).map((seq) => [seq, sentPacketId(seq)]));
    expect(await redis.admin.zcard(sessionKeys("c1").queue)).toBe(0);
    // New messages, then PUBACKs with the next sends: the values, and a constant number of other arguments.
    const more: StoreOp[] = Array.from({ length: 40 }, (_, i) => enqueueOp("c1", msg(`u/${i}`)));
    for (let i = 50; i < 90; i++) more.push({ op: "outgoing.delete", clientId: "c1", epoch, seq: s[i] as number });
    t.sent = [];
    const r = await store.apply(more);
    expect(r.slice(0, 40).map(seqOf)).toEqual(Array.from({ length: 40 }, (_, i) => (s[99] as number) + 1 + i));
    expect(t.sent).toHaveLength(1);
    expect((t.sent[0] as readonly string[]).length - 10).toBeLessThanOrEqual(40 + 16 + 3);
    await store.close();
  });
});
