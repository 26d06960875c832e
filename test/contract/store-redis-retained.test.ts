import { describe, expect, it } from "vitest";
import { RETAINED_EXPIRY_KEY, RETAINED_KEY, RETAINED_LEVELS_KEY, RETAINED_STATS_KEY, RETAINED_TOPICS_KEY } from "../../core/store/keys.js";
import { RedisStore } from "../../core/store/redis.js";
import { SWEEP_BUDGET } from "../../core/store/retained-index.js";
import { IoRedisTransport } from "../../core/store/transport-ioredis.js";
import type { StoredMessage } from "../../core/store/types.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { msg, T0 } from "./store/fixtures.js";
import { RecordingTransport } from "../helpers/recording-transport.js";

/*
 * Retained expiry on Redis, below the contract (docs/store.md, "Retained expiry"): the keys it leaves (none), and
 * values written by a node that predates the expiry index (a rolling upgrade), which must keep working.
 */

const redis = useRedisStores();

function expiring(topic: string, seconds: number, publishedAt = T0, payload = "v"): StoredMessage {
  return { ...msg(topic, payload, 1, true), props: { messageExpiryInterval: seconds }, publishedAt };
}

/** The value an older node writes for `m` (no `d`: encodeRetained before the expiry index). */
function olderValue(m: StoredMessage, updatedAt: number): string {
  const o: Record<string, unknown> = { t: m.topic, p: m.payload.toString("base64"), q: m.qos, r: m.retain ? 1 : 0 };
  if (m.props?.messageExpiryInterval !== undefined) o.x = { exp: m.props.messageExpiryInterval };
  if (m.publishedAt !== undefined) o.pa = m.publishedAt;
  return `${Buffer.byteLength(m.topic) + m.payload.length}:${JSON.stringify({ ...o, u: updatedAt })}`;
}

async function fresh(): Promise<{ store: RedisStore; t: RecordingTransport }> {
  await redis.admin.flushall();
  const t = new RecordingTransport(await IoRedisTransport.connect(redis.server.url));
  return { store: new RedisStore(t), t };
}

describe("retained expiry on Redis", () => {
  it("a set indexes the due time (and `d` ends the value), a replace without expiry unindexes it, a sweep leaves no key", async () => {
    const { store } = await fresh();
    const deep = "l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11";
    await store.apply([
      { op: "retained.set", msg: expiring("a/b", 5), maxRetained: 10, now: T0 },
      { op: "retained.set", msg: expiring(deep, 7), maxRetained: 10, now: T0 },
      { op: "retained.set", msg: expiring("/", 7), maxRetained: 10, now: T0 },
    ]);
    expect(await redis.admin.zscore(RETAINED_EXPIRY_KEY, "a/b")).toBe(String(T0 + 5000));
    expect(await redis.admin.hget(RETAINED_KEY, "a/b")).toMatch(new RegExp(`,"u":${T0},"d":${T0 + 5000}}$`));
    await store.apply([{ op: "retained.set", msg: msg("a/b", "forever", 1, true), maxRetained: 10, now: T0 }]);
    expect(await redis.admin.zscore(RETAINED_EXPIRY_KEY, "a/b")).toBeNull();
    expect(await redis.admin.hget(RETAINED_KEY, "a/b")).toBe(`10:{"t":"a/b","p":"Zm9yZXZlcg==","q":1,"r":1,"u":${T0}}`);
    await store.apply([{ op: "retained.delete", topic: "a/b" }]);
    expect(await store.sweepRetained(T0 + 7000, 10)).toBe(2);
    for (const key of [RETAINED_KEY, RETAINED_TOPICS_KEY, RETAINED_LEVELS_KEY, RETAINED_EXPIRY_KEY]) expect(await redis.admin.exists(key)).toBe(0);
    expect(await redis.admin.hget(RETAINED_STATS_KEY, "bytes")).toBe("0");
    await store.close();
  });

  it("rolling upgrade: a replace by an older node (no `d`, index untouched) survives the sweep of the message it replaced", async () => {
    const { store } = await fresh();
    await store.apply([{ op: "retained.set", msg: expiring("r/1", 5), maxRetained: 10, now: T0 }]);
    await redis.admin.hset(RETAINED_KEY, "r/1", olderValue(msg("r/1", "newer", 1, true), T0 + 1000));
    expect(await store.sweepRetained(T0 + 5000, 10)).toBe(0);
    expect((await store.getRetained("r/1"))?.payload.toString()).toBe("newer");
    expect(await redis.admin.zscore(RETAINED_EXPIRY_KEY, "r/1")).toBeNull();
    await store.close();
  });

  it("rolling upgrade: a delete by an older node leaves an entry the sweep drops; messages stored before stay readable", async () => {
    const { store } = await fresh();
    await store.apply([{ op: "retained.set", msg: expiring("r/2", 5), maxRetained: 10, now: T0 }]);
    await redis.admin.hdel(RETAINED_KEY, "r/2");
    await redis.admin.zrem(RETAINED_TOPICS_KEY, "r/2");
    await redis.admin.zrem(RETAINED_LEVELS_KEY, "1:2/r/2");
    // Stored before the index (an expiring message without `d` or entry): read as before, never swept.
    const before = expiring("r/3", 5);
    await redis.admin.hset(RETAINED_KEY, "r/3", olderValue(before, T0));
    await redis.admin.zadd(RETAINED_TOPICS_KEY, 0, "r/3");
    expect(await store.getRetained("r/3")).toEqual({ ...before, updatedAt: T0 });
    expect(await store.sweepRetained(T0 + 60_000, 10)).toBe(0);
    expect(await redis.admin.exists(RETAINED_EXPIRY_KEY)).toBe(0);
    expect((await store.listRetained({ limit: 10 })).items.map((m) => m.topic)).toEqual(["r/3"]);
    // Replaced by a new node, it is indexed like any other.
    await store.apply([{ op: "retained.set", msg: expiring("r/3", 5, T0 + 60_000), maxRetained: 10, now: T0 + 60_000 }]);
    expect(await store.sweepRetained(T0 + 65_000, 10)).toBe(1);
    await store.close();
  });

  it(`one sweep script looks at no more than ${SWEEP_BUDGET} entries: a larger limit takes several round trips`, async () => {
    const { store, t } = await fresh();
    const n = SWEEP_BUDGET + 44;
    const ops = Array.from({ length: n }, (_, i) => ({ op: "retained.set" as const, msg: expiring(`bulk/${i}`, 1), maxRetained: n, now: T0 }));
    expect((await store.apply(ops)).every((r) => r.ok)).toBe(true);
    expect(await store.sweepRetained(T0, 1000)).toBe(0); // nothing due yet; the script is cached now
    t.trips = 0;
    expect(await store.sweepRetained(T0 + 1000, 1000)).toBe(n);
    expect(t.trips).toBe(2);
    expect(await store.retainedStats()).toEqual({ count: 0, bytes: 0 });
    await store.close();
  });
});
