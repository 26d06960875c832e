import { describe, expect, it } from "vitest";
import { call, sleep } from "../support.js";
import { expectProblem, offlineSession, type Setup } from "./env.js";

export function publishTests(setup: Setup): void {
  describe("publish", () => {
    it("POST /v1/publish reaches a subscriber, with utf8, base64 and json payloads", async () => {
      const env = await setup();
      const sub = await env.connect("sub");
      await sub.client.subscribeAsync("devices/#", { qos: 1 });
      const pub = (body: unknown) => call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body });
      const a = await pub({ topic: "devices/1/cmd", payload: "héllo" });
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ id: expect.any(String), matched: 1 });
      expect((await pub({ topic: "devices/1/bin", payload: Buffer.from([0, 255, 1]).toString("base64"), encoding: "base64", qos: 1 })).body.matched).toBe(1);
      expect((await pub({ topic: "devices/1/json", payload: { on: true, n: [1, 2] }, encoding: "json", qos: 2 })).body.matched).toBe(1);
      expect((await pub({ topic: "elsewhere", payload: "x" })).status).toBe(403);
      const got = await sub.waitFor(3);
      expect(got.map((m) => [m.topic, m.payload.toString("hex"), m.qos])).toEqual([
        ["devices/1/cmd", Buffer.from("héllo").toString("hex"), 0],
        ["devices/1/bin", "00ff01", 1],
        ["devices/1/json", Buffer.from('{"on":true,"n":[1,2]}').toString("hex"), 1],
      ]);
      expect((await call(env.api, "POST", "/v1/publish", { key: env.publisher, body: { topic: "nobody/listens", payload: "x" } })).body.matched).toBe(0);
    });

    it("QoS is downgraded to the granted QoS, and overlapping subscriptions give one copy", async () => {
      const env = await setup();
      const sub = await env.connect("sub");
      await sub.client.subscribeAsync({ "a/+": { qos: 0 }, "a/#": { qos: 1 } });
      const res = await call(env.api, "POST", "/v1/publish", { key: env.publisher, body: { topic: "a/b", payload: "x", qos: 2 } });
      expect(res.body.matched).toBe(1);
      const [m] = await sub.waitFor(1);
      expect(m?.qos).toBe(1);
      await sleep(50);
      expect(sub.messages).toHaveLength(1);
    });

    it("a QoS 1 publish to an offline persistent session is durable in the store when answered, and delivered on reconnect", async () => {
      const env = await setup();
      await offlineSession(env, "offline-1", "devices/1/#", 1);
      const res = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: { topic: "devices/1/cmd", payload: "reboot", qos: 1 } });
      expect(res.status).toBe(200);
      expect(res.body.matched).toBe(1);
      // Answered 2xx: the message is already in the store, without waiting.
      const snap = await env.store.getSession("offline-1");
      expect(snap?.outgoing.map((o) => [o.msg.topic, o.msg.payload.toString(), o.qos])).toEqual([["devices/1/cmd", "reboot", 1]]);
      const detail = await call(env.api, "GET", "/v1/clients/offline-1", { key: env.reader });
      expect(detail.body).toMatchObject({ clientId: "offline-1", connected: false, queued: 1, inflight: 0 });
      const back = await env.connect("offline-1", { clean: false });
      const [m] = await back.waitFor(1);
      expect([m?.topic, m?.payload.toString(), m?.qos]).toEqual(["devices/1/cmd", "reboot", 1]);
    });

    it("retain stores the message (readable over REST at once) and an empty retained payload clears it", async () => {
      const env = await setup();
      const r = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "state/1", payload: "on", retain: true, qos: 1 } });
      expect(r.body.matched).toBe(0);
      expect(await env.store.getRetained("state/1")).toMatchObject({ topic: "state/1", qos: 1 });
      const got = await call(env.api, "GET", "/v1/retained/state/1", { key: env.admin, query: "encoding=utf8" });
      expect(got.body).toEqual({ topic: "state/1", qos: 1, payload: "on", encoding: "utf8", bytes: 2, updatedAt: expect.any(String) });
      const late = await env.connect("late");
      await late.client.subscribeAsync("state/#", { qos: 1 });
      const [m] = await late.waitFor(1);
      expect([m?.payload.toString(), m?.retain]).toEqual(["on", true]);
      await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "state/1", payload: "", retain: true } });
      expect(await env.store.getRetained("state/1")).toBeNull();
    });

    it("POST /v1/publish/batch publishes in order with per-item results", async () => {
      const env = await setup();
      const sub = await env.connect("sub");
      // Granted QoS 1: mqtt.js emits a QoS 2 message only after PUBREL, which would reorder what it reports.
      await sub.client.subscribeAsync("devices/#", { qos: 1 });
      const messages = Array.from({ length: 20 }, (_, i) => ({ topic: `devices/${i % 3}`, payload: String(i), qos: (i % 3) as 0 | 1 | 2 }));
      messages.push({ topic: "devices/none/x", payload: "n", qos: 0 });
      const res = await call(env.api, "POST", "/v1/publish/batch", { key: env.devPublisher, body: { messages } });
      expect(res.status).toBe(200);
      expect(res.body.results).toHaveLength(21);
      expect(new Set(res.body.results.map((r: { id: string }) => r.id)).size).toBe(21);
      expect(res.body.results.map((r: { matched: number }) => r.matched)).toEqual([...Array(20).fill(1), 1]);
      const got = await sub.waitFor(21);
      expect(got.map((m) => m.payload.toString())).toEqual([...Array.from({ length: 20 }, (_, i) => String(i)), "n"]);
    });

    it("batch limits: more than 100 messages is 413, none is 400, one invalid message fails the batch naming it", async () => {
      const env = await setup();
      const msg = { topic: "a", payload: "x" };
      const big = await call(env.api, "POST", "/v1/publish/batch", { key: env.publisher, body: { messages: Array(101).fill(msg) } });
      expectProblem(big, 413, "too-large");
      expect(big.body.errors).toEqual([{ pointer: "#/messages", detail: "has 101 items; at most 100" }]);
      expect((await call(env.api, "POST", "/v1/publish/batch", { key: env.publisher, body: { messages: Array(100).fill(msg) } })).status).toBe(200);
      const empty = await call(env.api, "POST", "/v1/publish/batch", { key: env.publisher, body: { messages: [] } });
      expect(empty.body.errors).toEqual([{ pointer: "#/messages", detail: "must contain at least one message" }]);
      const sub = await env.connect("sub");
      await sub.client.subscribeAsync("#");
      const bad = await call(env.api, "POST", "/v1/publish/batch", { key: env.publisher, body: { messages: [msg, { topic: "a/+", payload: "x" }, { topic: "b", payload: 1 }] } });
      expectProblem(bad, 400, "invalid-request");
      expect(bad.body.errors).toEqual([{ pointer: "#/messages/2/payload", detail: "must be a string with encoding 'utf8' (use encoding 'json' for other JSON values)" }]);
      const wildcard = await call(env.api, "POST", "/v1/publish/batch", { key: env.publisher, body: { messages: [msg, { topic: "a/+", payload: "x" }] } });
      expect(wildcard.body.errors).toEqual([{ pointer: "#/messages/1/topic", detail: "topic name must not contain wildcards" }]);
      const outside = await call(env.api, "POST", "/v1/publish/batch", { key: env.devPublisher, body: { messages: [{ topic: "devices/1", payload: "x" }, msg] } });
      expectProblem(outside, 403, "forbidden");
      expect(outside.body.errors).toEqual([{ pointer: "#/messages/1/topic", detail: "is outside the API key's topic patterns" }]);
      await sleep(50);
      expect(sub.messages).toHaveLength(0);
    });

    it("POST /v1/topics/{topic+} publishes the raw body with qos and retain from the query", async () => {
      const env = await setup();
      const sub = await env.connect("sub");
      await sub.client.subscribeAsync("devices/#", { qos: 2 });
      const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
      const res = await call(env.api, "POST", "/v1/topics/devices/7/fw", { key: env.devPublisher, body: bytes, query: "qos=1&retain=true" });
      expect(res.status).toBe(200);
      expect(res.body.matched).toBe(1);
      const [m] = await sub.waitFor(1);
      expect([m?.topic, m?.payload.toString("hex"), m?.qos]).toEqual(["devices/7/fw", "deadbeef00", 1]);
      expect((await env.store.getRetained("devices/7/fw"))?.payload.toString("hex")).toBe("deadbeef00");
      // Percent-encoded levels and a JSON text body.
      expect((await call(env.api, "POST", "/v1/topics/devices/a%20b%2Fc", { key: env.devPublisher, body: "{}" })).status).toBe(200);
      expect((await sub.waitFor(2))[1]?.topic).toBe("devices/a b/c");
      const bad = await call(env.api, "POST", "/v1/topics/devices/%23", { key: env.devPublisher, body: bytes });
      expect(bad.body.errors).toEqual([{ parameter: "topic", detail: "topic name must not contain wildcards" }]);
      expect((await call(env.api, "POST", "/v1/topics/devices/x", { key: env.devPublisher, body: bytes, query: "qos=3" })).body.errors).toEqual([{ parameter: "qos", detail: "must be 0, 1 or 2" }]);
      expectProblem(await call(env.api, "POST", "/v1/topics/other", { key: env.devPublisher, body: bytes }), 403, "forbidden");
    });

    it("invalid publish bodies are 400 naming the field", async () => {
      const env = await setup({ limits: { maxTopicLength: 16, maxTopicLevels: 3 } });
      const pub = async (body: unknown) => (await call(env.api, "POST", "/v1/publish", { key: env.admin, body })).body;
      expect((await pub({ topic: "a/#", payload: "x" })).errors).toEqual([{ pointer: "#/topic", detail: "topic name must not contain wildcards" }]);
      expect((await pub({ topic: "", payload: "x" })).errors).toEqual([{ pointer: "#/topic", detail: "topic name must be at least one character long" }]);
      expect((await pub({ topic: "a/b/c/d", payload: "x" })).errors).toEqual([{ pointer: "#/topic", detail: "topic name exceeds 3 levels" }]);
      expect((await pub({ topic: "x".repeat(17), payload: "x" })).errors).toEqual([{ pointer: "#/topic", detail: "topic name exceeds 16 bytes" }]);
      expect((await pub({ payload: "x" })).errors).toEqual([{ pointer: "#/topic", detail: "is required" }]);
      expect((await pub({ topic: "a" })).errors).toEqual([{ pointer: "#/payload", detail: "is required" }]);
      expect((await pub({ topic: "a", payload: "x", qos: 3 })).errors).toEqual([{ pointer: "#/qos", detail: "Invalid option: expected one of 0|1|2" }]);
      expect((await pub({ topic: "a", payload: "x", retained: true })).errors).toEqual([{ pointer: "#/retained", detail: "is not a known field" }]);
      expect((await pub({ topic: "a", payload: "%%%", encoding: "base64" })).errors).toEqual([{ pointer: "#/payload", detail: "is not valid base64" }]);
      expect((await pub({ topic: "a", payload: "x", encoding: "hex" })).errors[0].pointer).toBe("#/encoding");
      expect((await pub({ topic: 1, payload: "x", qos: "1" })).errors).toEqual([
        { pointer: "#/topic", detail: "expected string, received number" },
        { pointer: "#/qos", detail: "Invalid option: expected one of 0|1|2" },
      ]);
      expect((await pub([1])).errors[0].pointer).toBe("#");
      const notJson = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: "{topic:" });
      expect(notJson.status).toBe(400);
      expect(notJson.body.errors[0]).toMatchObject({ pointer: "#", detail: expect.stringMatching(/^not valid JSON/) });
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin })).body.errors).toEqual([{ pointer: "#", detail: "a JSON body is required" }]);
      const sys = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "$SYS/broker/x", payload: "x" } });
      expectProblem(sys, 403, "forbidden");
      expect(sys.body.errors).toEqual([{ pointer: "#/topic", detail: "is reserved ($SYS)" }]);
    });

    it("payloads beyond the broker's packet limit and bodies beyond the body limit are 413", async () => {
      const env = await setup({ limits: { maxPacketSize: 1024 } }, { maxBodyBytes: 4096 });
      const ok = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t", payload: "x".repeat(1024 - 2 - 2 - 1 - 2 - 1) } });
      expect(ok.status).toBe(200);
      const tooBig = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t", payload: "x".repeat(1024 - 2 - 2 - 1 - 2) } });
      expectProblem(tooBig, 413, "too-large");
      expect(tooBig.body.errors).toEqual([{ pointer: "#/payload", detail: "is 1017 bytes; at most 1016 fit with this topic" }]);
      const raw = await call(env.api, "POST", "/v1/topics/t", { key: env.admin, body: Buffer.alloc(2000) });
      expect(raw.status).toBe(413);
      expect(raw.body.errors).toEqual([{ pointer: "#", detail: "is 2000 bytes; at most 1016 fit with this topic" }]);
      const body = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t", payload: "x".repeat(5000) } });
      expectProblem(body, 413, "too-large");
      expect(body.body.detail).toMatch(/exceeds the limit of 4096 bytes/);
    });
  });
}
