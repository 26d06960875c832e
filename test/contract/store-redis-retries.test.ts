import { describe, expect, it } from "vitest";
import { APPLIED_RECORD_MS, APPLIED_WRITERS_TRIM, appliedField } from "../../core/store/apply-key.js";
import { sessionKeys } from "../../core/store/keys.js";
import { RedisStore } from "../../core/store/redis.js";
import { IoRedisTransport } from "../../core/store/transport-ioredis.js";
import type { StoreOp } from "../../core/store/types.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { enqueueOp, msg } from "./store/fixtures.js";
import { RecordingTransport } from "../helpers/recording-transport.js";

/** Keyed `apply` calls on Redis (decision 030): where the record lives, what a retry costs, how records go. */

const redis = useRedisStores();

async function open(): Promise<{ store: RedisStore; t: RecordingTransport; epoch: number }> {
  await redis.admin.flushall();
  const t = new RecordingTransport(await IoRedisTransport.connect(redis.server.url));
  const store = new RedisStore(t);
  const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
  return { store, t, epoch };
}

/** Every key of the session and its content. */
async function dump(clientId: string): Promise<unknown[]> {
  const k = sessionKeys(clientId);
  return [await redis.admin.hgetall(k.meta), await redis.admin.hgetall(k.out), await redis.admin.zrange(k.queue, 0, -1, "WITHSCORES"), await redis.admin.hgetall(k.version), await redis.admin.zrange(k.seen, 0, -1, "WITHSCORES")];
}

describe("keyed apply on Redis", () => {
  it("the record is one field of the session's ver hash; a retry is one script call that writes nothing", async () => {
    const { store, t, epoch } = await open();
    const key = { writer: "w1", batch: 3 };
    const ops: StoreOp[] = [enqueueOp("c1", msg("t/1"), { epoch }), enqueueOp("c1", msg("t/2"), { epoch, dedupId: "n2:1", now: 5 })];
    await store.apply([enqueueOp("c1", msg("t/0"), { epoch })]); // the script is loaded (EVALSHA, then EVAL once)
    t.sent = [];
    const r = await store.apply(ops, key);
    expect(t.sent).toHaveLength(1);
    expect((t.sent[0] as readonly string[]).slice(12, 14)).toEqual([appliedField(key, 0), "3"]);
    const ver = await redis.admin.hgetall(sessionKeys("c1").version);
    expect(Object.keys(ver).sort()).toEqual(["epoch", "seq", "w:w1"]);
    // batch, time, codes (all done: '#' and their count), the seq counter before the call.
    expect(ver["w:w1"]?.split("\n").filter((_, i) => i !== 1)).toEqual(["3", "#2", "1"]);
    const before = await dump("c1");
    t.sent = [];
    expect(await store.apply(ops, key)).toEqual(r);
    expect(t.sent).toHaveLength(1);
    expect(await dump("c1")).toEqual(before);
    await store.close();
  });

  it("a writer's first record in a session removes records older than APPLIED_RECORD_MS once there are many", async () => {
    const { store, epoch } = await open();
    const k = sessionKeys("c1").version;
    const old = Date.now() - APPLIED_RECORD_MS - 1000;
    const recent = Date.now();
    for (let i = 0; i < APPLIED_WRITERS_TRIM; i++) await redis.admin.hset(k, `w:old${i}`, `1\n${old}\n1\n0`);
    await redis.admin.hset(k, "w:recent", `1\n${recent}\n1\n0`);
    // The same writer again: no trim.
    await redis.admin.hset(k, "w:w1", `1\n${old}\n1\n0`);
    await store.apply([enqueueOp("c1", msg("t/1"), { epoch })], { writer: "w1", batch: 2 });
    expect(Object.keys(await redis.admin.hgetall(k))).toHaveLength(2 + APPLIED_WRITERS_TRIM + 2);
    // A new writer: the old records go, the recent ones stay.
    await store.apply([enqueueOp("c1", msg("t/2"), { epoch })], { writer: "w2", batch: 1 });
    expect(Object.keys(await redis.admin.hgetall(k)).sort()).toEqual(["epoch", "seq", "w:recent", "w:w1", "w:w2"]);
    await store.close();
  });
});
