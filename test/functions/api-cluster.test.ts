import { createHash, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import { SqsCommunicator } from "../../core/communicator/index.js";
import { idempotencyKey } from "../../core/store/keys.js";
import { connectRedisStore } from "../../core/store/transport-ioredis.js";
import { connectUpstashStore } from "../../core/store/transport-upstash.js";
import type { Store } from "../../core/store/types.js";
import { createApiKey } from "../../functions/api-keys.js";
import { clusterBackend } from "../../functions/backend-cluster.js";
import { gatewayLimits } from "../../functions/route.js";
import { type ApiHandler, createApi } from "../../functions/router.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { type Fauxqs, startFauxqs } from "../helpers/fauxqs.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { startUpstashBridge, type UpstashBridge } from "../helpers/upstash-bridge.js";
import { call, mqttClient, type TestClient, until } from "./support.js";

/**
 * The REST Lambda's cluster backend (functions/backend-cluster.ts) with real API Gateway v2 events: the Lambda's
 * store is Upstash REST (through the bridge) on a real redis-server, its node queues are in fauxqs, and two broker
 * nodes run in this process on the same Redis (over TCP) with SQS node queues.
 */

let redis: RedisServer;
let bridge: UpstashBridge;
let sqs: Fauxqs;
const prefix = `api-${randomBytes(3).toString("hex")}`;
const brokers: TestBroker[] = [];
const stores: Store[] = [];
const clients: TestClient[] = [];
let api: ApiHandler;
let admin: string;

async function brokerNode(nodeId: string): Promise<TestBroker> {
  const store = await connectRedisStore(redis.url);
  stores.push(store);
  const broker = await startTestBroker({ nodeId, cluster: { heartbeatMs: 200, nodeTtlMs: 1000 } }, createAllowAll(), store, {
    communicator: new SqsCommunicator({ client: sqs.client(), prefix, waitTimeSeconds: 1 }),
  });
  brokers.push(broker);
  return broker;
}

async function connect(broker: TestBroker, clientId: string, clean = true): Promise<TestClient> {
  const c = await mqttClient(broker.mqttPort, clientId, { clean });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redis = await startRedisServer();
  bridge = await startUpstashBridge(redis.url);
  sqs = await startFauxqs();
  await brokerNode("node-a");
  await brokerNode("node-b");
  const lambdaStore = await connectUpstashStore({ url: bridge.url, token: bridge.token });
  stores.push(lambdaStore);
  const backend = clusterBackend({ store: lambdaStore, communicator: new SqsCommunicator({ client: sqs.client(), prefix }), maxSubscriptionsPerSession: 3, auth: createAllowAll() });
  api = createApi({ backend, limits: gatewayLimits(brokers[0]!.config) });
  admin = (await createApiKey(lambdaStore, { name: "admin", scopes: ["admin"], topics: ["#"] }, gatewayLimits(brokers[0]!.config).topic)).key;
}, 60_000);

afterEach(() => {
  for (const c of clients.splice(0)) c.client.end(true);
});

afterAll(async () => {
  for (const b of brokers) await b.close();
  for (const s of stores) await s.close();
  await sqs?.stop();
  await bridge?.close();
  await redis?.stop();
}, 60_000);

const auth = () => ({ key: admin });

