import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { connectRedisStore } from "../../core/store/transport-ioredis.js";
import { connectUpstashStore } from "../../core/store/transport-upstash.js";
import type { Store } from "../../core/store/types.js";
import { type RedisServer, startRedisServer } from "./redis-server.js";
import { startUpstashBridge, type UpstashBridge } from "./upstash-bridge.js";

export type StoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

export interface RedisStoreFixture {
  readonly server: RedisServer;
  /** A plain ioredis client on the same server, for assertions on keys. */
  readonly admin: Redis;
  /** Only with `upstash: true`. */
  readonly bridge: UpstashBridge;
  /** A fresh store on an emptied Redis, over TCP (ioredis) or over the Upstash REST bridge. */
  readonly factory: StoreFactory;
}

/**
 * Starts a real redis-server for the enclosing file (and an Upstash REST bridge to it when asked), stops them
 * afterwards, and hands out stores on an emptied Redis: the setup every Redis-backed suite shares.
 */
export function useRedisStores(opts: { upstash?: boolean } = {}): RedisStoreFixture {
  let server: RedisServer | undefined;
  let bridge: UpstashBridge | undefined;
  let admin: Redis | undefined;

  beforeAll(async () => {
    server = await startRedisServer();
    if (opts.upstash) bridge = await startUpstashBridge(server.url);
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    admin.on("error", () => {});
  });
  afterAll(async () => {
    admin?.disconnect();
    await bridge?.close();
    await server?.stop();
  });

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running (used outside a test or hook?)`);
    return value;
  };
  return {
    get server() {
      return need(server, "redis-server");
    },
    get admin() {
      return need(admin, "the admin client");
    },
    get bridge() {
      return need(bridge, "the Upstash bridge");
    },
    factory: async () => {
      await need(admin, "the admin client").flushall();
      const store = opts.upstash
        ? await connectUpstashStore({ url: need(bridge, "the Upstash bridge").url, token: need(bridge, "the Upstash bridge").token })
        : await connectRedisStore(need(server, "redis-server").url);
      return { store, cleanup: () => store.close() };
    },
  };
}
