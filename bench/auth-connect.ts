/**
 * CONNECTs per second on one broker for each auth backend, with a cold and a warm decision cache (issue 15;
 * docs/benchmarks.md, "Auth backends"). The broker runs in this process (one node); the clients are raw TCP
 * sockets that send CONNECT, wait for CONNACK and close, `CONCURRENCY` at a time, for `SECONDS` per case.
 *
 * - cold: auth.cacheSeconds and auth.decisionCacheSeconds 0, so every CONNECT runs the backend (for acl and store: one scrypt check,
 *   N=16384, r=8, p=1, on the libuv thread pool; for store also one store read);
 * - warm: the default cache, every client reconnecting with the same credentials (a cache hit after the first).
 *
 * Run under the shared lock: `flock /work/wt/bench.lock node bench/auth-connect.mjs`.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqttPacket from "mqtt-packet";
import { createAuthChain } from "../core/auth/chain.js";
import { hashPassword } from "../core/auth/password.js";
import { loadConfig } from "../core/config/index.js";
import { connectRedisStore } from "../core/store/transport-ioredis.js";
import { MemoryStore } from "../core/store/memory.js";
import type { Store } from "../core/store/types.js";
import { startBroker } from "../broker/server.js";
import { startRedisServer } from "../scripts/lib/redis-server.js";

const SECONDS = Number(process.env.AUTH_BENCH_SECONDS ?? 4);
const CONCURRENCY = 16;
const USERS = 64;

function connectOnce(port: number, clientId: string, username: string, password: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (p) => {
      socket.destroy();
      resolve(p.cmd === "connack" ? (p.returnCode ?? 0) : -1);
    });
    socket.on("data", (d) => parser.parse(d));
    socket.on("error", reject);
    socket.write(mqttPacket.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive: 0, username, password: Buffer.from(password) }));
  });
}

async function measure(port: number): Promise<{ perSecond: number; refused: number }> {
  const end = Date.now() + SECONDS * 1000;
  let ok = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; Date.now() < end; i++) {
        const u = (w * 7 + i) % USERS;
        const code = await connectOnce(port, `c-${u}`, `user-${u}`, `pw-${u}`);
        if (code === 0) ok++;
        else refused++;
      }
    }),
  );
  return { perSecond: Math.round(ok / SECONDS), refused };
}

async function run(backend: "allow-all" | "acl" | "store-memory" | "store-redis", cache: "cold" | "warm", setup: { aclFile: string; memory: Store; redis: Store }) {
  const name = backend.startsWith("store") ? "store" : backend;
  const auth = { mode: "allow-all" as const, backends: [name] as ["acl"], ...(backend === "acl" ? { aclFile: setup.aclFile } : {}), ...(cache === "cold" ? { cacheSeconds: 0, decisionCacheSeconds: 0 } : {}) };
  const store = backend === "store-redis" ? setup.redis : setup.memory;
  const config = await loadConfig({
    env: {},
    overrides: { nodeId: "bench", mqtt: { host: "127.0.0.1", port: 0 }, ws: { port: null }, http: { port: null }, log: { level: "silent" }, sysIntervalSeconds: 0, auth },
  });
  const chain = await createAuthChain(config.auth, { store });
  const running = await startBroker(config, chain, store);
  try {
    const port = running.port("tcp");
    if (cache === "warm") for (let u = 0; u < USERS; u++) await connectOnce(port, `c-${u}`, `user-${u}`, `pw-${u}`);
    return await measure(port);
  } finally {
    await running.close();
  }
}

export async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "mqgate-auth-bench-"));
  const redisServer = await startRedisServer();
  const memory = new MemoryStore();
  const redis = await connectRedisStore(redisServer.url);
  try {
    const hashes = await Promise.all(Array.from({ length: USERS }, (_, u) => hashPassword(`pw-${u}`)));
    const aclFile = join(dir, "acl.json");
    await writeFile(aclFile, JSON.stringify({ users: hashes.map((h, u) => ({ username: `user-${u}`, password: h })), rules: [{ users: ["*"], allow: { publish: ["t/%u/#"], subscribe: ["t/#"] } }] }));
    await memory.putRole({ name: "r", allow: { publish: ["t/%u/#"], subscribe: ["t/#"] }, deny: { publish: [], subscribe: [] }, updatedAt: 1 });
    await redis.putRole({ name: "r", allow: { publish: ["t/%u/#"], subscribe: ["t/#"] }, deny: { publish: [], subscribe: [] }, updatedAt: 1 });
    for (const [u, h] of hashes.entries()) {
      const user = { username: `user-${u}`, passwordHash: h, clientIdPattern: null, roles: ["r"], disabled: false, createdAt: 1, updatedAt: 1 };
      await memory.putUser(user);
      await redis.putUser(user);
    }
    const rows: string[] = [];
    for (const backend of ["allow-all", "acl", "store-memory", "store-redis"] as const) {
      for (const cache of ["cold", "warm"] as const) {
        const r = await run(backend, cache, { aclFile, memory, redis });
        rows.push(`| ${backend} | ${cache} | ${r.perSecond} | ${r.refused} |`);
        process.stderr.write(`${backend} ${cache}: ${r.perSecond} CONNECT/s (${r.refused} refused)\n`);
      }
    }
    process.stdout.write(`| backend | cache | CONNECT/s | refused |\n| --- | --- | ---: | ---: |\n${rows.join("\n")}\n`);
    return 0;
  } finally {
    await redis.close();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
