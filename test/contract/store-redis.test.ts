import { describe, expect, it } from "vitest";
import { RedisStore, SESSION_CALL_OPS } from "../../core/store/redis.js";
import { ClaimRefused } from "../../core/store/errors.js";
import { DEDUP_WINDOW_MS, EXPIRY_KEY, ownedKey, RETAINED_KEY, sessionKeys, SESSIONS_KEY, willKeys } from "../../core/store/keys.js";
import { unindex } from "../../core/store/redis-index.js";
import * as S from "../../core/store/scripts.js";
import { RedisClient } from "../../core/store/transport.js";
import { connectRedisStore, IoRedisTransport } from "../../core/store/transport-ioredis.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { enqueueOp, msg } from "./store/fixtures.js";
import { storeContract } from "./store.suite.js";
import { RecordingTransport } from "../helpers/recording-transport.js";

const redis = useRedisStores();

storeContract("redis (ioredis over TCP)", redis.factory);

describe("RedisStore over TCP", () => {
  async function counted(): Promise<{ store: RedisStore; t: RecordingTransport }> {
    await redis.admin.flushall();
    const t = new RecordingTransport(await IoRedisTransport.connect(redis.server.url));
    return { store: new RedisStore(t), t };
  }

  it("has kind 'redis'", async () => {
    const store = await connectRedisStore(redis.server.url);
    expect(store.kind).toBe("redis");
    await store.close();
  });

  it("apply costs one round trip per batch, and a claim one round trip", async () => {
    const { store, t } = await counted();
    await store.apply([{ op: "retained.set", msg: { topic: "warm", payload: Buffer.from("x"), qos: 0, retain: true }, maxRetained: 10 }]);
    t.trips = 0;
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    expect(t.trips).toBe(1);
    t.trips = 0;
    const ops = Array.from({ length: 50 }, (_, i) => enqueueOp("c1", msg(`t/${i}`, Buffer.from([i]))));
    const results = await store.apply([...ops, { op: "inbound2.add", clientId: "c1", epoch, packetId: 1 }]);
    expect(results).toHaveLength(51);
    expect(t.trips).toBe(1);
    await store.close();
  });

  it("every key starts with mqg: and a session's keys share one hash tag", async () => {
    const { store } = await counted();
    const { epoch } = await store.claimSession("dev/1", { node: "n1", clean: false, username: "u", now: 1 });
    await store.updateSubscriptions("dev/1", epoch, { "a/#": 1 }, []);
    await store.apply([
      enqueueOp("dev/1", msg("a/b")),
      { op: "inbound2.add", clientId: "dev/1", epoch, packetId: 3 },
      { op: "retained.set", msg: { topic: "a/b", payload: Buffer.from("r"), qos: 1, retain: true }, maxRetained: 10 },
    ]);
    await store.registerNode({ nodeId: "n1", address: "a", queueUrl: null, startedAt: 1, heartbeatAt: 1 }, 1000);
    await store.putApiKey({ id: "k", hash: "0".repeat(64), name: "k", scopes: ["admin"], topics: ["#"], createdAt: 1 });
    await store.incrCounters({ x: 1 });
    const keys = (await redis.admin.keys("*")).sort();
    expect(keys.every((k) => k.startsWith("mqg:"))).toBe(true);
    const sessionKeys = keys.filter((k) => k.includes("{c:"));
    expect(sessionKeys.length).toBeGreaterThanOrEqual(5);
    expect(sessionKeys.every((k) => k.startsWith("mqg:{c:dev/1}:"))).toBe(true);
    await store.close();
  });

  it("falls back to EVAL after SCRIPT FLUSH (NOSCRIPT), for single scripts and pipelines", async () => {
    const { store } = await counted();
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    await redis.admin.script("FLUSH");
    expect(await store.getSession("c1")).not.toBeNull();
    await redis.admin.script("FLUSH");
    const r = await store.apply([
      { op: "inbound2.add", clientId: "c1", epoch, packetId: 1 },
      { op: "inbound2.add", clientId: "c1", epoch, packetId: 2 },
    ]);
    expect(r).toEqual([{ ok: true }, { ok: true }]);
    expect((await store.getSession("c1"))?.inboundQos2).toEqual([1, 2]);
    await redis.admin.script("FLUSH");
    expect((await store.claimSession("c2", { node: "n2", clean: false, username: null, now: 1 })).epoch).toBe(1);
    expect(await store.sessionsOwnedBy("n2")).toEqual(["c2"]);
    expect((await store.listSessions({ limit: 10 })).items.map((r) => r.clientId)).toEqual(["c1", "c2"]);
    await store.close();
  });

  it("ping is false while Redis is down and the store works again after a restart", async () => {
    const store = await connectRedisStore(redis.server.url, { commandTimeoutMs: 500, maxRetriesPerRequest: 0 });
    expect(await store.ping()).toBe(true);
    redis.server.kill();
    expect(await store.ping()).toBe(false);
    await expect(store.getSession("c1")).rejects.toThrow();
    await redis.server.restart();
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await store.ping();
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    expect(up).toBe(true);
    expect((await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 })).epoch).toBe(1);
    await store.close();
  });

  it("global indexes: a removal puts back the entry of a session that exists again; stale entries are skipped", async () => {
    await redis.admin.flushall();
    const transport = await IoRedisTransport.connect(redis.server.url);
    const store = new RedisStore(transport);
    await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    await unindex(new RedisClient(transport), [{ clientId: "c1", node: "n1", session: true }]);
    expect(await redis.admin.zscore(SESSIONS_KEY, "c1")).toBe("0");
    expect(await redis.admin.sismember(ownedKey("n1"), "c1")).toBe(1);
    // Entries left behind by a crash between a session script and its index update:
    await redis.admin.zadd(SESSIONS_KEY, 0, "ghost");
    await redis.admin.sadd(ownedKey("n1"), "ghost");
    expect((await store.listSessions({ limit: 10 })).items.map((r) => r.clientId)).toEqual(["c1"]);
    expect(await store.allSubscriptions()).toEqual([]);
    expect(await store.sessionsOwnedBy("n1")).toEqual(["c1"]);
    expect(await redis.admin.sismember(ownedKey("n1"), "ghost")).toBe(0);
    expect(await store.deleteSession("ghost")).toBe(false);
    expect(await redis.admin.zscore(SESSIONS_KEY, "ghost")).toBeNull();
    await store.close();
  });

  it("a refused claim leaves no index entry behind: refusals cannot inflate the session count or the owned set", async () => {
    const { store } = await counted();
    await store.claimSession("alice-1", { node: "n1", clean: false, username: "alice", now: 1, identity: "user:alice", maxSessions: 1 });
    for (let i = 0; i < 5; i++) {
      await expect(store.claimSession(`new-${i}`, { node: "n2", clean: false, username: null, now: 1, maxSessions: 1 })).rejects.toBeInstanceOf(ClaimRefused);
    }
    await expect(store.claimSession("alice-1", { node: "n2", clean: true, username: "eve", now: 1, identity: "user:eve" })).rejects.toBeInstanceOf(ClaimRefused);
    expect(await redis.admin.zrange(SESSIONS_KEY, 0, -1)).toEqual(["alice-1"]);
    expect(await redis.admin.smembers(ownedKey("n2"))).toEqual([]);
    expect(await redis.admin.hget(sessionKeys("alice-1").meta, "identity")).toBe("user:alice");
    await store.close();
  });

  it("the expiry index: a claim adds (never raises) the entry, a sweep moves or removes it", async () => {
    const { store } = await counted();
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1000, expiryMs: 500 });
    expect(await redis.admin.zscore(EXPIRY_KEY, "c1")).toBe("1500");
    // Online when due: checked again one interval later.
    expect(await store.expireSessions(1500, 10)).toEqual([]);
    expect(await redis.admin.zscore(EXPIRY_KEY, "c1")).toBe("2000");
    await store.releaseSession("c1", epoch, 1800);
    expect(await store.expireSessions(2000, 10)).toEqual([]);
    expect(await redis.admin.zscore(EXPIRY_KEY, "c1")).toBe("2300");
    // A later claim cannot push the entry back (ZADD LT).
    await expect(store.claimSession("c1", { node: "n2", clean: false, username: null, now: 2100, expiryMs: 500, identity: "user:x" })).resolves.toBeDefined();
    expect(await redis.admin.zscore(EXPIRY_KEY, "c1")).toBe("2300");
    await store.deleteSession("c1");
    expect(await store.expireSessions(3000, 10)).toEqual([]);
    expect(await redis.admin.zscore(EXPIRY_KEY, "c1")).toBeNull();
    await store.close();
  });

  it("a long batch for one session is cut into calls of at most SESSION_CALL_OPS ops, in one round trip, in order", async () => {
    const { store, t } = await counted();
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    await store.apply([{ op: "inbound2.add", clientId: "c1", epoch, packetId: 1 }]); // the script is cached
    const calls: number[] = [];
    const pipeline = t.pipeline.bind(t);
    t.pipeline = (cmds) => {
      calls.push(cmds.length);
      return pipeline(cmds);
    };
    t.trips = 0;
    const n = SESSION_CALL_OPS * 2 + 500;
    const ops = Array.from({ length: n }, (_, i) => enqueueOp("c1", msg(`t/${i}`), { epoch, packetId: 1 + (i % 60_000), maxQueued: 10 }));
    const r = await store.apply(ops);
    expect(t.trips).toBe(1);
    expect(calls).toEqual([3]);
    expect(r.map((x) => (x.ok ? x.seq : -1))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // The next batch deletes them all and enqueues one more: the seq counter went on across the calls.
    const more = await store.apply([...r.map((x) => ({ op: "outgoing.delete" as const, clientId: "c1", epoch, seq: x.ok ? (x.seq as number) : 0 })), enqueueOp("c1", msg("last"))]);
    expect(more[n]).toEqual({ ok: true, seq: n + 1 });
    expect((await store.getSession("c1"))?.outgoing.map((o) => o.msg.topic)).toEqual(["last"]);
    await store.close();
  });

  it("dedup state is bounded by time: expired ids are trimmed and the key expires with its window", async () => {
    const { store } = await counted();
    await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    const seen = sessionKeys("c1").seen;
    const now = Date.now();
    const ops = Array.from({ length: 50 }, (_, i) => enqueueOp("c1", msg("t"), { dedupId: `m:${i}`, now }));
    expect((await store.apply(ops)).every((r) => r.ok)).toBe(true);
    expect(await redis.admin.zcard(seen)).toBe(50);
    const ttl = await redis.admin.pttl(seen);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(DEDUP_WINDOW_MS);
    // One window later the next enqueue with a dedup id trims every expired id: only its own is left.
    expect((await store.apply([enqueueOp("c1", msg("t"), { dedupId: "m:new", now: now + DEDUP_WINDOW_MS })]))[0]?.ok).toBe(true);
    expect(await redis.admin.zrange(seen, 0, -1)).toEqual(["m:new"]);
    await store.close();
  });

  it("data written before decision 021 still reads: JSON outgoing bodies, and a `seen` set scored by seq is trimmed", async () => {
    const { store } = await counted();
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    const k = sessionKeys("c1");
    const legacy = JSON.stringify({ t: "old/1", p: Buffer.from([0, 255]).toString("base64"), q: 1, r: 0, dq: 1, dr: 0 });
    await redis.admin.hset(k.out, "1", `0:0:${legacy}`);
    await redis.admin.zadd(k.queue, 1, "1");
    await redis.admin.hset(k.version, "seq", "1");
    await redis.admin.zadd(k.seen, 1, "old-id");
    const r = await store.apply([
      enqueueOp("c1", msg("new/2"), { dedupId: "old-id" }),
      { op: "outgoing.update", clientId: "c1", epoch, seq: 1, packetId: 4, state: 0 },
    ]);
    expect(r).toEqual([{ ok: true, seq: 2 }, { ok: true }]);
    const s = await store.getSession("c1");
    expect(s?.outgoing.map((o) => [o.seq, o.msg.topic, [...o.msg.payload], o.packetId])).toEqual([[1, "old/1", [0, 255], 4], [2, "new/2", [120], 0]]);
    expect(await redis.admin.zrange(k.seen, 0, -1)).toEqual(["old-id"]);
    // An entry written in flight before (its header inline only) is updated and deleted like any other.
    await redis.admin.hset(k.out, "9", `7:0:${legacy}`);
    expect(await store.apply([{ op: "outgoing.update", clientId: "c1", epoch, seq: 9, packetId: 7, state: 1 }])).toEqual([{ ok: true }]);
    expect((await store.getSession("c1"))?.outgoing.find((o) => o.seq === 9)).toMatchObject({ packetId: 7, state: 1 });
    expect(await store.apply([{ op: "outgoing.delete", clientId: "c1", epoch, seq: 9 }])).toEqual([{ ok: true }]);
    expect((await store.getSession("c1"))?.outgoing.map((o) => o.seq)).toEqual([1, 2]);
    expect(await redis.admin.hkeys(k.out)).not.toContain("9");
    expect(Number(await redis.admin.zscore(k.seen, "old-id"))).toBeGreaterThan(Date.now());
    await store.close();
  });

  it("MQTT 5 (decision 024): 3.1.1 values are byte for byte as before, v5 ones add an optional part old values lack", async () => {
    const { store } = await counted();
    await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    const k = sessionKeys("c1");
    const plain = { topic: "a/b", payload: Buffer.from([0, 255]), qos: 1 as const, retain: false };
    const v5 = { ...plain, props: { contentType: "c", userProperties: [["k", "v"], ["k", "w"]] as [string, string][] }, publishedAt: 5 };
    await store.apply([enqueueOp("c1", plain), enqueueOp("c1", v5, { subIds: [7] }), { op: "retained.set", msg: { ...plain, retain: true }, maxRetained: 10, now: 9 }]);
    await store.putWill("c1", 1, "n1", { ...plain, incarnation: 3, username: null, allowed: true });
    expect(await redis.admin.hget(k.out, "1")).toBe("0:0:10103:a/bAP8=");
    expect(await redis.admin.hget(k.out, "2")).toBe('0:0:10103:a/bAP8=|{"x":{"ct":"c","up":[["k","v"],["k","w"]]},"t":5,"s":[7]}');
    expect(await redis.admin.hget(RETAINED_KEY, "a/b")).toBe('5:{"t":"a/b","p":"AP8=","q":1,"r":1,"u":9}');
    expect(await redis.admin.hget(willKeys("n1")[0], "1:c1")).toBe('{"t":"a/b","q":1,"r":false,"i":3,"u":null,"a":true}\nAP8=');
    // A value written before (the same bytes, put there by hand) reads as a message without props.
    await redis.admin.hset(k.out, "9", "3:1:20113:a/bAP8=");
    const out = (await store.getSession("c1"))?.outgoing ?? [];
    expect(out.map((o) => [o.seq, o.msg, o.subIds])).toEqual([[1, plain, undefined], [2, v5, [7]], [9, { ...plain, qos: 2 }, undefined]]);
    expect(out[2]?.msg).not.toHaveProperty("props");
    await store.close();
  });

  it("delayed wills (decision 028): a will without a delay is stored as before; one with adds d, c and w; an old value reads as delay 0", async () => {
    const { store } = await counted();
    const plain = { topic: "a/b", payload: Buffer.from([0, 255]), qos: 1 as const, retain: false, incarnation: 3, username: null, allowed: true };
    await store.putWill("c1", 1, "n1", { ...plain, delay: 0, claimedAt: 7 });
    expect(await redis.admin.hget(willKeys("n1")[0], "1:c1")).toBe('{"t":"a/b","q":1,"r":false,"i":3,"u":null,"a":true}\nAP8=');
    await store.putWill("c2", 1, "n1", { ...plain, delay: 60, claimedAt: 7 });
    expect(await redis.admin.hget(willKeys("n1")[0], "1:c2")).toBe('{"t":"a/b","q":1,"r":false,"i":3,"u":null,"a":true,"d":60,"c":7}\nAP8=');
    expect(await store.replaceWill("c2", 1, "n1", { ...plain, delay: 60, claimedAt: 7, due: 60_007 })).toBe(true);
    expect(await redis.admin.hget(willKeys("n1")[0], "1:c2")).toBe('{"t":"a/b","q":1,"r":false,"i":3,"u":null,"a":true,"d":60,"c":7,"w":60007}\nAP8=');
    // A value a node from before delays were stored wrote (by hand): no delay.
    await redis.admin.hset(willKeys("n1")[0], "2:c3", '{"t":"a/b","q":1,"r":false,"i":3,"u":null,"a":true}\nAP8=');
    await redis.admin.zadd(willKeys("n1")[1], 3, "2:c3");
    expect(await store.takeWill("c3", 2, "n1")).toEqual(plain);
    // A stored delay that is not a Four Byte Integer is refused as bad data, not read as some other delay.
    await redis.admin.hset(willKeys("n1")[0], "2:c4", '{"t":"a/b","q":1,"r":false,"i":3,"u":null,"a":true,"d":-4}\nAP8=');
    await expect(store.takeWill("c4", 2, "n1")).rejects.toThrow(/delay/);
    await store.close();
  });

  it("the claim script called without the discard argument (a caller from before it) discards exactly when clean", async () => {
    const { store, t } = await counted();
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    await store.updateSubscriptions("c1", epoch, { a: 1 }, []);
    const client = new RedisClient(t);
    const oldClaim = (clean: string) => client.eval(S.CLAIM, sessionKeys("c1").list, ["n1", clean, "0", "", "2", "", "0", "0"]);
    expect(((await oldClaim("0")) as unknown[])[0]).toBe(1);
    expect((await store.getSession("c1"))?.subscriptions).toEqual({ a: 1 });
    expect(((await oldClaim("1")) as unknown[])[0]).toBe(0);
    expect((await store.getSession("c1"))?.subscriptions).toEqual({});
    await store.close();
  });

  it("connectRedisStore rejects when nothing listens", async () => {
    await expect(connectRedisStore("redis://127.0.0.1:1", { maxRetriesPerRequest: 0 })).rejects.toThrow();
  });
});
