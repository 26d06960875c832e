// Exact authorization for wildcards (issue 12, point 4; docs/auth.md "Exact authorization"), on the real broker
// over real sockets: "allow #, deny secrets/#" subscribing to '#' receives everything but secrets/..., live,
// retained, queued for an offline session, and after a restart on the Redis store; a filter inside a deny pattern
// gets SUBACK 0x80; %c / %u deny patterns are per client.
import type { IPublishPacket, QoS } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAclAuth, hashPassword } from "../../core/auth/index.js";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import { MemoryEventSink } from "../../core/events/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { Auth } from "../../core/auth/types.js";
import { connectRedisStore, type RedisStore } from "../../core/store/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
const PW = "pw";

async function acl(): Promise<Auth> {
  const password = await hashPassword(PW, FAST);
  return createAclAuth({
    users: ["admin", "reader", "dev1", "dev2"].map((username) => ({ username, password })),
    rules: [
      // The documented example: everything except secrets/#.
      { users: ["admin"], allow: { publish: ["#"], subscribe: ["#"] } },
      { users: ["reader"], allow: { subscribe: ["#"] }, deny: { subscribe: ["secrets/#"] } },
      // Per-client deny patterns: a device may read the fleet, but not other devices' inboxes... nor its own
      // "hidden" topic (%u) or its client id's key topic (%c): enough to show the substitution per client.
      { users: ["dev1", "dev2"], allow: { subscribe: ["fleet/#"] }, deny: { subscribe: ["fleet/%u/hidden", "fleet/keys/%c"] } },
    ],
  });
}

function login(user: string, clientId: string, clean = true) {
  return { clientId, username: user, password: Buffer.from(PW), clean };
}

/** Publishes at QoS 1 (or 2) and waits for each acknowledgement (routing is done by then). */
async function publishAll(c: RawClient, topics: string[], retain = false, qos: 1 | 2 = 1): Promise<void> {
  let id = 100;
  for (const topic of topics) {
    const messageId = ++id;
    c.send({ cmd: "publish", topic, payload: Buffer.from(`m:${topic}`), qos, messageId, retain, dup: false });
    if (qos === 1) {
      expect(await c.expect("puback")).toMatchObject({ messageId });
      continue;
    }
    expect(await c.expect("pubrec")).toMatchObject({ messageId });
    c.send({ cmd: "pubrel", messageId });
    expect(await c.expect("pubcomp")).toMatchObject({ messageId });
  }
}

/** Collects PUBLISH packets (acknowledging QoS 1) until one on `endTopic` arrives; returns the topics before it. */
async function topicsUntil(c: RawClient, endTopic: string): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  for (;;) {
    const p = await c.expect("publish", 3000);
    if (p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId as number });
    if (p.topic === endTopic) return got;
    got.push(p);
  }
}

const TOPICS = ["public/a", "secrets/db", "secrets", "secrets/x/y", "a/secrets", "secretsx/y", "public/b"];
const ALLOWED = ["public/a", "a/secrets", "secretsx/y", "public/b"];

