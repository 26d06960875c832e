import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedisStore } from "../../core/store/transport-ioredis.js";
import { authenticate } from "../../functions/api-keys.js";
import { freePort } from "../../scripts/lib/ports.js";
import { startRedisServer } from "../helpers/redis-server.js";
import { mqttClient, until } from "./support.js";

// What `npm start` runs (node dist/broker.mjs) serves the REST API next to the broker, on MQGATE_HTTP_PORT,
// with the key of MQGATE_API_KEY or a generated development key printed at start.

const root = new URL("../..", import.meta.url).pathname;
const run = promisify(execFile);
const children = new Set<ChildProcess>();

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MQGATE_")) env[k] = v;
  return env;
}

async function startProcess(extra: Record<string, string>): Promise<{ child: ChildProcess; err: () => string; mqtt: number; http: number }> {
  const [mqtt, http] = [await freePort(), await freePort()];
  const env = cleanEnv();
  Object.assign(env, { MQGATE_HOST: "127.0.0.1", MQGATE_MQTT_PORT: String(mqtt), MQGATE_WS_PORT: "off", MQGATE_HTTP_PORT: String(http), MQGATE_SYS_INTERVAL: "0", ...extra });
  const child = spawn(process.execPath, ["dist/broker.mjs"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout?.on("data", () => {});
  child.once("exit", () => children.delete(child));
  await until("REST API ready line", () => err.includes("REST API ready") || child.exitCode !== null, 10_000);
  if (child.exitCode !== null) throw new Error(`broker exited: ${err}`);
  return { child, err: () => err, mqtt, http };
}

describe("npm start serves the REST API", () => {
  beforeAll(async () => {
    await run(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: root, timeout: 60_000 });
  });
  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
  });

  it("on MQGATE_HTTP_PORT with MQGATE_API_KEY: a REST publish reaches an MQTT subscriber", async () => {
    const p = await startProcess({ MQGATE_API_KEY: "npm-start-key" });
    expect(p.err()).toContain(`mqgate REST API ready: http://127.0.0.1:${p.http}/v1  API key: MQGATE_API_KEY (admin)`);
    expect(p.err()).not.toContain("npm-start-key");
    const sub = await mqttClient(p.mqtt, "npm-start-sub");
    await sub.client.subscribeAsync("npm/#", { qos: 1 });
    const res = await fetch(`http://127.0.0.1:${p.http}/v1/publish`, {
      method: "POST",
      headers: { authorization: "Bearer npm-start-key", "content-type": "application/json" },
      body: JSON.stringify({ topic: "npm/start", payload: "hello", qos: 1 }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { matched: number }).matched).toBe(1);
    const [m] = await sub.waitFor(1);
    expect([m?.topic, m?.payload.toString(), m?.qos]).toEqual(["npm/start", "hello", 1]);
    sub.client.end(true);
    p.child.kill("SIGTERM");
  });

  it("without MQGATE_API_KEY prints a generated development key that works", async () => {
    const p = await startProcess({});
    const key = /development API key \(admin, this process only\): (mqg_\S+)/.exec(p.err())?.[1];
    expect(key).toBeDefined();
    const ok = await fetch(`http://127.0.0.1:${p.http}/v1/clients`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ items: [], cursor: null });
    expect((await fetch(`http://127.0.0.1:${p.http}/v1/clients`)).status).toBe(401);
    // A single node lists itself, with its figures, and /v1/stats counts it.
    const nodes = (await (await fetch(`http://127.0.0.1:${p.http}/v1/nodes`, { headers: { authorization: `Bearer ${key}` } })).json()) as { items: { nodeId: string; address: string; stats?: { connections: number; version: string } }[] };
    expect(nodes.items).toHaveLength(1);
    expect(p.err()).toContain(`(node ${nodes.items[0]!.nodeId})`);
    expect(nodes.items[0]!.address).toMatch(new RegExp(`:${p.mqtt}$`));
    expect(nodes.items[0]!.stats).toMatchObject({ connections: 0, version: expect.any(String) });
    const stats = (await (await fetch(`http://127.0.0.1:${p.http}/v1/stats`, { headers: { authorization: `Bearer ${key}` } })).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ nodes: 1, nodesReporting: 1, connections: 0 });
    p.child.kill("SIGTERM");
  });

  it("npm run keys works against the store of MQGATE_REDIS_URL, and warns on the memory store", async () => {
    const server = await startRedisServer();
    const store = await connectRedisStore(server.url);
    try {
      const env = { ...cleanEnv(), MQGATE_REDIS_URL: server.url };
      const created = await run(process.execPath, ["dist/keys.mjs", "create", "--name", "built", "--scopes", "admin"], { cwd: root, env });
      const key = created.stdout.trim();
      expect((await authenticate(store, `Bearer ${key}`)).name).toBe("built");
      const listed = await run(process.execPath, ["dist/keys.mjs", "list"], { cwd: root, env });
      expect(listed.stdout).toContain("built");
      const memory = await run(process.execPath, ["dist/keys.mjs", "create", "--name", "m", "--scopes", "read"], { cwd: root, env: cleanEnv() });
      expect(memory.stderr).toMatch(/warning: MQGATE_REDIS_URL is not set/);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
