import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { connectUpstashStore } from "../../core/store/transport-upstash.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { startUpstashBridge, type UpstashBridge } from "../helpers/upstash-bridge.js";
import { apiSuite } from "./api.suite.js";

let server: RedisServer;
let bridge: UpstashBridge;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  bridge = await startUpstashBridge(server.url);
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on("error", () => {});
});

afterAll(async () => {
  admin?.disconnect();
  await bridge?.close();
  await server?.stop();
});

apiSuite("Redis over Upstash REST (@upstash/redis)", async () => {
  await admin.flushall();
  const store = await connectUpstashStore({ url: bridge.url, token: bridge.token });
  return { store, cleanup: () => store.close() };
});
