import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { Clients, Inbox, probeUntil, restPublish, runId, until } from "./support.js";

/**
 * Idempotent REST publishing (decision 022) end to end: two `dist/broker.mjs` processes on one redis-server and
 * fauxqs, each serving the REST API. A caller that retries a publish with the same Idempotency-Key on the other
 * node gets the first answer back and the MQTT subscribers get the message once: the record is in the shared store.
 * `matched` counts the sessions of the node that answered (docs/rest-api.md; decision 017), so with one subscriber
 * on each node the first answer says 1, not 2, and the retry on the other node replays that same answer.
 */

const run = runId();
let cluster: LocalCluster;
let node1: LocalNode;
let node2: LocalNode;
const clients = new Clients();

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 2 });
  [node1, node2] = cluster.nodes as [LocalNode, LocalNode];
}, 90_000);

afterEach(async () => {
  await clients.endAll();
});

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

async function publish(node: LocalNode, body: unknown, key?: string): Promise<{ status: number; replayed: string | null; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${cluster.apiKey}`, "content-type": "application/json" };
  if (key !== undefined) headers["idempotency-key"] = key;
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/v1/publish`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: res.status, replayed: res.headers.get("idempotent-replayed"), body: (await res.json()) as Record<string, unknown> };
}

describe("Idempotency-Key across broker processes", () => {
  it("a publish retried on another node with the same key is answered from the first and delivered once", async () => {
    const base = `idem-${run}`;
    const sub = await clients.connect(node2, `idem-sub-${run}`);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(`${base}/#`, { qos: 1 });
    const local = await clients.connect(node1, `idem-local-${run}`);
    const localInbox = new Inbox(local);
    await local.subscribeAsync(`${base}/#`, { qos: 1 });
    await probeUntil(
      "the subscription on node-2 to reach node-1",
      async () => {
        expect((await restPublish(cluster, node1, { topic: `${base}/probe`, payload: "p", qos: 0 })).status).toBe(200);
      },
      () => inbox.on(`${base}/probe`).length > 0,
      30_000,
    );
    const body = { topic: `${base}/cmd`, payload: "reboot", qos: 1 };
    const first = await publish(node1, body, `order-${run}`);
    // node-1's own subscriber only: node-2 matches its subscriber itself after the forward.
    expect([first.status, first.replayed, first.body.matched]).toEqual([200, null, 1]);
    const retry = await publish(node2, body, `order-${run}`);
    expect([retry.status, retry.replayed]).toEqual([200, "true"]);
    expect(retry.body).toEqual(first.body);
    const other = await publish(node2, { ...body, payload: "other" }, `order-${run}`);
    expect(other.status).toBe(422);
    // Messages from node-1 reach node-2's subscriber in order: once the marker is in, a second copy would be too.
    expect((await publish(node1, { topic: `${base}/marker`, payload: "m", qos: 1 })).status).toBe(200);
    await until("the marker on node-2", () => inbox.on(`${base}/marker`).length > 0, 30_000, () => inbox.tail());
    await until("the marker on node-1", () => localInbox.on(`${base}/marker`).length > 0, 30_000, () => localInbox.tail());
    expect(inbox.payloads(`${base}/cmd`)).toEqual(["reboot"]);
    expect(localInbox.payloads(`${base}/cmd`)).toEqual(["reboot"]);
  }, 90_000);
});
