import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mqttClient, type TestClient } from "../functions/support.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { sleep, waitFor } from "./support.js";

// The dashboard (functions/dashboard/) in headless Chromium against a real broker and its REST API: it must show
// what the authenticated REST API answers. MQGATE_DASHBOARD_SCREENSHOT=docs/dashboard.png also refreshes the
// screenshot in the docs (otherwise it goes to a temporary folder).

const KEY = "mqg_dashboard-test-key";
const CHROMIUM = process.env.MQGATE_CHROMIUM ?? "/usr/bin/chromium";
const root = new URL("../..", import.meta.url).pathname;

describe("the dashboard", () => {
  let b: TestBroker;
  let base: string;
  let browser: Browser;
  const clients: TestClient[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "mqgate-dashboard-"));

  const rest = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(res.status, path).toBe(200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions on JSON bodies
    return (await res.json()) as any;
  };
  const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? "").trim();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set MQGATE_CHROMIUM`);
    b = await startTestBroker({ http: { host: "127.0.0.1", port: 0 }, apiKey: KEY });
    base = `http://127.0.0.1:${b.http?.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });
  afterAll(async () => {
    for (const c of clients) c.client.end(true);
    await browser?.close();
    await b?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("is served without a key at /dashboard/, and only its own files", async () => {
    const redirect = await fetch(`${base}/dashboard?interval=2`, { redirect: "manual" });
    expect([redirect.status, redirect.headers.get("location")]).toEqual([308, "/dashboard/?interval=2"]);
    const index = await fetch(`${base}/dashboard/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await index.text()).toContain('<script type="module" src="./dashboard.js">');
    const js = await fetch(`${base}/dashboard/dashboard.js`);
    expect([js.status, js.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    for (const path of ["/dashboard/%2e%2e%2fpackage.json", "/dashboard/..%2F..%2Fpackage.json", "/dashboard/missing.js", "/dashboard/sub/dir.js"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/dashboard/`, { method: "POST" })).status).toBe(405);
    // The data is not: the REST API still wants a key.
    expect((await fetch(`${base}/v1/stats`)).status).toBe(401);
  });

  it("refuses a wrong key and says so", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard/?interval=1`);
    await page.fill("#api-key", "mqg_wrong");
    await page.click("#connect-button");
    await waitFor("the refusal", async () => (await text(page, "#status")).includes("refused the key (401)"));
    expect(await page.evaluate(`sessionStorage.getItem("mqgate.apiKey:${base}")`)).toBeNull();
    await page.close();
  });

  it("shows nodes, connections, the largest queue and the top topic as the REST API reports them", { timeout: 60_000 }, async () => {
    // A persistent session that goes offline (its queue fills), a live subscriber, a publisher.
    const device = await mqttClient(b.mqttPort, "device-7", { clean: false });
    await device.client.subscribeAsync("devices/7/commands", { qos: 1 });
    await device.client.endAsync();
    const monitor = await mqttClient(b.mqttPort, "monitor");
    await monitor.client.subscribeAsync("sensors/#", { qos: 0 });
    const pub = await mqttClient(b.mqttPort, "gateway-1");
    clients.push(monitor, pub);

    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await page.goto(`${base}/dashboard?interval=1`);
    expect(page.url()).toBe(`${base}/dashboard/?interval=1`);
    expect(await page.inputValue("#api-base")).toBe(base);
    await page.fill("#api-key", KEY);
    await page.click("#connect-button");
    // The first poll (which also starts the per-topic counting) has been drawn.
    await waitFor("the first poll", async () => /^\d+$/.test(await text(page, "#connections")));
    expect(await page.inputValue("#api-key")).toBe("");
    expect(await page.evaluate(`[sessionStorage.getItem("mqgate.apiKey:${base}"), localStorage.length]`)).toEqual([KEY, 0]);

    // Traffic in a few rounds, so the chart has something to draw.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 6; i++) await pub.client.publishAsync("sensors/kitchen/temp", String(20 + i), { qos: 1 });
      for (let i = 0; i < 2; i++) await pub.client.publishAsync("sensors/hall/temp", String(18 + i), { qos: 1 });
      await pub.client.publishAsync(`devices/7/commands`, `cmd-${round}`, { qos: 1 });
      await sleep(1100);
    }

    const queueCell = '#queues tr[data-client-id="device-7"] td.queued';
    await waitFor("the queue of device-7", async () => (await page.$(queueCell)) !== null && (await text(page, queueCell)) === "4", 15_000);
    await waitFor("the top topic", async () => (await text(page, "#topics tbody tr:first-child td.messages")) === "24", 15_000);
    await waitFor("a chart line", async () => (await page.$$eval("#chart polyline.in", (ls) => ls.map((l) => l.getAttribute("points") ?? ""))).some((p) => p.split(" ").length >= 3), 15_000);

    // Traffic has stopped: the page and the REST API now agree on everything but rates.
    const [stats, nodes, device7, connected] = await Promise.all([rest("/v1/stats?top=10"), rest("/v1/nodes"), rest("/v1/clients/device-7"), rest("/v1/clients?connected=true")]);
    expect(await text(page, "#connections")).toBe(String(stats.connections));
    expect(stats.connections).toBe(connected.items.length);
    expect(stats.connections).toBe(2);
    expect(await text(page, "#nodes-count")).toBe(String(nodes.items.length));
    expect(nodes.items.length).toBe(stats.nodes);
    expect(await page.$$eval("#nodes-list li", (lis) => lis.length)).toBe(nodes.items.length);
    // A single node lists itself, with its figures from its heartbeat.
    expect(nodes.items.map((n: { nodeId: string }) => n.nodeId)).toEqual([b.config.nodeId]);
    expect(await text(page, `#nodes-list li[data-node-id="${b.config.nodeId}"]`)).toMatch(new RegExp(`^${b.config.nodeId} \\(.*\\) · \\d+ connections · [0-9.]+/s in · v`));
    expect(await text(page, "#sessions")).toBe(String(stats.sessions));
    expect(await text(page, queueCell)).toBe(String(device7.queued));
    expect(stats.largestQueues[0]).toEqual({ clientId: "device-7", connected: false, queued: device7.queued, inflight: device7.inflight });
    expect(await text(page, '#queues tr[data-client-id="device-7"] td.state')).toBe("offline");
    expect(await text(page, "#topics tbody tr:first-child td.topic")).toBe(stats.topTopics[0].topic);
    expect(stats.topTopics[0]).toMatchObject({ topic: "sensors/kitchen/temp", messages: 24 });
    expect(await page.$$eval("#topics tbody tr", (rows) => rows.map((r) => r.getAttribute("data-topic")))).toEqual(stats.topTopics.map((t: { topic: string }) => t.topic));
    expect(Number(await text(page, "#rate-in"))).toBeGreaterThanOrEqual(0);

    const shot = process.env.MQGATE_DASHBOARD_SCREENSHOT === undefined ? join(tmp, "dashboard.png") : join(root, process.env.MQGATE_DASHBOARD_SCREENSHOT);
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    await page.close();
  });
});
