import { describe, expect, it } from "vitest";
import { call, until } from "../support.js";
import { expectProblem, offlineSession, type Setup } from "./env.js";

export function clientsTests(setup: Setup): void {
  describe("clients", () => {
    it("GET /v1/clients pages through sessions and filters by connection state", async () => {
      const env = await setup();
      await offlineSession(env, "p-offline");
      await env.connect("c-online");
      await env.connect("d/with/slash", { clean: false });
      const all: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `limit=2${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
        const page = await call(env.api, "GET", "/v1/clients", { key: env.reader, query });
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        all.push(...page.body.items.map((i: { clientId: string }) => i.clientId));
        cursor = page.body.cursor;
      } while (cursor !== null);
      expect(all).toEqual(["c-online", "d/with/slash", "p-offline"]);
      const online = await call(env.api, "GET", "/v1/clients", { key: env.reader, query: "connected=true" });
      expect(online.body.items.map((i: { clientId: string }) => i.clientId)).toEqual(["c-online", "d/with/slash"]);
      expect(online.body.items[0]).toMatchObject({ connected: true, node: "test-node", clean: true, username: null, connectedAt: expect.stringMatching(/Z$/), disconnectedAt: null });
      const offline = await call(env.api, "GET", "/v1/clients", { key: env.reader, query: "connected=false" });
      expect(offline.body.items).toEqual([expect.objectContaining({ clientId: "p-offline", connected: false, node: null, clean: false })]);
      const bad = await call(env.api, "GET", "/v1/clients", { key: env.reader, query: "cursor=garbage" });
      expectProblem(bad, 400, "invalid-request");
      expect(bad.body.errors[0].parameter).toBe("cursor");
    });

    it("GET /v1/clients/{clientId} shows one session, 404 for an unknown one", async () => {
      const env = await setup();
      const c = await env.connect("dev/1", { clean: false });
      await c.client.subscribeAsync({ "b/#": { qos: 2 }, "a/+": { qos: 0 } });
      const res = await call(env.api, "GET", "/v1/clients/dev%2F1", { key: env.reader });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        clientId: "dev/1",
        connected: true,
        node: "test-node",
        clean: false,
        since: res.body.connectedAt,
        subscriptions: [
          { filter: "a/+", qos: 0 },
          { filter: "b/#", qos: 2 },
        ],
        inflight: 0,
        queued: 0,
      });
      expect((await call(env.api, "GET", "/v1/clients/dev%2F1/subscriptions", { key: env.reader })).body).toEqual({ clientId: "dev/1", subscriptions: res.body.subscriptions });
      expectProblem(await call(env.api, "GET", "/v1/clients/nobody", { key: env.reader }), 404, "not-found");
      expectProblem(await call(env.api, "GET", "/v1/clients/nobody/subscriptions", { key: env.reader }), 404, "not-found");
    });

    it("DELETE /v1/clients/{clientId} disconnects the client; discardSession deletes its session; 404 when unknown", async () => {
      const env = await setup();
      const c = await env.connect("kick-me", { clean: false });
      await c.client.subscribeAsync("k/#", { qos: 1 });
      const res = await call(env.api, "DELETE", "/v1/clients/kick-me", { key: env.admin });
      expect(res.body).toEqual({ clientId: "kick-me", disconnected: true, sessionDiscarded: false });
      await c.closed;
      await until("offline", async () => (await env.store.getSession("kick-me"))?.node === null);
      // Still a persistent session: messages are queued for it.
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "k/1", payload: "x", qos: 1 } })).body.matched).toBe(1);
      const again = await call(env.api, "DELETE", "/v1/clients/kick-me", { key: env.admin, query: "discardSession=true" });
      expect(again.body).toEqual({ clientId: "kick-me", disconnected: false, sessionDiscarded: true });
      expect(await env.store.getSession("kick-me")).toBeNull();
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "k/1", payload: "x", qos: 1 } })).body.matched).toBe(0);
      expectProblem(await call(env.api, "GET", "/v1/clients/kick-me", { key: env.admin }), 404, "not-found");
      expectProblem(await call(env.api, "DELETE", "/v1/clients/kick-me", { key: env.admin }), 404, "not-found");
      const live = await env.connect("live");
      const both = await call(env.api, "DELETE", "/v1/clients/live", { key: env.admin, query: "discardSession=true" });
      expect(both.body).toEqual({ clientId: "live", disconnected: true, sessionDiscarded: true });
      await live.closed;
      expect((await call(env.api, "DELETE", "/v1/clients/x", { key: env.admin, query: "discardSession=maybe" })).body.errors).toEqual([{ parameter: "discardSession", detail: "must be 'true' or 'false'" }]);
    });

    it("POST subscriptions for an online client: messages and retained messages arrive; DELETE stops them", async () => {
      const env = await setup();
      await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "devices/9/state", payload: "ready", retain: true, qos: 1 } });
      const c = await env.connect("dev-9", { clean: false });
      const add = await call(env.api, "POST", "/v1/clients/dev-9/subscriptions", { key: env.devAdmin, body: { subscriptions: [{ filter: "devices/9/#", qos: 1 }] } });
      expect(add.status).toBe(200);
      expect(add.body).toEqual({ clientId: "dev-9", subscriptions: [{ filter: "devices/9/#", qos: 1 }] });
      expect((await env.store.getSession("dev-9"))?.subscriptions).toEqual({ "devices/9/#": 1 });
      const [retained] = await c.waitFor(1);
      expect([retained?.topic, retained?.payload.toString(), retained?.retain, retained?.qos]).toEqual(["devices/9/state", "ready", true, 1]);
      await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "devices/9/cmd", payload: "go", qos: 2 } });
      const [, live] = await c.waitFor(2);
      expect([live?.topic, live?.payload.toString(), live?.retain, live?.qos]).toEqual(["devices/9/cmd", "go", false, 1]);
      const del = await call(env.api, "DELETE", "/v1/clients/dev-9/subscriptions/devices/9/%23", { key: env.devAdmin });
      expect(del.status).toBe(204);
      expect(del.raw).toBeUndefined();
      expect((await env.store.getSession("dev-9"))?.subscriptions).toEqual({});
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "devices/9/cmd", payload: "again" } })).body.matched).toBe(0);
      expectProblem(await call(env.api, "DELETE", "/v1/clients/dev-9/subscriptions/devices/9/%23", { key: env.devAdmin }), 404, "not-found");
    });

    it("POST subscriptions for an offline persistent session: stored, and messages published meanwhile arrive on reconnect", async () => {
      const env = await setup();
      await offlineSession(env, "sleeper");
      const add = await call(env.api, "POST", "/v1/clients/sleeper/subscriptions", { key: env.admin, body: { subscriptions: [{ filter: "news/+", qos: 2 }, { filter: "alerts", qos: 1 }] } });
      expect(add.body.subscriptions).toEqual([
        { filter: "alerts", qos: 1 },
        { filter: "news/+", qos: 2 },
      ]);
      expect((await env.store.getSession("sleeper"))?.subscriptions).toEqual({ "news/+": 2, alerts: 1 });
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "news/1", payload: "n1", qos: 2 } })).body.matched).toBe(1);
      const back = await env.connect("sleeper", { clean: false });
      const [m] = await back.waitFor(1);
      expect([m?.topic, m?.payload.toString(), m?.qos]).toEqual(["news/1", "n1", 2]);
      expect((await call(env.api, "DELETE", "/v1/clients/sleeper/subscriptions/alerts", { key: env.admin })).status).toBe(204);
    });

    it("subscription input errors: invalid filter 400, outside the key's topics 403, unknown client 404, over the limit 409", async () => {
      const env = await setup({ limits: { maxSubscriptionsPerSession: 2 } });
      await offlineSession(env, "s1", "devices/x");
      const sub = (clientId: string, subscriptions: unknown, key = env.devAdmin) => call(env.api, "POST", `/v1/clients/${clientId}/subscriptions`, { key, body: { subscriptions } });
      const invalid = await sub("s1", [{ filter: "devices/#/x", qos: 0 }, { filter: "devices/ok", qos: 1 }, { filter: "devices/a+", qos: 0 }]);
      expectProblem(invalid, 400, "invalid-request");
      expect(invalid.body.errors).toEqual([
        { pointer: "#/subscriptions/0/filter", detail: "'#' must be the last level of the topic filter and occupy it entirely" },
        { pointer: "#/subscriptions/2/filter", detail: "'+' must occupy an entire level of the topic filter" },
      ]);
      expect((await sub("s1", [{ filter: "devices/1", qos: 5 }])).body.errors).toEqual([{ pointer: "#/subscriptions/0/qos", detail: "Invalid option: expected one of 0|1|2" }]);
      expect((await sub("s1", [])).body.errors).toEqual([{ pointer: "#/subscriptions", detail: "must contain at least one subscription" }]);
      const outside = await sub("s1", [{ filter: "#", qos: 0 }]);
      expectProblem(outside, 403, "forbidden");
      expect(outside.body.errors).toEqual([{ pointer: "#/subscriptions/0/filter", detail: "is not inside the API key's topic patterns" }]);
      expectProblem(await call(env.api, "DELETE", "/v1/clients/s1/subscriptions/%23", { key: env.devAdmin }), 403, "forbidden");
      expectProblem(await call(env.api, "DELETE", "/v1/clients/s1/subscriptions/a%2F%2B%2Fb%2F%23%2Fc", { key: env.admin }), 400, "invalid-request");
      expectProblem(await sub("ghost", [{ filter: "devices/1", qos: 0 }]), 404, "not-found");
      expectProblem(await call(env.api, "DELETE", "/v1/clients/ghost/subscriptions/devices/1", { key: env.devAdmin }), 404, "not-found");
      expect((await sub("s1", [{ filter: "devices/x", qos: 2 }, { filter: "devices/y", qos: 1 }])).status).toBe(200);
      const full = await sub("s1", [{ filter: "devices/z", qos: 0 }]);
      expectProblem(full, 409, "conflict");
      expect(full.body.detail).toMatch(/limit of 2/);
      expect((await env.store.getSession("s1"))?.subscriptions).toEqual({ "devices/x": 2, "devices/y": 1 });
    });
  });
}
