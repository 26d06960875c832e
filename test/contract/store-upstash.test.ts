import { Redis as UpstashRedis } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { connectUpstashStore } from "../../core/store/transport-upstash.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { enqueueOp, msg } from "./store/fixtures.js";
import { storeContract } from "./store.suite.js";

const upstash = useRedisStores({ upstash: true });

storeContract("upstash (@upstash/redis over REST)", upstash.factory);

describe("Upstash store and bridge", () => {
  it("has kind 'upstash' and sends one HTTP request per apply batch", async () => {
    await upstash.admin.flushall();
    const store = await connectUpstashStore({ url: upstash.bridge.url, token: upstash.bridge.token });
    expect(store.kind).toBe("upstash");
    await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    const before = upstash.bridge.requests;
    const ops = Array.from({ length: 20 }, (_, i) => enqueueOp("c1", msg(`t/${i}`, Buffer.from([i, 255]), 2), { qos: 2 }));
    expect((await store.apply(ops)).every((r) => r.ok)).toBe(true);
    expect(upstash.bridge.requests - before).toBe(1);
  });

  it("refuses a wrong token with 401, and the store reports the failure", async () => {
    const res = await fetch(upstash.bridge.url, { method: "POST", headers: { authorization: "Bearer wrong" }, body: JSON.stringify(["PING"]) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "Unauthorized" });
    const store = await connectUpstashStore({ url: upstash.bridge.url, token: "wrong", retries: 0 });
    await expect(store.getSession("c1")).rejects.toThrow(/Unauthorized/);
    expect(await store.ping()).toBe(false);
  });

  it("speaks the REST protocol the official client expects: commands, pipelines, transactions, errors", async () => {
    await upstash.admin.flushall();
    const redis = new UpstashRedis({ url: upstash.bridge.url, token: upstash.bridge.token, enableTelemetry: false });
    expect(await redis.set("k", "välue")).toBe("OK");
    expect(await redis.get("k")).toBe("välue");
    expect(await redis.hset("h", { a: "1", b: "x" })).toBe(2);
    expect(await redis.hgetall("h")).toEqual({ a: 1, b: "x" });
    const p = redis.pipeline();
    p.incr("n");
    p.incr("n");
    p.get("k");
    expect(await p.exec()).toEqual([1, 2, "välue"]);
    const tx = redis.multi();
    tx.incr("n");
    tx.lpush("l", "a", "b");
    expect(await tx.exec()).toEqual([3, 2]);
    await expect(redis.incr("k")).rejects.toThrow(/not an integer/);
  });

  it("base64 response encoding applies to nested arrays and leaves integers and nulls alone", async () => {
    await upstash.admin.flushall();
    const raw = async (body: unknown, path = ""): Promise<unknown> => {
      const res = await fetch(`${upstash.bridge.url}/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${upstash.bridge.token}`, "upstash-encoding": "base64" },
        body: JSON.stringify(body),
      });
      return res.json();
    };
    expect(await raw(["SET", "k", "hé"])).toEqual({ result: "OK" });
    expect(await raw(["EVAL", "return {1, 'a', {'b', false}}", "0"])).toEqual({ result: [1, "YQ==", ["Yg==", null]] });
    expect(await raw([["GET", "k"], ["GET", "missing"], ["INCR", "k"]], "pipeline")).toEqual([
      { result: Buffer.from("hé").toString("base64") },
      { result: null },
      { error: "ERR value is not an integer or out of range" },
    ]);
  });
});
