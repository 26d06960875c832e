// The dashboard binds a stored API key to the origin it was entered for (issue 12): a link whose `?api=` names
// another origin must not make it send the key there. In headless Chromium against a real broker and its REST API,
// with a second HTTP server (another origin, answering CORS so the browser would send an Authorization header if
// the page asked it to) that records every Authorization header it sees.
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { sleep, waitFor } from "../ops/support.js";

const KEY = "mqg_origin-bound-key";
const OTHER_KEY = "mqg_key-for-the-other-origin";
const CHROMIUM = process.env.MQGATE_CHROMIUM ?? "/usr/bin/chromium";

/** Another origin that would gladly take a key: answers CORS preflights and GETs, records Authorization headers. */
function startRecorder(): Promise<{ server: Server; origin: string; seen: string[]; requests: string[] }> {
  const seen: string[] = [];
  const requests: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push(`${req.method ?? ""} ${req.url ?? ""}`);
    if (req.headers.authorization !== undefined) seen.push(req.headers.authorization);
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-allow-headers", "authorization");
    res.setHeader("access-control-allow-methods", "GET");
    if (req.method === "OPTIONS") {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(req.url?.startsWith("/v1/nodes") ? '{"items":[]}' : '{"connections":0,"sessions":0,"nodes":0,"messages":{"received":0,"sent":0,"dropped":0}}');
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, requests }));
  });
}

describe("the dashboard never sends a key to another origin", () => {
  let b: TestBroker;
  let base: string;
  let browser: Browser;
  let other: Awaited<ReturnType<typeof startRecorder>>;

  const status = async (page: Page) => ((await page.textContent("#status")) ?? "").trim();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set MQGATE_CHROMIUM`);
    b = await startTestBroker({ http: { host: "127.0.0.1", port: 0 }, apiKey: KEY });
    base = `http://127.0.0.1:${b.http?.port}`;
    other = await startRecorder();
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => other?.server.close(r));
    await b?.close();
  });

  it("a link with ?api= naming another origin asks for a key instead of sending the stored one", { timeout: 30_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard/?interval=1`);
    await page.fill("#api-key", KEY);
    await page.click("#connect-button");
    await waitFor("the first poll", async () => (await status(page)).startsWith("Updated"));

    // Same tab (same sessionStorage), a crafted link.
    await page.goto(`${base}/dashboard/?interval=1&api=${encodeURIComponent(other.origin)}`);
    expect(await page.inputValue("#api-base")).toBe(other.origin);
    await sleep(2500); // a few poll intervals
    expect(other.seen).toEqual([]);
    await waitFor("the request for a key", async () => (await status(page)).includes(`No API key for ${other.origin}`));

    // Connect without typing a key: still nothing sent there.
    await page.click("#connect-button");
    await sleep(1500);
    expect(other.seen).toEqual([]);
    expect(await status(page)).toContain(`No API key for ${other.origin}`);

    // Editing the base URL field of a running dashboard to the other origin: polling stops, no key sent.
    await page.goto(`${base}/dashboard/?interval=1&api=${encodeURIComponent(base)}`);
    await waitFor("polling the own origin again", async () => (await status(page)).startsWith("Updated"));
    await page.fill("#api-base", other.origin);
    await sleep(2500);
    expect(other.seen).toEqual([]);
    await page.close();
  });

  it("keys are stored per origin: a key entered for the other origin goes only there, the first one only to its own", { timeout: 30_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/dashboard/?interval=1`);
    await page.fill("#api-key", KEY);
    await page.click("#connect-button");
    await waitFor("the first poll", async () => (await status(page)).startsWith("Updated"));
    await page.goto(`${base}/dashboard/?interval=1&api=${encodeURIComponent(other.origin)}`);
    await page.fill("#api-key", OTHER_KEY);
    await page.click("#connect-button");
    await waitFor("a request with the other key", async () => other.seen.length > 0);
    expect(new Set(other.seen)).toEqual(new Set([`Bearer ${OTHER_KEY}`]));
    // Back to the own API: its own key, which the broker's REST API accepts.
    await page.goto(`${base}/dashboard/?interval=1&api=${encodeURIComponent(base)}`);
    await waitFor("polling the own origin with its key", async () => (await status(page)).startsWith("Updated"));
    expect(await page.evaluate(`[sessionStorage.getItem("mqgate.apiKey:${base}"), sessionStorage.getItem("mqgate.apiKey:${other.origin}")]`)).toEqual([KEY, OTHER_KEY]);
    expect(other.seen.filter((h) => h.includes(KEY))).toEqual([]);
    await page.close();
  });
});
