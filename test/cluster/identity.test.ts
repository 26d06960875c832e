import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { brokerLogs, Clients, Inbox, runId, sleep, until } from "./support.js";

/**
 * Users and roles in the store on the local cluster (issue 15): three `dist/broker.mjs` processes with
 * MQGATE_AUTH_BACKENDS=store on one redis-server and fauxqs. Changes are made over one node's REST API and must
 * reach every node within 1 s, without a restart (the nodes poll the store's identity version, decision 015).
 */

const run = runId();
let cluster: LocalCluster;
let nodes: LocalNode[];
const clients = new Clients();

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3, env: { MQGATE_AUTH_BACKENDS: "store" } });
  nodes = cluster.nodes;
}, 90_000);

afterEach(async () => {
  await clients.endAll();
});

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

async function rest(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${nodes[0]!.httpPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.apiKey}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

/** The CONNACK return code a CONNECT gets (0 = accepted; the client is kept for endAll). */
function connectCode(node: LocalNode, clientId: string, username: string, password: string): Promise<{ code: number; client: mqtt.MqttClient }> {
  const client = clients.start(node, clientId, { username, password, connectTimeout: 5000 });
  return new Promise((resolve) => {
    client.once("connect", () => resolve({ code: 0, client }));
    client.once("error", (err: Error & { code?: number }) => resolve({ code: err.code ?? -1, client }));
  });
}

describe("users and roles on a cluster of three broker processes", () => {
  it(
    "a user created over REST connects to every node within 1 s; a role change removes subscriptions; deleting it closes its connections within 1 s",
    async () => {
      const user = `u-${run}`;
      const dev = `dev-${run}`;
      const ops = `ops-${run}`;
      expect((await rest("PUT", `/v1/roles/r-${run}`, { allow: { publish: ["#"], subscribe: [`${dev}/#`, `${ops}/#`] } })).status).toBe(201);
      expect((await connectCode(nodes[0]!, `${user}-x`, user, "pw")).code).toBe(4);

      const created = Date.now();
      expect((await rest("POST", "/v1/users", { username: user, password: "pw", roles: [`r-${run}`] })).status).toBe(201);
      const conns: { client: mqtt.MqttClient; inbox: Inbox; closed: Promise<number> }[] = [];
      for (const [i, node] of nodes.entries()) {
        const { code, client } = await connectCode(node, `${user}-${i}`, user, "pw");
        expect(code, `node-${i + 1}`).toBe(0);
        conns.push({ client, inbox: new Inbox(client), closed: new Promise((r) => client.once("close", () => r(Date.now()))) });
      }
      expect(Date.now() - created).toBeLessThan(1000);

      for (const { client } of conns) {
        const granted = await client.subscribeAsync({ [`${dev}/#`]: { qos: 1 }, [`${ops}/#`]: { qos: 1 } });
        expect(granted.map((g) => g.qos)).toEqual([1, 1]);
      }
      const changed = Date.now();
      expect((await rest("PUT", `/v1/roles/r-${run}`, { allow: { publish: ["#"], subscribe: [`${dev}/#`] } })).status).toBe(200);
      for (const i of [0, 1, 2]) {
        await until(
          `node-${i + 1}: ${ops}/# removed from the session`,
          async () => {
            const subs = (await rest("GET", `/v1/clients/${user}-${i}/subscriptions`)).body as { subscriptions?: { filter: string }[] };
            return JSON.stringify((subs.subscriptions ?? []).map((s) => s.filter)) === JSON.stringify([`${dev}/#`]);
          },
          5000,
          () => brokerLogs(cluster),
        );
      }
      expect(Date.now() - changed).toBeLessThan(1000);
      // Deliveries follow: nothing on ops, dev still arrives (routes of other nodes updated too).
      const pub = await mqtt.connectAsync({ host: "127.0.0.1", port: nodes[1]!.mqttPort, clientId: `${user}-pub`, username: user, password: "pw", reconnectPeriod: 0 });
      try {
        await until("dev messages reach every node", async () => {
          await pub.publishAsync(`${dev}/x`, "d", { qos: 1 });
          await pub.publishAsync(`${ops}/x`, "o", { qos: 1 });
          await sleep(100);
          return conns.every((c) => c.inbox.on(`${dev}/x`).length > 0);
        }, 15_000);
        await sleep(300);
        for (const c of conns) expect(c.inbox.on(`${ops}/x`)).toEqual([]);
      } finally {
        await pub.endAsync(true);
      }

      const deleted = Date.now();
      expect((await rest("DELETE", `/v1/users/${user}`)).status).toBe(204);
      const closedAt = await Promise.all(conns.map((c) => c.closed));
      for (const t of closedAt) expect(t - deleted).toBeLessThan(1000);
      for (const node of nodes) expect((await connectCode(node, `${user}-again`, user, "pw")).code).toBe(4);
    },
    90_000,
  );
});
