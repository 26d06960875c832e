import { Redis, type UpstashRequest } from "@upstash/redis";
import { RedisReplyError, StoreDataError } from "./errors.js";
import { RedisStore } from "./redis.js";
import type { RedisTransport } from "./transport.js";

export interface UpstashOptions {
  /** REST URL of the database, e.g. https://eu1-example.upstash.io */
  url: string;
  /** REST token (sent as `Authorization: Bearer <token>`). */
  token: string;
  /** Retries of a request that failed at the network level (default 3). */
  retries?: number;
}

/** @upstash/redis with access to its HTTP requester, so arbitrary commands can go into one /pipeline request. */
class UpstashRest extends Redis {
  send(req: UpstashRequest): Promise<unknown> {
    return this.client.request(req);
  }
}

/**
 * The Redis store's transport over Upstash REST (Lambdas). Every call, a single command included, is a POST to
 * /pipeline: Redis errors then come back per entry in a 200 answer instead of as an HTTP error whose message
 * embeds the whole command (payloads included). Replies use Upstash's base64 response encoding, which the
 * client decodes; the store only ever reads text back (codec.ts).
 */
export class UpstashTransport implements RedisTransport {
  readonly kind = "upstash" as const;
  private readonly rest: UpstashRest;

  constructor(opts: UpstashOptions) {
    const retries = opts.retries ?? 3;
    this.rest = new UpstashRest({
      url: opts.url,
      token: opts.token,
      automaticDeserialization: false,
      enableTelemetry: false,
      retry: retries === 0 ? false : { retries, backoff: (n) => Math.min(50 * 2 ** n, 1000) },
    });
  }

  async command(args: readonly string[]): Promise<unknown> {
    const [reply] = await this.pipeline([args]);
    if (reply instanceof Error) throw reply;
    return reply;
  }

  async pipeline(cmds: readonly (readonly string[])[]): Promise<unknown[]> {
    const res = await this.rest.send({ path: ["pipeline"], body: cmds });
    if (!Array.isArray(res) || res.length !== cmds.length) throw new StoreDataError("unexpected reply from Upstash /pipeline");
    return res.map((entry: { result?: unknown; error?: string }) =>
      entry.error !== undefined && entry.error !== null ? new RedisReplyError(entry.error) : (entry.result ?? null),
    );
  }

  async close(): Promise<void> {}
}

/** The Redis store over Upstash REST (store.kind "upstash"). Sends nothing until the first call. */
export async function connectUpstashStore(opts: UpstashOptions): Promise<RedisStore> {
  return new RedisStore(new UpstashTransport(opts));
}
