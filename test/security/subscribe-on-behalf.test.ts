// REST "subscribe on behalf" (POST /v1/clients/{clientId}/subscriptions) honours the client's own rules (issue 12):
// the live client's policy, or for an offline session the policy its identity gets from the auth configuration;
// refused (409) when that cannot be determined. On the in-process gateway and on the cluster (Lambda) backend.
import type { QoS } from "mqtt-packet";
import { beforeAll, describe, expect, it } from "vitest";
import { createAclAuth, hashPassword } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { createApiKey } from "../../functions/api-keys.js";
import { clusterBackend } from "../../functions/backend-cluster.js";
import { localBackend } from "../../functions/backend-local.js";
import { gatewayLimits } from "../../functions/route.js";
import { type ApiHandler, createApi } from "../../functions/router.js";
import { useBroker } from "../helpers/fixture.js";
import { call } from "../functions/support.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
const PW = "pw";

async function acl(): Promise<Auth> {
  const password = await hashPassword(PW, FAST);
  return createAclAuth({
    users: [
      { username: "reader", password },
      { username: "admin", password },
    ],
    rules: [
      { users: ["reader"], allow: { subscribe: [{ filter: "#", maxQos: 1 }] }, deny: { subscribe: ["secrets/#"] } },
      { users: ["admin"], allow: { publish: ["#"], subscribe: ["#"] } },
    ],
  });
}

function login(user: string, clientId: string, clean = true) {
  return { clientId, username: user, password: Buffer.from(PW), clean };
}

function subscribeBody(...subs: [string, QoS][]) {
  return { subscriptions: subs.map(([filter, qos]) => ({ filter, qos })) };
}

/** A persistent, offline session in the store, created by `username` (which the ACL may not know). */
async function offlineSession(store: Store, clientId: string, username: string | null): Promise<void> {
  const claim = await store.claimSession(clientId, { node: "elsewhere", clean: false, username, now: Date.now() });
  await store.releaseSession(clientId, claim.epoch, Date.now());
}

describe("subscribe on behalf, in-process gateway", () => {
  const f = useBroker({}, acl);
  let api: ApiHandler;
  let key: string;

  beforeAll(async () => {
    const limits = gatewayLimits(f.b.config);
    api = createApi({ backend: localBackend(f.b.broker), limits });
    key = (await createApiKey(f.b.broker.store, { name: "admin", scopes: ["admin"], topics: ["#"] }, limits.topic)).key;
  });

  const post = (clientId: string, body: unknown) => call(api, "POST", `/v1/clients/${clientId}/subscriptions`, { key, body });

  it("a live client: a filter its rules refuse is 403 problem+json and nothing is subscribed", async () => {
    const c = await f.raw(login("reader", "live-1"));
    const res = await post("live-1", subscribeBody(["public/#", 1], ["secrets/#", 1]));
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toContain("application/problem+json");
    expect(res.body.detail).toContain("secrets/#");
    expect(res.body.errors).toEqual([{ pointer: "#/subscriptions", detail: expect.stringContaining("SUBACK 0x80") }]);
    expect([...(f.b.broker.sessions.get("live-1")?.subscriptions.keys() ?? [])]).toEqual([]);
    // '#' overlaps the deny pattern: granted, and filtered per message like the client's own subscription
    const ok = await post("live-1", subscribeBody(["#", 1], ["slow/x", 2]));
    expect(ok.status).toBe(200);
    expect(ok.body.subscriptions).toEqual(expect.arrayContaining([expect.objectContaining({ filter: "#", qos: 1 }), expect.objectContaining({ filter: "slow/x", qos: 1 })]));
    const admin = await f.raw(login("admin", "admin-1"));
    for (const [i, topic] of ["secrets/a", "public/a"].entries()) {
      admin.send({ cmd: "publish", topic, payload: Buffer.from("x"), qos: 1, messageId: i + 1, retain: false, dup: false });
      await admin.expect("puback");
    }
    const p = await c.expect("publish");
    expect(p.topic).toBe("public/a");
  });

  it("an offline session: its identity's rules from the auth configuration", async () => {
    const c = await f.raw(login("reader", "off-1", false));
    c.send({ cmd: "disconnect" });
    await c.waitClosed();
    expect((await post("off-1", subscribeBody(["secrets/x", 0]))).status).toBe(403);
    const ok = await post("off-1", subscribeBody(["public/+", 2]));
    expect(ok.status).toBe(200);
    expect((await f.b.broker.store.getSession("off-1"))?.subscriptions).toEqual({ "public/+": 1 });
  });

  it("an offline session whose identity the auth configuration does not know: 409, nothing subscribed", async () => {
    await offlineSession(f.b.broker.store, "ghost-1", "ghost");
    const res = await post("ghost-1", subscribeBody(["public/#", 0]));
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/cannot determine the rules of client 'ghost-1' \(user 'ghost'\)/);
    expect((await f.b.broker.store.getSession("ghost-1"))?.subscriptions).toEqual({});
    // anonymous sessions when anonymous clients are not allowed
    await offlineSession(f.b.broker.store, "anon-1", null);
    expect((await post("anon-1", subscribeBody(["public/#", 0]))).status).toBe(409);
  });
});

describe("subscribe on behalf, cluster (Lambda) backend", () => {
  let store: MemoryStore;
  let auth: Auth;
  let key: string;
  const sent: unknown[] = [];
  // The Lambda only sends to node queues (SQS); with no live node registered nothing is sent anyway.
  const communicator = { send: async (_node: string, messages: unknown[]) => void sent.push(...messages) };

  beforeAll(async () => {
    auth = await acl();
    store = new MemoryStore();
  });

  async function api(withAuth: Auth | null): Promise<ApiHandler> {
    const { loadConfig } = await import("../../core/config/index.js");
    const limits = gatewayLimits(await loadConfig({ env: {} }));
    if (key === undefined) key = (await createApiKey(store, { name: "admin", scopes: ["admin"], topics: ["#"] }, limits.topic)).key;
    const backend = clusterBackend({ store, communicator, maxSubscriptionsPerSession: 10, auth: withAuth, ...(withAuth === null ? { authError: "no ACL here" } : {}) });
    return createApi({ backend, limits });
  }

  it("checks the session's identity against the ACL: 403 for a refused filter, lower QoS granted", async () => {
    await offlineSession(store, "c-reader", "reader");
    const a = await api(auth);
    const refused = await call(a, "POST", "/v1/clients/c-reader/subscriptions", { key, body: subscribeBody(["secrets/#", 0]) });
    expect(refused.status).toBe(403);
    const ok = await call(a, "POST", "/v1/clients/c-reader/subscriptions", { key, body: subscribeBody(["slow/#", 2], ["#", 1]) });
    expect(ok.status).toBe(200);
    expect((await store.getSession("c-reader"))?.subscriptions).toEqual({ "slow/#": 1, "#": 1 });
  });

  it("refuses (409) when the gateway cannot determine the rules", async () => {
    await offlineSession(store, "c-ghost", "ghost");
    expect((await call(await api(auth), "POST", "/v1/clients/c-ghost/subscriptions", { key, body: subscribeBody(["a", 0]) })).status).toBe(409);
    const noAcl = await call(await api(null), "POST", "/v1/clients/c-reader/subscriptions", { key, body: subscribeBody(["a", 0]) });
    expect(noAcl.status).toBe(409);
    expect(noAcl.body.detail).toContain("no ACL here");
  });
});
