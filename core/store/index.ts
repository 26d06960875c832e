import { InvalidStoreInput } from "./errors.js";
import { MemoryStore } from "./memory.js";
import { connectRedisStore } from "./transport-ioredis.js";
import { connectUpstashStore } from "./transport-upstash.js";
import type { Store } from "./types.js";

export type * from "./types.js";
export * from "./errors.js";
export { MemoryStore } from "./memory.js";
export { RedisStore } from "./redis.js";
export { type RedisTransport, RedisClient } from "./transport.js";
export { IoRedisTransport, connectRedisStore, type IoRedisTransportOptions } from "./transport-ioredis.js";
export { UpstashTransport, connectUpstashStore, type UpstashOptions } from "./transport-upstash.js";

export interface StoreConfig {
  /** redis:// or rediss:// URL: the Redis store over TCP (brokers). */
  redisUrl?: string | null;
  /** Upstash REST endpoint and token: the Redis store over HTTP (Lambdas). */
  upstash?: { url: string; token: string } | null;
}

/**
 * The store for this process: Redis over TCP when `redisUrl` is set, Upstash REST when `upstash` is set, the
 * embedded memory store when neither is. Setting both is a configuration mistake and throws.
 */
export async function createStore(config: StoreConfig = {}): Promise<Store> {
  const { redisUrl, upstash } = config;
  if (redisUrl && upstash) throw new InvalidStoreInput("set either redisUrl or upstash, not both");
  if (redisUrl) return connectRedisStore(redisUrl);
  if (upstash) return connectUpstashStore(upstash);
  return new MemoryStore();
}
