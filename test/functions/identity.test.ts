import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { createAuthChain } from "../../core/auth/chain.js";
import { MemoryStore } from "../../core/store/memory.js";
import { createApiKey } from "../../functions/api-keys.js";
import { localBackend } from "../../functions/backend-local.js";
import { gatewayLimits } from "../../functions/route.js";
import { createApi } from "../../functions/router.js";
import { startTestBroker } from "../helpers/broker.js";
import { expectProblem } from "./suite/env.js";
import { call, sleep, until } from "./support.js";

/**
 * Users and roles over REST (issue 15) against the in-process broker (what `npm start` runs): the broker's chain
 * is [store], so what the routes write is what CONNECT checks, and the identity sync applies changes to live
 * connections.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const store = new MemoryStore();
  const auth = await createAuthChain({ mode: "allow-all", backends: ["store"], decisionCacheSeconds: 60 }, { store });
  const broker = await startTestBroker({ auth: { mode: "allow-all", backends: ["store"], syncIntervalMs: 50 } }, auth, store);
  cleanups.push(() => broker.close());
  const api = createApi({ backend: localBackend(broker.broker), limits: gatewayLimits(broker.config) });
  const t = gatewayLimits(broker.config).topic;
  const admin = (await createApiKey(store, { name: "admin", scopes: ["admin"], topics: ["#"] }, t)).key;
  const reader = (await createApiKey(store, { name: "reader", scopes: ["read"], topics: ["#"] }, t)).key;
  const connect = async (clientId: string, username: string, password: string) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId, username, password, reconnectPeriod: 0, connectTimeout: 5000 });
    cleanups.push(async () => void client.end(true));
    return new Promise<{ client: mqtt.MqttClient; error?: Error & { code?: number } }>((resolve) => {
      client.once("connect", () => resolve({ client }));
      client.once("error", (error: Error & { code?: number }) => resolve({ client, error }));
    });
  };
  const narrowAdmin = (await createApiKey(store, { name: "narrow-admin", scopes: ["admin"], topics: ["devices/#"] }, t)).key;
  return { store, broker, api, admin, reader, narrowAdmin, connect };
}

describe("REST /v1/users and /v1/roles", () => {
  it("an admin key limited to some topics cannot manage users or roles (a role for '#' would read everything)", async () => {
    const { api, narrowAdmin, store } = await setup();
    const role = { allow: { publish: ["#"], subscribe: ["#"] } };
    expectProblem(await call(api, "PUT", "/v1/roles/everything", { key: narrowAdmin, body: role }), 403, "forbidden");
    expectProblem(await call(api, "POST", "/v1/users", { key: narrowAdmin, body: { username: "mole", password: "x", roles: ["everything"] } }), 403, "forbidden");
    expectProblem(await call(api, "GET", "/v1/users", { key: narrowAdmin }), 403, "forbidden");
    expect(await store.getUser("mole")).toBeNull();
    expect(await store.listRoles()).toEqual([]);
  });

  it("creates, reads, lists, changes and deletes users; never returns the hash; stores only an scrypt hash", async () => {
    const { api, admin, store } = await setup();
    const created = await call(api, "POST", "/v1/users", { key: admin, body: { username: "dev/1", password: "s3cret", roles: ["sensors"] } });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe("/v1/users/dev%2F1");
    expect(created.body).toMatchObject({ username: "dev/1", roles: ["sensors"], clientIdPattern: null, disabled: false });
    expect(created.raw).not.toContain("s3cret");
    expect(created.raw).not.toContain("scrypt");
    const stored = await store.getUser("dev/1");
    expect(stored?.passwordHash).toMatch(/^scrypt\$N=16384,r=8,p=1\$/);
    expect(JSON.stringify(stored)).not.toContain("s3cret");
    expectProblem(await call(api, "POST", "/v1/users", { key: admin, body: { username: "dev/1", password: "x" } }), 409, "conflict");
    const got = await call(api, "GET", "/v1/users/dev%2F1", { key: admin });
    expect(got.body).toEqual(created.body);
    await call(api, "POST", "/v1/users", { key: admin, body: { username: "a", password: "x" } });
    const page = await call(api, "GET", "/v1/users", { key: admin, query: "limit=1" });
    expect(page.body.items.map((u: { username: string }) => u.username)).toEqual(["a"]);
    const rest = await call(api, "GET", "/v1/users", { key: admin, query: `cursor=${encodeURIComponent(page.body.cursor)}` });
    expect(rest.body).toMatchObject({ items: [{ username: "dev/1" }], cursor: null });
    expect(rest.raw).not.toContain("passwordHash");
    const patched = await call(api, "PATCH", "/v1/users/dev%2F1", { key: admin, body: { disabled: true, roles: [] } });
    expect(patched.body).toMatchObject({ disabled: true, roles: [] });
    expect((await store.getUser("dev/1"))?.passwordHash).toBe(stored?.passwordHash);
    expect((await call(api, "DELETE", "/v1/users/dev%2F1", { key: admin })).status).toBe(204);
    expectProblem(await call(api, "DELETE", "/v1/users/dev%2F1", { key: admin }), 404, "not-found");
    expectProblem(await call(api, "GET", "/v1/users/dev%2F1", { key: admin }), 404, "not-found");
    expectProblem(await call(api, "PATCH", "/v1/users/nobody", { key: admin, body: { disabled: true } }), 404, "not-found");
  });

  it("validates bodies (problem+json with every field) and requires the admin scope", async () => {
    const { api, admin, reader } = await setup();
    expectProblem(await call(api, "GET", "/v1/users", { key: reader }), 403, "forbidden");
    expectProblem(await call(api, "PUT", "/v1/roles/r", { key: reader, body: {} }), 403, "forbidden");
    const bad = await call(api, "POST", "/v1/users", { key: admin, body: { username: "", password: "", roles: ["bad name"], extra: 1 } });
    expectProblem(bad, 400, "invalid-request");
    expect(bad.body.errors.length).toBeGreaterThanOrEqual(3);
    expectProblem(await call(api, "PATCH", "/v1/users/x", { key: admin, body: {} }), 400, "invalid-request");
    const role = await call(api, "PUT", "/v1/roles/r", { key: admin, body: { allow: { publish: ["a/#/b"], subscribe: [{ filter: "x", maxQos: 3 }] } } });
    expectProblem(role, 400, "invalid-request");
    expect(role.raw).toContain("not a valid topic filter");
    expectProblem(await call(api, "PUT", "/v1/roles/bad%20name", { key: admin, body: {} }), 400, "invalid-request");
    const many = Array.from({ length: 1001 }, (_, i) => `t/${i}`);
    expectProblem(await call(api, "PUT", "/v1/roles/big", { key: admin, body: { allow: { publish: many } } }), 400, "invalid-request");
    expectProblem(await call(api, "POST", "/v1/users", { key: admin, body: { username: "u", password: "x".repeat(4097) } }), 400, "invalid-request");
  });

  it("PUT creates (201) then replaces (200) a role; GET lists it; DELETE answers 204 then 404", async () => {
    const { api, admin } = await setup();
    const body = { allow: { publish: ["devices/%u/#"], subscribe: ["devices/#", { filter: "alerts/#", maxQos: 1 }] }, deny: { subscribe: ["devices/secret/#"] } };
    const first = await call(api, "PUT", "/v1/roles/device", { key: admin, body });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: "device", allow: body.allow, deny: { publish: [], subscribe: ["devices/secret/#"] } });
    expect((await call(api, "PUT", "/v1/roles/device", { key: admin, body })).status).toBe(200);
    expect((await call(api, "GET", "/v1/roles", { key: admin })).body.items.map((r: { name: string }) => r.name)).toEqual(["device"]);
    expect((await call(api, "GET", "/v1/roles/device", { key: admin })).body.allow).toEqual(body.allow);
    expect((await call(api, "DELETE", "/v1/roles/device", { key: admin })).status).toBe(204);
    expectProblem(await call(api, "DELETE", "/v1/roles/device", { key: admin }), 404, "not-found");
  });
});

describe("users and roles take effect on live connections without a restart", () => {
  it("a user created over REST connects at once; deleting it closes its connection and refuses new ones", async () => {
    const { api, admin, connect } = await setup();
    expect((await connect("c1", "alice", "pw")).error?.code).toBe(4);
    await call(api, "PUT", "/v1/roles/dev", { key: admin, body: { allow: { publish: ["dev/#"], subscribe: ["dev/#"] } } });
    expect((await call(api, "POST", "/v1/users", { key: admin, body: { username: "alice", password: "pw", roles: ["dev"] } })).status).toBe(201);
    const { client, error } = await connect("c1", "alice", "pw");
    expect(error).toBeUndefined();
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const t0 = Date.now();
    expect((await call(api, "DELETE", "/v1/users/alice", { key: admin })).status).toBe(204);
    await closed;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await connect("c2", "alice", "pw")).error?.code).toBe(4);
  });

  it("disabling a user closes its connection; a wrong password is refused with 0x04", async () => {
    const { api, admin, connect } = await setup();
    await call(api, "POST", "/v1/users", { key: admin, body: { username: "bob", password: "pw" } });
    expect((await connect("b0", "bob", "wrong")).error?.code).toBe(4);
    const { client } = await connect("b1", "bob", "pw");
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    await call(api, "PATCH", "/v1/users/bob", { key: admin, body: { disabled: true } });
    await closed;
    expect((await connect("b2", "bob", "pw")).error?.code).toBe(5);
  });

  it("a role change removes the subscriptions it no longer allows, in memory and in the store; the rest keep working", async () => {
    const { api, admin, connect, store, broker } = await setup();
    await call(api, "PUT", "/v1/roles/dev", { key: admin, body: { allow: { publish: ["#"], subscribe: ["dev/#", "ops/#"] } } });
    await call(api, "POST", "/v1/users", { key: admin, body: { username: "carol", password: "pw", roles: ["dev"] } });
    const { client } = await connect("carol-1", "carol", "pw");
    await client.subscribeAsync({ "dev/+": { qos: 1 }, "ops/#": { qos: 1 } });
    const got: string[] = [];
    client.on("message", (topic) => got.push(topic));
    const unsubscribed: string[] = [];
    broker.broker.on("session.unsubscribed", (_c, filter, source) => unsubscribed.push(`${source}:${filter}`));
    await call(api, "PUT", "/v1/roles/dev", { key: admin, body: { allow: { publish: ["#"], subscribe: ["dev/#"] } } });
    await until("ops/# removed", () => unsubscribed.includes("policy:ops/#"), 1000);
    await until("store updated", async () => Object.keys((await store.getSession("carol-1"))?.subscriptions ?? {}).join() === "dev/+", 1000);
    await client.publishAsync("ops/x", "1", { qos: 1 });
    await client.publishAsync("dev/x", "1", { qos: 1 });
    await until("dev/x delivered", () => got.includes("dev/x"));
    await sleep(50);
    expect(got).toEqual(["dev/x"]);
    expect(client.connected).toBe(true);
  });

  it("REST subscribe on behalf of an offline store user reads its current roles from the store", async () => {
    const { api, admin, broker } = await setup();
    await call(api, "PUT", "/v1/roles/dev", { key: admin, body: { allow: { subscribe: ["dev/#"] } } });
    await call(api, "POST", "/v1/users", { key: admin, body: { username: "dora", password: "pw", roles: ["dev"] } });
    const client = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.mqttPort, clientId: "dora-1", username: "dora", password: "pw", clean: false, reconnectPeriod: 0 });
    await client.endAsync();
    // Offline now; a role change makes the node forget what it had read about dora.
    await call(api, "PUT", "/v1/roles/dev", { key: admin, body: { allow: { subscribe: ["dev/#", "ops/#"] } } });
    const sub = (filter: string) => call(api, "POST", "/v1/clients/dora-1/subscriptions", { key: admin, body: { subscriptions: [{ filter, qos: 1 }] } });
    await sleep(200); // the role change reaches the node (auth.syncIntervalMs 50 here)
    expect((await sub("ops/x")).status).toBe(200);
    expectProblem(await sub("secret/x"), 403, "forbidden");
  });
});

