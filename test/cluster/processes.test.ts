import type { SQSClient } from "@aws-sdk/client-sqs";
import type mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { brokerLogs, Clients, Inbox, probeUntil, type QueuedEvent, readEvents, restPublish, runId, seq, sleep, until } from "./support.js";

/**
 * The cluster with real processes: three `dist/broker.mjs` nodes on one redis-server and fauxqs (the SQS
 * emulator), talking through their node queues, with the events queue (scripts/lib/local-cluster.ts). The
 * same scenarios as in-process.test.ts, over the wire. A SIGKILLed node is processes-crash.test.ts.
 *
 * Subscriptions reach the other nodes asynchronously (session broadcasts over SQS), so every test first probes
 * until its routes are in place. Tests run in order and share the cluster; ids and topics are unique per test.
 */

const TEST_MS = 60_000;
const run = runId();
const id = (name: string): string => `${name}-${run}`;

let cluster: LocalCluster;
let node1: LocalNode;
let node2: LocalNode;
let node3: LocalNode;
let sqs: SQSClient;
const clients = new Clients();

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3 });
  [node1, node2, node3] = cluster.nodes as [LocalNode, LocalNode, LocalNode];
  sqs = cluster.sqs.client();
}, 90_000);

afterEach(async () => {
  await clients.endAll();
});

afterAll(async () => {
  sqs?.destroy();
  await cluster?.stop();
}, 60_000);

/** A client on `node` subscribed to `filters`, with its inbox. */
async function subscriber(node: LocalNode, clientId: string, filters: Record<string, { qos: 0 | 1 | 2 }>, opts: mqtt.IClientOptions = {}) {
  const c = await clients.connect(node, clientId, opts);
  const inbox = new Inbox(c);
  const granted = await c.subscribeAsync(filters);
  expect(granted.map((g) => g.qos)).toEqual(Object.values(filters).map((f) => f.qos));
  return { c, inbox };
}