/** Whether `filter` of `clientId` is routed everywhere: in the trie of the node holding it, in every other node's routes. */
function routedEverywhere(clientId: string, filter: string): boolean {
  const holder = brokers.find((b) => b.broker.sessions.get(clientId)?.subscriptions.has(filter) === true);
  if (holder === undefined) return false;
  const topic = filter.replace(/#$/, "x").replace(/\+/g, "x");
  return brokers.every((b) => {
    if (b === holder) return true;
    let found = false;
    b.cluster?.routes.table.match(topic, (node) => (found ||= node === holder.config.nodeId));
    return found;
  });
}

/** Whether node `b` still routes `topic` to another node, or holds `clientId` subscribed to `filter`. */
function routesOrHolds(b: TestBroker, topic: string, clientId: string, filter: string): boolean {
  let found = false;
  b.cluster?.routes.table.match(topic, () => (found = true));
  return found || b.broker.sessions.get(clientId)?.subscriptions.has(filter) === true;
}

/** Waits until every node routes `filter` to the client (its subscription reached every node's route table). */
async function visibleEverywhere(clientId: string, filter: string): Promise<void> {
  await until(`${clientId} subscribed to ${filter} on every node`, () => routedEverywhere(clientId, filter), 10_000);
}

describe("REST Lambda on a cluster (Upstash store, SQS node queues)", () => {
  it("publish: QoS 0/1/2 reach subscribers on both nodes, in order; matched is null (a node routes it after the answer)", async () => {
    const a = await connect(brokers[0]!, "rest-sub-a");
    const b = await connect(brokers[1]!, "rest-sub-b");
    await a.client.subscribeAsync("fleet/#", { qos: 2 });
    await b.client.subscribeAsync("fleet/+/cmd", { qos: 1 });
    await visibleEverywhere("rest-sub-a", "fleet/#");
    await visibleEverywhere("rest-sub-b", "fleet/+/cmd");
    for (let i = 0; i < 9; i++) {
      const res = await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "fleet/7/cmd", payload: `m${i}`, qos: i % 3 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: expect.any(String), matched: null });
    }
    await a.waitFor(9, 15_000);
    await b.waitFor(9, 15_000);
    // The order the broker sent them in (wire): mqtt.js emits a QoS 2 message only on its PUBREL, a round trip
    // later, so on a busy machine a QoS 0 message sent right behind it reaches the application first.
    expect(a.wire.map((m) => [m.payload.toString(), m.qos])).toEqual(Array.from({ length: 9 }, (_, i) => [`m${i}`, i % 3]));
    expect(b.wire.map((m) => [m.payload.toString(), m.qos])).toEqual(Array.from({ length: 9 }, (_, i) => [`m${i}`, Math.min(i % 3, 1)]));
    expect(a.messages.map((m) => m.payload.toString()).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `m${i}`));
  });

  it("a retried publish with the same Idempotency-Key is delivered once, also when the first answer was lost", async () => {
    const sub = await connect(brokers[1]!, "idem-sub");
    await sub.client.subscribeAsync("idem/#", { qos: 1 });
    await visibleEverywhere("idem-sub", "idem/#");
    const req = { ...auth(), body: { topic: "idem/1", payload: "once", qos: 1 }, headers: { "idempotency-key": "retry-me" } };
    const first = await call(api, "POST", "/v1/publish", req);
    const replay = await call(api, "POST", "/v1/publish", req);
    expect([first.status, replay.status, replay.headers["idempotent-replayed"]]).toEqual([200, 200, "true"]);
    expect(replay.body).toEqual(first.body);
    // The Lambda died after sending but before recording its answer: the record is gone, the retry sends again, under
    // the same node message id, and SQS FIFO (or the node) drops the repeat.
    const keyRecord = await stores[0]!.getApiKeyByHash(createHash("sha256").update(admin).digest("hex"));
    const raw = new Redis(redis.url);
    await raw.del(idempotencyKey(keyRecord!.id, "retry-me"));
    raw.disconnect();
    const resent = await call(api, "POST", "/v1/publish", req);
    expect([resent.status, resent.headers["idempotent-replayed"]]).toEqual([200, undefined]);
    // One origin, one FIFO group: once the marker arrived, anything sent before it has too.
    await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "idem/1", payload: "marker", qos: 1 } });
    await until("marker delivered", () => sub.messages.some((m) => m.payload.toString() === "marker"), 15_000);
    expect(sub.messages.map((m) => m.payload.toString())).toEqual(["once", "marker"]);
  });

  it("MQTT 5 properties (JSON fields, the raw route's query and headers) reach MQTT 5 subscribers on both nodes; retained reads show them", async () => {
    const subs = await Promise.all(
      brokers.map(async (b, i) => {
        const c = await mqttClient(b.mqttPort, `rest-v5-${i}`, { protocolVersion: 5 });
        clients.push(c);
        await c.client.subscribeAsync("v5/#", { qos: 1 });
        return c;
      }),
    );
    for (let i = 0; i < subs.length; i++) await visibleEverywhere(`rest-v5-${i}`, "v5/#");
    const userProperties = [
      ["z", "1"],
      ["a", "2"],
      ["z", "3"],
    ];
    const body = { topic: "v5/json", payload: "{}", qos: 1, retain: true, payloadFormatIndicator: 1, messageExpiry: 3600, contentType: "application/json", responseTopic: "v5/reply", correlationData: "AQID", userProperties };
    expect((await call(api, "POST", "/v1/publish", { ...auth(), body })).status).toBe(200);
    const headers = {
      "x-amz-mqtt5-payload-format-indicator": "UNSPECIFIED_BYTES",
      "x-amz-mqtt5-correlation-data": "BAU=",
      "x-amz-mqtt5-user-properties": Buffer.from(JSON.stringify([{ k: "v" }])).toString("base64"),
    };
    const raw = await call(api, "POST", "/v1/topics/v5/raw", { ...auth(), body: Buffer.from([0xff]), query: "qos=1&contentType=application%2Foctet-stream&messageExpiry=60&responseTopic=v5/raw-reply", headers });
    expect(raw.status).toBe(200);
    for (const sub of subs) {
      const [json, bin] = await sub.waitFor(2, 15_000);
      expect(json?.properties).toMatchObject({ payloadFormatIndicator: true, contentType: "application/json", responseTopic: "v5/reply", correlationData: Buffer.from([1, 2, 3]) });
      // Names in first-seen order, the repeated one's values in order (mqtt.js gathers user properties in an object).
      expect(Object.entries(json?.properties?.userProperties ?? {})).toEqual([
        ["z", ["1", "3"]],
        ["a", "2"],
      ]);
      expect(json?.properties?.messageExpiryInterval).toBeGreaterThan(3500);
      expect(bin?.properties).toMatchObject({ payloadFormatIndicator: false, contentType: "application/octet-stream", responseTopic: "v5/raw-reply", correlationData: Buffer.from([4, 5]), userProperties: { k: "v" } });
    }
    const retained = await call(api, "GET", "/v1/retained/v5/json", auth());
    const { topic: _t, payload: _p, qos: _q, retain: _r, messageExpiry: _e, ...props } = body;
    expect(retained.body).toMatchObject({ topic: "v5/json", ...props });
    expect(retained.body.messageExpiry).toBeGreaterThan(3500);
  });

  it("a QoS 1 publish to an offline persistent session is queued and delivered when it reconnects", async () => {
    const first = await connect(brokers[0]!, "rest-offline", false);
    await first.client.subscribeAsync("inbox/#", { qos: 1 });
    // A subscription reaches the other nodes' route tables within cluster.routePollMs of its SUBACK (decision 017).
    await visibleEverywhere("rest-offline", "inbox/#");
    await first.client.endAsync();
    await until("session offline", async () => (await stores[0]!.getSession("rest-offline"))?.node === null, 10_000);
    const res = await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "inbox/x", payload: "while-away", qos: 1 } });
    expect(res.status).toBe(200);
    await until("queued in the store", async () => ((await stores[0]!.getSession("rest-offline"))?.outgoing.length ?? 0) === 1, 10_000);
    const again = await connect(brokers[1]!, "rest-offline", false);
    await again.waitFor(1, 10_000);
    expect(again.messages[0]?.payload.toString()).toBe("while-away");
  });

  it("subscriptions added over REST receive messages and the retained message; removal stops them", async () => {
    const c = await connect(brokers[1]!, "rest-subs", false);
    expect((await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "state/lamp", payload: "on", qos: 1, retain: true } })).status).toBe(200);
    await until("retained stored", async () => (await stores[0]!.getRetained("state/lamp")) !== null, 10_000);
    const added = await call(api, "POST", "/v1/clients/rest-subs/subscriptions", { ...auth(), body: { subscriptions: [{ filter: "state/#", qos: 1 }] } });
    expect(added.status).toBe(200);
    await c.waitFor(1, 10_000);
    expect(c.messages[0]).toMatchObject({ topic: "state/lamp", retain: true, qos: 1 });
    await visibleEverywhere("rest-subs", "state/#");
    await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "state/door", payload: "open", qos: 1 } });
    await c.waitFor(2, 10_000);
    const removed = await call(api, "DELETE", "/v1/clients/rest-subs/subscriptions/state/%23", auth());
    expect(removed.status).toBe(204);
    await until("removed on every node (trie and routes)", () => !brokers.some((b) => routesOrHolds(b, "state/x", "rest-subs", "state/#")), 10_000);
    await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "state/door", payload: "closed", qos: 1 } });
    // A marker on another subscription proves the node routed the later publish: nothing else arrived before it.
    await c.client.subscribeAsync("marker", { qos: 1 });
    await visibleEverywhere("rest-subs", "marker");
    await call(api, "POST", "/v1/publish", { ...auth(), body: { topic: "marker", payload: "end", qos: 1 } });
    await c.waitFor(3, 10_000);
    expect(c.messages.map((m) => m.payload.toString())).toEqual(["on", "open", "end"]);
    expect((await call(api, "DELETE", "/v1/retained/state/lamp", auth())).status).toBe(204);
    expect(await stores[0]!.getRetained("state/lamp")).toBeNull();
  });

  it("refuses subscriptions beyond the session's limit with 409 and an unknown session with 404", async () => {
    const c = await connect(brokers[0]!, "rest-limit", false);
    await c.client.subscribeAsync(["l/1", "l/2"], { qos: 0 });
    const over = await call(api, "POST", "/v1/clients/rest-limit/subscriptions", { ...auth(), body: { subscriptions: [{ filter: "l/3", qos: 0 }, { filter: "l/4", qos: 0 }] } });
    expect(over.status).toBe(409);
    expect((await call(api, "POST", "/v1/clients/nobody/subscriptions", { ...auth(), body: { subscriptions: [{ filter: "x", qos: 0 }] } })).status).toBe(404);
  });

  it("DELETE on a client disconnects it on the node that holds it and can discard its session", async () => {
    const c = await connect(brokers[1]!, "rest-kick", false);
    const res = await call(api, "DELETE", "/v1/clients/rest-kick", { ...auth(), query: "discardSession=true" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ clientId: "rest-kick", disconnected: true, sessionDiscarded: true });
    await c.closed;
    await until("session gone", async () => (await stores[0]!.getSession("rest-kick")) === null, 10_000);
    expect((await call(api, "DELETE", "/v1/clients/rest-kick", auth())).status).toBe(404);
  });
});

