import { RedisReplyError } from "./errors.js";
import type { LuaScript } from "./scripts.js";

/**
 * The few things the Redis store needs from a connection. Two adapters implement it: transport-ioredis.ts (TCP,
 * for brokers) and transport-upstash.ts (Upstash REST, for Lambdas). Arguments and replies are text; every
 * binary value is encoded before it gets here (codec.ts).
 */
export interface RedisTransport {
  readonly kind: "redis" | "upstash";
  /** One command. Rejects with RedisReplyError for an error reply, or with the transport's own error. */
  command(args: readonly string[]): Promise<unknown>;
  /**
   * Sends the commands in one round trip and in order (not atomically). Each result is the reply or a
   * RedisReplyError; the promise rejects only when the round trip itself fails.
   */
  pipeline(cmds: readonly (readonly string[])[]): Promise<unknown[]>;
  close(): Promise<void>;
}

export interface ScriptCall {
  readonly script: LuaScript;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** A script call or a plain command. */
export type Call = ScriptCall | readonly string[];

function isScriptCall(c: Call): c is ScriptCall {
  return !Array.isArray(c);
}

function isNoScript(v: unknown): boolean {
  return v instanceof RedisReplyError && v.message.includes("NOSCRIPT");
}

function evalsha(c: ScriptCall): string[] {
  return ["EVALSHA", c.script.sha, String(c.keys.length), ...c.keys, ...c.args];
}

function evalSource(c: ScriptCall): string[] {
  return ["EVAL", c.script.source, String(c.keys.length), ...c.keys, ...c.args];
}

/** Throws the error a pipeline entry carries; returns the reply otherwise. */
export function unwrap(v: unknown): unknown {
  if (v instanceof Error) throw v;
  return v;
}

/**
 * Runs scripts by SHA and falls back to EVAL (which also caches the script) when Redis answers NOSCRIPT: after
 * a restart, a failover or SCRIPT FLUSH. The same logic serves both transports.
 */
export class RedisClient {
  constructor(readonly transport: RedisTransport) {}

  command(args: readonly string[]): Promise<unknown> {
    return this.transport.command(args);
  }

  async eval(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const call: ScriptCall = { script, keys, args };
    try {
      return await this.transport.command(evalsha(call));
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return this.transport.command(evalSource(call));
    }
  }

  /**
   * Sends the calls in one pipeline (one round trip). Entries that failed with NOSCRIPT are sent again with EVAL
   * in a second pipeline, in their original order. Each result is a reply or a RedisReplyError.
   *
   * Ordering caveat: a retried entry runs after the entries that followed it and did not fail. Callers keep
   * this harmless by using one script per pipeline for dependent writes (`apply` uses only APPLY), so an empty
   * script cache makes every script entry fail together. With `replayPlain`, the plain commands after the first
   * retried entry are sent again after it too (they must be idempotent): a claim's index writes must follow it.
   */
  async batch(calls: readonly Call[], opts: { replayPlain?: boolean } = {}): Promise<unknown[]> {
    if (calls.length === 0) return [];
    const results = await this.transport.pipeline(calls.map((c) => (isScriptCall(c) ? evalsha(c) : c)));
    const retry: number[] = [];
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i] as Call;
      if (isScriptCall(c) ? isNoScript(results[i]) : opts.replayPlain === true && retry.length > 0) retry.push(i);
    }
    if (retry.length === 0) return results;
    const again = await this.transport.pipeline(retry.map((i) => {
      const c = calls[i] as Call;
      return isScriptCall(c) ? evalSource(c) : c;
    }));
    retry.forEach((i, j) => (results[i] = again[j]));
    return results;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
