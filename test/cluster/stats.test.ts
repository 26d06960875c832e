import { existsSync } from "node:fs";
import mqtt from "mqtt";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { runId, until } from "./support.js";

/**
 * Cluster-wide stats (issue 16) on three broker processes: every node writes its figures with its heartbeat, and
 * GET /v1/stats on any node sums connections, sessions, message counters and rates over all three; /v1/nodes lists
 * each node with its own figures.
 */

let cluster: LocalCluster;
const clients: mqtt.MqttClient[] = [];

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3, heartbeatMs: 500, nodeTtlMs: 3000 });
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  await cluster?.stop();
}, 60_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions on JSON bodies
type Json = Record<string, any>;

async function rest(port: number, path: string): Promise<Json> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${cluster.apiKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

describe("GET /v1/stats and /v1/nodes over a 3-node cluster", () => {
  it("sums connections, sessions, messages and rates over the nodes, on whichever node answers", async () => {
    const id = runId();
    const perNode = [2, 1, 3];
    for (const [i, n] of perNode.entries()) {
      for (let k = 0; k < n; k++) {
        clients.push(await mqtt.connectAsync({ host: "127.0.0.1", port: cluster.nodes[i]!.mqttPort, clientId: `stats-${id}-${i}-${k}`, reconnectPeriod: 0 }));
      }
    }
    // 30 messages published on node 3, to a topic nobody subscribes to.
    const pub = clients.at(-1)!;
    for (let m = 0; m < 30; m++) await pub.publishAsync(`stats/${id}/busy`, String(m), { qos: 1 });

    let stats: Json = {};
    await until(
      "every node's heartbeat reporting the connections",
      async () => {
        stats = await rest(cluster.nodes[0]!.httpPort, "/v1/stats?top=5");
        return stats.connections === 6 && stats.nodesReporting === 3 && stats.messages.received >= 30;
      },
      20_000,
      () => JSON.stringify(stats),
    );
    expect(stats.nodes).toBe(3);
    expect(stats.sessions).toBe(6);
    expect(stats.topTopics[0]).toMatchObject({ topic: `stats/${id}/busy`, messages: 30 });

    // Another node answers the same sums (its own figures live, the others' from their heartbeats). Node 1 answered
    // above with its own figures live, and its last heartbeat may predate its second connection (the six connects and
    // 30 publishes can take less than one 500 ms heartbeat): node 2 sees it within a heartbeat, not at once.
    let fromNode2: Json = {};
    await until(
      "node 2 seeing node 1's connections in its heartbeat",
      async () => {
        fromNode2 = await rest(cluster.nodes[1]!.httpPort, "/v1/stats");
        return fromNode2.connections === 6;
      },
      5_000,
      () => JSON.stringify(fromNode2),
    );
    expect(fromNode2).toMatchObject({ nodes: 3, nodesReporting: 3, connections: 6, sessions: 6 });
    expect(fromNode2.messages.received).toBeGreaterThanOrEqual(30);

    // Rates: a steady publisher shows up as messages per second in the next heartbeats.
    let rates = 0;
    const deadline = Date.now() + 10_000;
    while (rates === 0 && Date.now() < deadline) {
      for (let m = 0; m < 20; m++) await pub.publishAsync(`stats/${id}/busy`, "r", { qos: 1 });
      rates = (await rest(cluster.nodes[0]!.httpPort, "/v1/stats")).rates.received;
    }
    expect(rates).toBeGreaterThan(0);

    const nodes = await rest(cluster.nodes[0]!.httpPort, "/v1/nodes");
    expect(nodes.items.map((n: { nodeId: string }) => n.nodeId).sort()).toEqual(cluster.nodes.map((n) => n.nodeId).sort());
    const byNode = new Map<string, { connections: number; version: string }>(nodes.items.map((n: { nodeId: string; stats: { connections: number; version: string } }) => [n.nodeId, n.stats]));
    expect(cluster.nodes.map((n) => byNode.get(n.nodeId)?.connections)).toEqual(perNode);
    for (const s of byNode.values()) expect(s.version).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);

  it("the dashboard (headless Chromium) shows the cluster's sums and every node", async () => {
    const chromiumPath = process.env.MQGATE_CHROMIUM ?? "/usr/bin/chromium";
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: install it (apt-get install -y chromium) or set MQGATE_CHROMIUM`);
    const browser = await chromium.launch({ executablePath: chromiumPath });
    try {
      const base = `http://127.0.0.1:${cluster.nodes[1]!.httpPort}`;
      const page = await browser.newPage();
      await page.goto(`${base}/dashboard/?interval=1`);
      await page.fill("#api-key", cluster.apiKey);
      await page.click("#connect-button");
      const text = async (sel: string) => ((await page.textContent(sel)) ?? "").trim();
      let shown = "";
      await until("the dashboard showing 6 connections on 3 nodes", async () => {
        shown = `${await text("#connections")} / ${await text("#nodes-count")}`;
        return shown === "6 / 3";
      }, 15_000, () => shown);
      const stats = await rest(cluster.nodes[1]!.httpPort, "/v1/stats");
      expect(await text("#sessions")).toBe(String(stats.sessions));
      for (const [i, n] of cluster.nodes.entries()) {
        expect(await text(`#nodes-list li[data-node-id="${n.nodeId}"]`)).toContain(`· ${[2, 1, 3][i]} connections ·`);
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