describe("GET /v1/stats and /v1/nodes through the Lambda's cluster backend (no broker in the process)", () => {
  it("sums the nodes' heartbeat snapshots: connections, sessions, messages, top topics; each node with its figures", async () => {
    await connect(brokers[0]!, "stats-a1");
    await connect(brokers[0]!, "stats-a2");
    const b1 = await connect(brokers[1]!, "stats-b1");
    for (let i = 0; i < 4; i++) await b1.client.publishAsync("stats/lambda/hot", String(i), { qos: 1 });
    let body: { connections?: number; nodesReporting?: number; sessions?: number; topTopics?: { topic: string; messages: number }[]; messages?: { received: number } } = {};
    await until("the heartbeats carrying 3 connections and the publishes", async () => {
      body = (await call(api, "GET", "/v1/stats", { ...auth(), query: "top=5" })).body;
      return body.connections === 3 && (body.topTopics ?? []).some((t) => t.topic === "stats/lambda/hot" && t.messages === 4);
    }, 10_000);
    expect(body).toMatchObject({ nodes: 2, nodesReporting: 2, connections: 3, topicWindowSeconds: 60 });
    expect(body.sessions).toBeGreaterThanOrEqual(3);
    expect(body.messages!.received).toBeGreaterThanOrEqual(4);
    expect(body).not.toHaveProperty("largestQueues"); // only a gateway inside a broker sees its queues
    const nodes = (await call(api, "GET", "/v1/nodes", auth())).body as { items: { nodeId: string; stats: { connections: number } }[] };
    expect(Object.fromEntries(nodes.items.map((n) => [n.nodeId, n.stats.connections]))).toEqual({ "node-a": 2, "node-b": 1 });
  });
});