describe("exact authorization on the memory store", () => {
  const f = useBroker({}, acl);

  it("'allow #, deny secrets/#': '#' is granted and receives everything but secrets/... (live)", async () => {
    const reader = await f.raw(login("reader", "r-live"));
    expect(await reader.subscribe("#", 1)).toEqual([1]);
    const admin = await f.raw(login("admin", "a-live"));
    const withheld = f.b.broker.stats.deliveriesDenied;
    await publishAll(admin, [...TOPICS, "end"]);
    const got = await topicsUntil(reader, "end");
    expect(got.map((p) => p.topic)).toEqual(ALLOWED);
    expect(f.b.broker.stats.deliveriesDenied - withheld).toBe(3);
  });

  it("a filter entirely inside the deny pattern gets SUBACK 0x80; one that overlaps it is granted and filtered", async () => {
    const reader = await f.raw(login("reader", "r-suback"));
    const filters: [string, QoS][] = [["secrets/#", 1], ["secrets/+/x", 1], ["secrets", 0], ["secrets/db", 2], ["+/db", 1], ["+/+/y", 0], ["public/end", 0]];
    expect(await reader.subscribe(filters)).toEqual([0x80, 0x80, 0x80, 0x80, 1, 0, 0]);
    const admin = await f.raw(login("admin", "a-suback"));
    await publishAll(admin, ["secrets/db", "public/db", "secrets/x/y", "public/x/y", "public/end"]);
    expect((await topicsUntil(reader, "public/end")).map((p) => p.topic)).toEqual(["public/db", "public/x/y"]);
  });

  it("retained messages delivered on SUBSCRIBE are checked the same way", async () => {
    const admin = await f.raw(login("admin", "a-ret"));
    await publishAll(admin, ["ret/public", "secrets/ret", "secrets/ret/deep", "ret/zz"], true);
    const reader = await f.raw(login("reader", "r-ret"));
    // The SUBACK comes first, then the retained messages of '#' [MQTT-3.3.1-6].
    expect(await reader.subscribe("#", 1)).toEqual([1]);
    const got: IPublishPacket[] = [];
    while (!(await reader.silentFor(300)) || reader.buffered.length > 0) {
      const p = await reader.expect("publish");
      got.push(p);
      if (p.qos === 1) reader.send({ cmd: "puback", messageId: p.messageId as number });
    }
    const topics = got.map((p) => p.topic);
    expect(topics).toContain("ret/public");
    expect(topics).toContain("ret/zz");
    expect(topics.filter((t) => t.startsWith("secrets"))).toEqual([]);
    expect(got.every((p) => p.retain)).toBe(true);
    // the admin (no deny) does get them
    const other = await f.raw(login("admin", "a-ret2"));
    expect(await other.subscribe("secrets/#", 0)).toEqual([0]);
    const p = await other.expect("publish");
    expect(p.topic.startsWith("secrets/ret")).toBe(true);
    // clean up the retained messages for the other tests
    for (const t of ["ret/public", "secrets/ret", "secrets/ret/deep", "ret/zz"]) {
      admin.send({ cmd: "publish", topic: t, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false });
    }
  });

  it("overlapping subscriptions: one copy at the highest granted QoS, none when a deny pattern matches (MQTT-3.3.5-1)", async () => {
    const reader = await f.raw(login("reader", "r-overlap"));
    expect(await reader.subscribe([["#", 0], ["public/+", 1], ["+/db", 2]])).toEqual([0, 1, 2]);
    const admin = await f.raw(login("admin", "a-overlap"));
    await publishAll(admin, ["public/db", "secrets/db", "public/x", "other/y", "public/end"]);
    const got = await topicsUntil(reader, "public/end");
    expect(got.map((p) => [p.topic, p.qos])).toEqual([
      ["public/db", 1], // '#' (0), public/+ (1), +/db (2): one copy at min(message 1, highest granted 2)
      ["public/x", 1],
      ["other/y", 0],
    ]);
  });

  it("%u and %c in deny patterns are each client's own", async () => {
    const d1 = await f.raw(login("dev1", "c1"));
    const d2 = await f.raw(login("dev2", "c2"));
    expect(await d1.subscribe([["fleet/dev1/hidden", 0], ["fleet/keys/c1", 0], ["fleet/#", 1]])).toEqual([0x80, 0x80, 1]);
    expect(await d2.subscribe("fleet/#", 1)).toEqual([1]);
    const admin = await f.raw(login("admin", "a-fleet"));
    await publishAll(admin, ["fleet/dev1/hidden", "fleet/dev2/hidden", "fleet/keys/c1", "fleet/keys/c2", "fleet/status", "fleet/end"]);
    expect((await topicsUntil(d1, "fleet/end")).map((p) => p.topic)).toEqual(["fleet/dev2/hidden", "fleet/keys/c2", "fleet/status"]);
    expect((await topicsUntil(d2, "fleet/end")).map((p) => p.topic)).toEqual(["fleet/dev1/hidden", "fleet/keys/c1", "fleet/status"]);
  });

  it("messages queued for an offline persistent session are filtered too", async () => {
    const r1 = await f.raw(login("reader", "r-offline", false));
    expect(await r1.subscribe("#", 1)).toEqual([1]);
    r1.send({ cmd: "disconnect" });
    await r1.waitClosed();
    const admin = await f.raw(login("admin", "a-offline"));
    await publishAll(admin, [...TOPICS, "end"]);
    const r2 = await f.open();
    expect(await r2.connect(login("reader", "r-offline", false))).toMatchObject({ returnCode: 0, sessionPresent: true });
    expect((await topicsUntil(r2, "end")).map((p) => p.topic)).toEqual(ALLOWED);
  });
});

