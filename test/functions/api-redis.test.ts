import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { connectRedisStore } from "../../core/store/transport-ioredis.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { apiSuite } from "./api.suite.js";

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on("error", () => {});
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

apiSuite("Redis (ioredis over TCP)", async () => {
  await admin.flushall();
  const store = await connectRedisStore(server.url);
  return { store, cleanup: () => store.close() };
});
