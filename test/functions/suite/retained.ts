import { describe, expect, it } from "vitest";
import { call, type CallResult, sleep } from "../support.js";
import { type Env, expectProblem, type Setup } from "./env.js";

export function retainedAndClusterTests(setup: Setup): void {
  describe("retained", () => {
    async function seed(env: Env): Promise<void> {
      const messages = [
        { topic: "devices/1/state", payload: "on" },
        { topic: "devices/2/state", payload: Buffer.from([0xff, 0xfe]).toString("base64"), encoding: "base64" },
        { topic: "devices/2/info", payload: "v2" },
        { topic: "rooms/kitchen", payload: "21.5" },
      ].map((m) => ({ ...m, retain: true, qos: 1 }));
      expect((await call(env.api, "POST", "/v1/publish/batch", { key: env.admin, body: { messages } })).status).toBe(200);
    }
    const topics = (res: CallResult) => res.body.items.map((i: { topic: string }) => i.topic);

    it("GET /v1/retained lists by filter with pages, in both encodings, limited to the key's topics", async () => {
      const env = await setup();
      await seed(env);
      expect(topics(await call(env.api, "GET", "/v1/retained", { key: env.reader }))).toEqual(["devices/1/state", "devices/2/info", "devices/2/state", "rooms/kitchen"]);
      const state = await call(env.api, "GET", "/v1/retained", { key: env.reader, query: "filter=devices/+/state&encoding=utf8" });
      expect(state.body).toEqual({
        items: [
          { topic: "devices/1/state", qos: 1, payload: "on", encoding: "utf8", bytes: 2, updatedAt: expect.any(String) },
          { topic: "devices/2/state", qos: 1, payload: "//4=", encoding: "base64", bytes: 2, updatedAt: expect.any(String) },
        ],
        cursor: null,
      });
      const first = await call(env.api, "GET", "/v1/retained", { key: env.reader, query: "filter=devices/%23&limit=2" });
      expect(topics(first)).toEqual(["devices/1/state", "devices/2/info"]);
      expect(first.body.items[0].payload).toBe(Buffer.from("on").toString("base64"));
      const second = await call(env.api, "GET", "/v1/retained", { key: env.reader, query: `filter=devices/%23&limit=2&cursor=${encodeURIComponent(first.body.cursor)}` });
      expect(topics(second)).toEqual(["devices/2/state"]);
      expect(second.body.cursor).toBeNull();
      const unfiltered = await call(env.api, "GET", "/v1/retained", { key: env.reader, query: "limit=3" });
      expect(topics(unfiltered)).toHaveLength(3);
      expect(topics(await call(env.api, "GET", "/v1/retained", { key: env.reader, query: `limit=3&cursor=${encodeURIComponent(unfiltered.body.cursor)}` }))).toEqual(["rooms/kitchen"]);
      // A key restricted to devices/# sees only those.
      expect(topics(await call(env.api, "GET", "/v1/retained", { key: env.devReader }))).toEqual(["devices/1/state", "devices/2/info", "devices/2/state"]);
      expect(topics(await call(env.api, "GET", "/v1/retained", { key: env.devReader, query: "filter=%23" }))).toHaveLength(3);
      expectProblem(await call(env.api, "GET", "/v1/retained", { key: env.devReader, query: "filter=rooms/%23" }), 403, "forbidden");
      expect((await call(env.api, "GET", "/v1/retained", { key: env.reader, query: "filter=a/%23/b" })).body.errors).toEqual([
        { parameter: "filter", detail: "'#' must be the last level of the topic filter and occupy it entirely" },
      ]);
      expect((await call(env.api, "GET", "/v1/retained", { key: env.reader, query: "filter=%23&cursor=nope" })).body.errors[0].parameter).toBe("cursor");
    });

    it("GET /v1/retained: cursors reveal nothing outside the key's topics, and a walk still ends with everything it may read", async () => {
      const env = await setup();
      await seed(env);
      const secrets = Array.from({ length: 40 }, (_, i) => ({ topic: `secret/area-${i}/state`, payload: "x", retain: true, qos: 1 }));
      expect((await call(env.api, "POST", "/v1/publish/batch", { key: env.admin, body: { messages: secrets } })).status).toBe(200);
      for (const filter of [undefined, "+/+/state", "%23"]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const q: string = [filter === undefined ? "" : `filter=${filter}`, "limit=2", cursor === null ? "" : `cursor=${encodeURIComponent(cursor)}`].filter(Boolean).join("&");
          const res: CallResult = await call(env.api, "GET", "/v1/retained", { key: env.devReader, query: q });
          expect(res.status).toBe(200);
          seen.push(...topics(res));
          cursor = res.body.cursor;
          if (cursor !== null) {
            expect(cursor).not.toMatch(/secret|area/);
            expect(Buffer.from(cursor.replace(/^[^.]*\./, ""), "base64url").toString("latin1")).not.toMatch(/secret|area/);
          }
          pages++;
        } while (cursor !== null && pages < 100);
        expect(seen, String(filter)).toEqual(filter === "+/+/state" ? ["devices/1/state", "devices/2/state"] : ["devices/1/state", "devices/2/info", "devices/2/state"]);
      }
    });

    it("GET and DELETE /v1/retained/{topic+}: read, delete without publishing, 404 after", async () => {
      const env = await setup();
      await seed(env);
      const sub = await env.connect("watcher");
      await sub.client.subscribeAsync("rooms/#", { qos: 1 });
      await sub.waitFor(1); // the retained message itself
      const got = await call(env.api, "GET", "/v1/retained/rooms/kitchen", { key: env.reader });
      expect(got.body).toEqual({ topic: "rooms/kitchen", qos: 1, payload: Buffer.from("21.5").toString("base64"), encoding: "base64", bytes: 4, updatedAt: expect.any(String) });
      expect(Math.abs(Date.parse(got.body.updatedAt) - Date.now())).toBeLessThan(60_000);
      expectProblem(await call(env.api, "GET", "/v1/retained/rooms/kitchen", { key: env.devReader }), 403, "forbidden");
      expectProblem(await call(env.api, "DELETE", "/v1/retained/rooms/kitchen", { key: env.devAdmin }), 403, "forbidden");
      expectProblem(await call(env.api, "GET", "/v1/retained/rooms/%2B", { key: env.reader }), 400, "invalid-request");
      const del = await call(env.api, "DELETE", "/v1/retained/rooms/kitchen", { key: env.admin });
      expect(del.status).toBe(204);
      expect(await env.store.getRetained("rooms/kitchen")).toBeNull();
      expectProblem(await call(env.api, "GET", "/v1/retained/rooms/kitchen", { key: env.reader }), 404, "not-found");
      expectProblem(await call(env.api, "DELETE", "/v1/retained/rooms/kitchen", { key: env.admin }), 404, "not-found");
      // Subscribers got nothing from the delete, and new subscribers no longer get the message.
      await sleep(50);
      expect(sub.messages).toHaveLength(1);
      const late = await env.connect("late");
      await late.client.subscribeAsync("rooms/#", { qos: 1 });
      await sleep(100);
      expect(late.messages).toHaveLength(0);
    });
  });

  // ---- cluster ----------------------------------------------------------------------------------------

  describe("cluster", () => {
    it("GET /v1/nodes lists live nodes; GET /v1/stats counts them with the store's counters", async () => {
      const env = await setup();
      const now = Date.now();
      await env.store.registerNode({ nodeId: "n1", address: "10.0.0.1:1883", queueUrl: null, startedAt: now - 1000, heartbeatAt: now }, 60_000);
      await env.store.registerNode({ nodeId: "n0", address: "10.0.0.2:1883", queueUrl: null, startedAt: now - 100_000, heartbeatAt: now - 90_000 }, 1000);
      await env.store.incrCounters({ "messages.received": 5, "clients.connected": 2 });
      const nodes = await call(env.api, "GET", "/v1/nodes", { key: env.reader });
      // Besides n1, the broker behind the gateway lists itself (single node or cluster node), with its figures.
      const others = nodes.body.items.filter((n: { nodeId: string }) => n.nodeId !== "n1");
      expect(nodes.body.items.find((n: { nodeId: string }) => n.nodeId === "n1")).toEqual({ nodeId: "n1", address: "10.0.0.1:1883", startedAt: new Date(now - 1000).toISOString(), heartbeatAt: new Date(now).toISOString() });
      expect(others.length).toBeLessThanOrEqual(1);
      for (const o of others) expect(o.stats).toMatchObject({ connections: expect.any(Number), version: expect.any(String) });
      const stats = await call(env.api, "GET", "/v1/stats", { key: env.reader });
      expect(stats.body.nodes).toBe(1 + others.length);
      expect(stats.body.counters).toEqual({ "messages.received": 5, "clients.connected": 2 });
      // The local backend adds its broker's live figures (test/functions/stats.test.ts covers them).
      expect(stats.body).toMatchObject({ connections: 0, sessions: 0, messages: { received: 0, sent: 0, dropped: 0 } });
      expectProblem(await call(env.api, "GET", "/v1/nodes", { key: env.publisher }), 403, "forbidden");
    });
  });
}