describe("exact authorization on the Redis store, across a restart", () => {
  let redis: RedisServer;
  let store: RedisStore | null = null;
  let b: TestBroker | null = null;
  let auth: Auth;
  const clients: RawClient[] = [];

  async function restart(withAuth: Auth = auth): Promise<TestBroker> {
    await b?.close();
    await store?.close();
    store = await connectRedisStore(redis.url);
    // One message in flight at a time, so a test can hold one in flight with others queued behind it.
    b = await startTestBroker({ nodeId: `exact-${Date.now()}`, limits: { maxInflight: 1 } }, withAuth, store);
    return b;
  }
  async function open(fields: ReturnType<typeof login>): Promise<RawClient> {
    const c = await RawClient.connected((b as TestBroker).mqttPort, fields);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    auth = await acl();
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await b?.close();
    await store?.close();
    await redis?.stop();
  });

  it("live and retained on the Redis store; messages stored by a broker that did not know the policy are withheld at resume", async () => {
    await restart();
    const admin = await open(login("admin", "a-redis"));
    await publishAll(admin, ["keep/r", "secrets/r"], true);
    const r1 = await open(login("reader", "r-redis", false));
    expect(await r1.subscribe("#", 1)).toEqual([1]);
    const retained = await topicsUntil(r1, "keep/r").catch(() => null);
    expect(retained).toEqual([]); // secrets/r (if it came first) would be listed here
    await publishAll(admin, ["secrets/live", "public/live", "end"]);
    expect((await topicsUntil(r1, "end")).map((p) => p.topic)).toEqual(["public/live"]);
    r1.send({ cmd: "disconnect" });
    await r1.waitClosed();

    // A restarted broker restores the offline session from the store without its client's policy: what it
    // queues for it is checked when the client resumes.
    await restart();
    const admin2 = await open(login("admin", "a-redis-2"));
    const qos: QoS = 1;
    await publishAll(admin2, ["secrets/q1", "public/q1", "secrets/q2/x", "public/q2", "end"]);
    const withheld = (b as TestBroker).broker.stats.deliveriesDenied;
    const r2 = await RawClient.open((b as TestBroker).mqttPort);
    clients.push(r2);
    expect(await r2.connect(login("reader", "r-redis", false))).toMatchObject({ returnCode: 0, sessionPresent: true });
    const got = await topicsUntil(r2, "end");
    expect(got.map((p) => [p.topic, p.qos])).toEqual([
      ["public/q1", qos],
      ["public/q2", qos],
    ]);
    expect((b as TestBroker).broker.stats.deliveriesDenied - withheld).toBe(2);
    // The withheld messages were deleted from the store: a second resume does not bring them back.
    r2.send({ cmd: "pingreq" });
    await r2.expect("pingresp");
    r2.send({ cmd: "disconnect" });
    await r2.waitClosed();
    const r3 = await RawClient.open((b as TestBroker).mqttPort);
    clients.push(r3);
    expect(await r3.connect(login("reader", "r-redis", false))).toMatchObject({ returnCode: 0, sessionPresent: true });
    expect(await r3.silentFor(300)).toBe(true);
  });
  it("rules changed across a restart: a denied message in flight is released with PUBREL, never re-sent; queued ones are dropped", async () => {
    // Before: the reader may read everything.
    const password = await hashPassword(PW, FAST);
    const permissive = createAclAuth({
      users: ["admin", "reader"].map((username) => ({ username, password })),
      rules: [
        { users: ["admin"], allow: { publish: ["#"], subscribe: ["#"] } },
        { users: ["reader"], allow: { subscribe: ["#"] } },
      ],
    });
    await restart(permissive);
    const admin = await open(login("admin", "a-rules"));
    for (const [i, topic] of ["keep/r", "secrets/r"].entries()) {
      // Clears the retained messages of the test above.
      admin.send({ cmd: "publish", topic, payload: Buffer.alloc(0), qos: 1, messageId: i + 1, retain: true, dup: false });
      await admin.expect("puback");
    }
    const r1 = await open(login("reader", "r-rules", false));
    r1.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "#", qos: 2 }] });
    expect((await r1.expect("suback")).granted).toEqual([2]);
    // With maxInflight 1, the first message is in flight (PUBLISH received, never acknowledged), the rest queued.
    await publishAll(admin, ["secrets/inflight"], false, 2);
    const inflight = await r1.expect("publish");
    expect([inflight.topic, inflight.qos]).toEqual(["secrets/inflight", 2]);
    await publishAll(admin, ["secrets/queued", "public/queued"], false, 2);
    r1.destroy(); // no PUBREC: the message stays in flight in the store
    await new Promise((r) => setTimeout(r, 200));

    // After: the ACL denies secrets/#.
    await restart();
    const r2 = await RawClient.open((b as TestBroker).mqttPort);
    clients.push(r2);
    expect(await r2.connect(login("reader", "r-rules", false))).toMatchObject({ returnCode: 0, sessionPresent: true });
    const first = await r2.next(3000);
    expect(first).toMatchObject({ cmd: "pubrel", messageId: inflight.messageId });
    r2.send({ cmd: "pubcomp", messageId: inflight.messageId as number });
    const next = await r2.expect("publish", 3000);
    expect([next.topic, next.qos]).toEqual(["public/queued", 2]);
    expect(await r2.silentFor(300)).toBe(true);
  });
});

