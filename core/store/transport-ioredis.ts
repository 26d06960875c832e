import { Redis, ReplyError } from "ioredis";
import { RedisReplyError } from "./errors.js";
import { RedisStore } from "./redis.js";
import type { RedisTransport } from "./transport.js";

export interface IoRedisTransportOptions {
  /** A command without a reply after this long fails (default 10 s). */
  commandTimeoutMs?: number;
  /** How often a command is retried across reconnects before it fails (default 2). */
  maxRetriesPerRequest?: number;
}

/**
 * ioredis rewrites the replies of a few commands (lowercase `hgetall` becomes an object); its transformers are
 * keyed by the lowercase name, so the name goes out in upper case to get Redis' own reply shape.
 */
function name(args: readonly string[]): string {
  return (args[0] as string).toUpperCase();
}

/**
 * ioredis' error replies are `ReplyError`s; anything else (closed connection, timeout) is a transport failure.
 * Checked with `instanceof`, not by `name`: redis-errors derives `name` from the constructor's name, which a
 * minifying bundler (dist/broker.mjs) renames, and then NOSCRIPT would never fall back to EVAL.
 */
function toReplyError(err: unknown): unknown {
  return err instanceof (ReplyError as typeof Error) ? new RedisReplyError(err.message) : err;
}

/** The Redis store's transport over TCP (brokers): one ioredis connection; pipelines are real RESP pipelines. */
export class IoRedisTransport implements RedisTransport {
  readonly kind = "redis" as const;

  constructor(private readonly redis: Redis) {}

  /** Connects to `url` (redis:// or rediss://) and fails fast when the server does not answer. */
  static async connect(url: string, opts: IoRedisTransportOptions = {}): Promise<IoRedisTransport> {
    const redis = new Redis(url, {
      lazyConnect: true,
      commandTimeout: opts.commandTimeoutMs ?? 10_000,
      maxRetriesPerRequest: opts.maxRetriesPerRequest ?? 2,
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
    });
    // Errors surface on the commands; without a listener ioredis would print every reconnect failure.
    redis.on("error", () => {});
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new IoRedisTransport(redis);
  }

  async command(args: readonly string[]): Promise<unknown> {
    try {
      return await this.redis.call(name(args), ...args.slice(1));
    } catch (err) {
      throw toReplyError(err);
    }
  }

  async pipeline(cmds: readonly (readonly string[])[]): Promise<unknown[]> {
    if (cmds.length === 1) {
      // One command (a journal batch of one session): without a Pipeline object, same round trip.
      const c = cmds[0] as readonly string[];
      try {
        return [await this.redis.call(name(c), ...c.slice(1))];
      } catch (err) {
        const e = toReplyError(err);
        if (e instanceof RedisReplyError) return [e];
        throw e;
      }
    }
    const p = this.redis.pipeline();
    for (const c of cmds) p.call(name(c), ...c.slice(1));
    const res = await p.exec();
    if (res === null) throw new Error("Redis pipeline was discarded");
    return res.map(([err, value]) => {
      if (err === null) return value;
      const e = toReplyError(err);
      if (e instanceof RedisReplyError) return e;
      throw e;
    });
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}

/** The Redis store over TCP (store.kind "redis"). Rejects when Redis does not answer. */
export async function connectRedisStore(url: string, opts: IoRedisTransportOptions = {}): Promise<RedisStore> {
  return new RedisStore(await IoRedisTransport.connect(url, opts));
}