describe("cluster of three broker processes", () => {
  it(
    "the events queue gets every event of a client in order, with its username and never its password",
    async () => {
      const clientId = id("ev");
      const topic = `ev-${run}/t`;
      const password = `pw-${run}-Secret!`;
      const c = await clients.connect(node2, clientId, { username: "ev-user", password, clean: true });
      expect((await c.subscribeAsync(`ev-${run}/#`, { qos: 1 }))[0]?.qos).toBe(1);
      const payloads = seq(5, "m");
      for (const p of payloads) await c.publishAsync(topic, p, { qos: 1 });
      await c.unsubscribeAsync(`ev-${run}/#`);
      await c.endAsync();

      const mine = (events: readonly QueuedEvent[]) => events.filter((e) => e.event.clientId === clientId);
      const events = await readEvents(
        sqs,
        cluster.eventsQueueUrl,
        (all) => mine(all).some((e) => e.event.type === "client.disconnected"),
        30_000,
        (all) => `${all.length} events read; this client's: ${JSON.stringify(mine(all).map((e) => e.event))}\n${brokerLogs(cluster)}`,
      );
      const own = mine(events).map((e) => e.event);
      expect(own.map((e) => e.type)).toEqual([
        "client.connected",
        "session.subscribed",
        ...payloads.map(() => "message.published"),
        "session.unsubscribed",
        "client.disconnected",
      ]);
      expect(own[0]).toMatchObject({ type: "client.connected", node: "node-2", username: "ev-user", clean: true, sessionPresent: false, protocolVersion: 4 });
      expect(own[1]).toMatchObject({ type: "session.subscribed", source: "mqtt", subscriptions: [{ filter: `ev-${run}/#`, requestedQos: 1, grantedQos: 1 }] });
      const published = own.filter((e) => e.type === "message.published");
      expect(published.map((e) => ({ topic: e.topic, qos: e.qos, retain: e.retain, payload: e.payload }))).toEqual(
        payloads.map((p) => ({ topic, qos: 1, retain: false, payload: Buffer.from(p).toString("base64") })),
      );
      expect(own.at(-2)).toMatchObject({ type: "session.unsubscribed", source: "mqtt", filters: [`ev-${run}/#`] });
      expect(own.at(-1)).toMatchObject({ type: "client.disconnected", reason: "client-disconnect", username: "ev-user" });
      // Per-client order is also the order of the events' timestamps and (monotonic) ids.
      expect(own.map((e) => e.id)).toEqual(own.map((e) => e.id).sort());
      // Never the password, in any event of any client, in any form.
      const leaks = events.filter((e) => e.raw.includes(password) || e.raw.includes(Buffer.from(password).toString("base64")));
      expect(leaks.map((e) => e.raw)).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "QoS 0, 1 and 2 from a publisher on node-1 reach subscribers on node-2 and node-3 complete and in publish order",
    async () => {
      const N = 300;
      const base = `seq-${run}`;
      const subs = [
        await subscriber(node2, id("seq-sub2"), { [`${base}/#`]: { qos: 2 } }),
        await subscriber(node3, id("seq-sub3"), { [`${base}/#`]: { qos: 2 } }),
      ];
      const pub = await clients.connect(node1, id("seq-pub"));
      await probeUntil(
        "the subscriptions of node-2 and node-3 to reach node-1",
        () => pub.publishAsync(`${base}/probe`, "p", { qos: 0 }).then(() => undefined),
        () => subs.every((s) => s.inbox.on(`${base}/probe`).length > 0),
        30_000,
        () => subs.map((s) => s.inbox.tail()).join("\n"),
      );

      for (const qos of [0, 1, 2] as const) {
        const topic = `${base}/q${qos}`;
        const expected = seq(N);
        // Sent back to back (the client keeps them in order), acknowledged as they come.
        await Promise.all(expected.map((p) => pub.publishAsync(topic, p, { qos })));
        for (const [i, s] of subs.entries()) {
          await until(
            `${N} QoS ${qos} messages at subscriber ${i + 2}`,
            () => s.inbox.on(topic).length >= N,
            30_000,
            () => `got ${s.inbox.on(topic).length}: ${JSON.stringify(s.inbox.payloads(topic).slice(-20))}\n${brokerLogs(cluster)}`,
          );
        }
        // Nothing more comes after the last one.
        await sleep(300);
        for (const s of subs) {
          expect(s.inbox.payloads(topic)).toEqual(expected);
          expect(new Set(s.inbox.on(topic).map((m) => m.qos))).toEqual(new Set([qos]));
        }
      }
    },
    TEST_MS * 2,
  );

  it(
    "POST /v1/publish on node-1 reaches a subscriber on each node at QoS 0, 1 and 2; matched counts node-1's session",
    async () => {
      const base = `rest-${run}`;
      const subs = [
        await subscriber(node1, id("rest-sub1"), { [`${base}/#`]: { qos: 2 } }),
        await subscriber(node2, id("rest-sub2"), { [`${base}/#`]: { qos: 2 } }),
        await subscriber(node3, id("rest-sub3"), { [`${base}/#`]: { qos: 2 } }),
      ];
      let lastProbe: unknown = null;
      await probeUntil(
        "the subscriptions of node-2 and node-3 to reach node-1",
        async () => {
          const r = await restPublish(cluster, node1, { topic: `${base}/probe`, payload: "p", qos: 0 });
          lastProbe = r;
          expect(r.status).toBe(200);
        },
        () => subs.every((s) => s.inbox.on(`${base}/probe`).length > 0),
        30_000,
        () => `last probe answer ${JSON.stringify(lastProbe)}\n${subs.map((s) => s.inbox.tail()).join("\n")}`,
      );

      for (const qos of [0, 1, 2] as const) {
        const r = await restPublish(cluster, node1, { topic: `${base}/q${qos}`, payload: `rest-${qos}`, qos });
        // The other nodes match their own sessions (decision 017): `matched` counts the answering node's.
        expect(r, `POST /v1/publish at QoS ${qos}`).toMatchObject({ status: 200, body: { matched: 1 } });
        expect(typeof r.body.id).toBe("string");
      }
      for (const [i, s] of subs.entries()) {
        await until(`the three REST messages at the subscriber on node-${i + 1}`, () => s.inbox.all.filter((m) => /\/q\d$/.test(m.topic)).length >= 3, 30_000, () => s.inbox.tail());
      }
      await sleep(1000); // no second copy
      for (const s of subs) {
        expect(s.inbox.all.filter((m) => /\/q\d$/.test(m.topic)).map(({ topic, payload, qos }) => ({ topic, payload, qos }))).toEqual([
          { topic: `${base}/q0`, payload: "rest-0", qos: 0 },
          { topic: `${base}/q1`, payload: "rest-1", qos: 1 },
          { topic: `${base}/q2`, payload: "rest-2", qos: 2 },
        ]);
      }
    },
    TEST_MS,
  );

  it(
    "wildcard and overlapping subscriptions on two other nodes get exactly one copy each, at the highest granted QoS",
    async () => {
      const base = `wild-${run}`;
      // node-2: `a/+/c` QoS 0 and `a/#` QoS 2 overlap for a/b/c (one copy at QoS 2); node-3: `#` QoS 1.
      const x = await subscriber(node2, id("wild-x"), { [`${base}/+/c`]: { qos: 0 }, [`${base}/#`]: { qos: 2 } });
      const y = await subscriber(node3, id("wild-y"), { "#": { qos: 1 } });
      const pub = await clients.connect(node1, id("wild-pub"));
      const probe = `${base}/probe/c`;
      await probeUntil(
        "the subscriptions of node-2 and node-3 to reach node-1",
        () => pub.publishAsync(probe, "p", { qos: 2 }).then(() => undefined),
        // Arriving at QoS 2 and QoS 1 proves the filters that grant those QoS are routed.
        () => x.inbox.on(probe).some((m) => m.qos === 2) && y.inbox.on(probe).some((m) => m.qos === 1),
        30_000,
        () => `x: ${x.inbox.tail()}\ny: ${y.inbox.tail()}`,
      );

      const sends = [
        { topic: `${base}/b/c`, payload: "bc-2", qos: 2 as const, x: 2, y: 1 },
        { topic: `${base}/b/c`, payload: "bc-1", qos: 1 as const, x: 1, y: 1 },
        { topic: `${base}/b/c`, payload: "bc-0", qos: 0 as const, x: 0, y: 0 },
        { topic: `${base}/b/d`, payload: "bd-2", qos: 2 as const, x: 2, y: 1 },
        { topic: `${base}/b/c/d`, payload: "bcd-1", qos: 1 as const, x: 1, y: 1 },
      ];
      for (const s of sends) await pub.publishAsync(s.topic, s.payload, { qos: s.qos });
      const measured = (inbox: Inbox) => inbox.all.filter((m) => m.topic.startsWith(`${base}/`) && m.topic !== probe).map(({ topic, payload, qos }) => ({ topic, payload, qos }));
      for (const [name, inbox] of [["node-2 (a/+/c, a/#)", x.inbox], ["node-3 (#)", y.inbox]] as const) {
        await until(`${sends.length} messages at ${name}`, () => measured(inbox).length >= sends.length, 30_000, () => JSON.stringify(measured(inbox)));
      }
      await sleep(1000); // long enough for an extra copy to show up
      expect(measured(x.inbox)).toEqual(sends.map((s) => ({ topic: s.topic, payload: s.payload, qos: s.x })));
      expect(measured(y.inbox)).toEqual(sends.map((s) => ({ topic: s.topic, payload: s.payload, qos: s.y })));
    },
    TEST_MS,
  );

  it(
    "take-over from node-1 to node-2: session present, the old connection closed, a publish from node-3 reaches the new one",
    async () => {
      const clientId = id("dev");
      const base = `takeover-${run}`;
      const old = await clients.connect(node1, clientId, { clean: false });
      expect((await old.subscribeAsync(`${base}/#`, { qos: 1 }))[0]?.qos).toBe(1);
      // Node-3 must know the session first: a publish from a node that has not yet heard of a subscription is not
      // routed to it (routing between nodes is eventually consistent). Without this wait the publish below went out
      // about 20 ms after the SUBACK and was lost about once in 12 runs (test/cluster/durability.test.ts pins it).
      const pub = await clients.connect(node3, id("takeover-pub"));
      const seen = new Inbox(old);
      await probeUntil(
        "node-3 to route to the session on node-1",
        () => pub.publishAsync(`${base}/probe`, "p", { qos: 0 }).then(() => undefined),
        () => seen.on(`${base}/probe`).length > 0,
        30_000,
        () => seen.tail(),
      );
      let closedAt = 0;
      const oldClosed = new Promise<void>((resolve) =>
        old.once("close", () => {
          closedAt = Date.now();
          resolve();
        }),
      );

      const started = Date.now();
      const fresh = clients.start(node2, clientId, { clean: false });
      const got = new Inbox(fresh);
      const connack = await new Promise<mqtt.IConnackPacket>((resolve, reject) => {
        fresh.once("connect", resolve);
        fresh.once("error", reject);
      });
      const connackAt = Date.now();
      expect(connack.sessionPresent).toBe(true);
      await Promise.race([
        oldClosed,
        sleep(30_000).then(() => {
          throw new Error(`the old connection on node-1 is still open 30 s after the take-over\n${brokerLogs(cluster)}`);
        }),
      ]);
      console.log(
        `processes: take-over node-1 -> node-2: CONNACK after ${connackAt - started} ms, old connection closed after ${closedAt - started} ms`,
      );
      expect(fresh.connected).toBe(true);

      // Published once, right away: a QoS 1 message must find the session wherever node-3 thinks it lives.
      await pub.publishAsync(`${base}/after`, "after", { qos: 1 });
      await until("the message from node-3 on the new connection", () => got.on(`${base}/after`).length > 0, 30_000, () => `${got.tail()}\n${brokerLogs(cluster)}`);
      await sleep(500);
      // QoS 0 probes still on their way at the take-over may arrive too; the message arrives exactly once.
      const after = got.all.filter((m) => m.topic !== `${base}/probe`);
      expect(after.map(({ topic, payload, qos }) => ({ topic, payload, qos }))).toEqual([{ topic: `${base}/after`, payload: "after", qos: 1 }]);
      expect(fresh.connected).toBe(true);
    },
    TEST_MS,
  );
});