describe("exact authorization in a cluster: deliveries from another node are checked where the client is", () => {
  const nodes: TestBroker[] = [];
  const clients: RawClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.destroy();
    for (const n of nodes) await n.close();
  });

  it("a publisher on node 1, a reader with 'deny secrets/#' on node 2: '#' gets everything but secrets/...", async () => {
    const store = new MemoryStore();
    const registry = new MemoryRegistry();
    const auth = await acl();
    for (let i = 1; i <= 2; i++) {
      nodes.push(
        await startTestBroker({ nodeId: `exact-node-${i}`, cluster: { heartbeatMs: 200, nodeTtlMs: 1000 } }, auth, store, {
          communicator: new MemoryCommunicator({ registry }),
          events: new MemoryEventSink(),
        }),
      );
    }
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const reader = await RawClient.connected(n2.mqttPort, login("reader", "r-cluster"));
    clients.push(reader);
    expect(await reader.subscribe("#", 1)).toEqual([1]);
    // Node 1 routes to node 2 (its route table has node 2's filter, without the client or its policy).
    const routed = () => {
      let found = false;
      n1.cluster?.routes.table.match("pub/x", (node) => (found ||= node === "exact-node-2"));
      return found;
    };
    for (let i = 0; i < 500 && !routed(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(routed()).toBe(true);
    const admin = await RawClient.connected(n1.mqttPort, login("admin", "a-cluster"));
    clients.push(admin);
    const withheld = n2.broker.stats.deliveriesDenied;
    await publishAll(admin, [...TOPICS, "end"]);
    expect((await topicsUntil(reader, "end")).map((p) => p.topic)).toEqual(ALLOWED);
    expect(n2.broker.stats.deliveriesDenied - withheld).toBe(3);
    expect(n1.broker.stats.deliveriesDenied).toBe(0); // decided on the node that holds the client

    // Retained messages set through node 1 and read from the store by node 2 on SUBSCRIBE.
    await reader.unsubscribe("#");
    for (let i = 0; i < 500 && routed(); i++) await new Promise((r) => setTimeout(r, 10));
    await publishAll(admin, ["secrets/ret", "pub/ret"], true);
    reader.send({ cmd: "subscribe", messageId: 77, subscriptions: [{ topic: "+/ret", qos: 1 }] });
    expect((await reader.expect("suback")).granted).toEqual([1]);
    const retained = await reader.expect("publish");
    expect([retained.topic, retained.retain]).toEqual(["pub/ret", true]);
    reader.send({ cmd: "puback", messageId: retained.messageId as number });
    expect(await reader.silentFor(300)).toBe(true);
  });
});
