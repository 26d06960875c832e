import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MAX_IDEMPOTENT_ANSWER_BYTES } from "../../../core/store/idempotency-types.js";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import type { Ctx } from "./fixtures.js";

const fp = (s: string): string => createHash("sha256").update(s).digest("hex");
const DAY = 24 * 60 * 60 * 1000;

async function newToken(ctx: Ctx, scope: string, key: string, fingerprint: string, pendingMs = 60_000): Promise<string> {
  const r = await ctx.store.beginIdempotent(scope, key, fingerprint, pendingMs);
  if (r.state !== "new") throw new Error(`expected a new record, got ${r.state}`);
  return r.token;
}

export function idempotencyTests(ctx: Ctx): void {
  describe("idempotency records", () => {
    it("a key is new once; while pending a repeat is 'pending'; once done a repeat gets the answer", async () => {
      const token = await newToken(ctx, "k1", "order-1", fp("a"));
      expect(await ctx.store.beginIdempotent("k1", "order-1", fp("a"), 60_000)).toEqual({ state: "pending" });
      expect(await ctx.store.finishIdempotent("k1", "order-1", fp("a"), token, '{"status":200}', DAY)).toBe(true);
      expect(await ctx.store.beginIdempotent("k1", "order-1", fp("a"), 60_000)).toEqual({ state: "done", answer: '{"status":200}' });
      // A second finish (or one with a wrong token) changes nothing.
      expect(await ctx.store.finishIdempotent("k1", "order-1", fp("a"), token, "other", DAY)).toBe(false);
      expect(await ctx.store.beginIdempotent("k1", "order-1", fp("a"), 60_000)).toEqual({ state: "done", answer: '{"status":200}' });
    });

    it("the same key with another fingerprint is a mismatch, pending or done; keys are scoped per API key", async () => {
      const token = await newToken(ctx, "k1", "x", fp("a"));
      expect(await ctx.store.beginIdempotent("k1", "x", fp("b"), 60_000)).toEqual({ state: "mismatch" });
      await ctx.store.finishIdempotent("k1", "x", fp("a"), token, "A", DAY);
      expect(await ctx.store.beginIdempotent("k1", "x", fp("b"), 60_000)).toEqual({ state: "mismatch" });
      // Another scope, and scopes that would collide if joined naively, are independent.
      expect((await ctx.store.beginIdempotent("k2", "x", fp("b"), 60_000)).state).toBe("new");
      expect((await ctx.store.beginIdempotent("a:b", "c", fp("a"), 60_000)).state).toBe("new");
      expect((await ctx.store.beginIdempotent("a", "b:c", fp("b"), 60_000)).state).toBe("new");
    });

    it("concurrent begins of one key: exactly one is new", async () => {
      const all = await Promise.all(Array.from({ length: 10 }, () => ctx.store.beginIdempotent("k1", "race", fp("a"), 60_000)));
      expect(all.filter((r) => r.state === "new")).toHaveLength(1);
      expect(all.filter((r) => r.state === "pending")).toHaveLength(9);
    });

    it("abandon releases this request's pending record only; the key is new again", async () => {
      const token = await newToken(ctx, "k1", "y", fp("a"));
      await ctx.store.abandonIdempotent("k1", "y", fp("a"), "0".repeat(32));
      expect(await ctx.store.beginIdempotent("k1", "y", fp("a"), 60_000)).toEqual({ state: "pending" });
      await ctx.store.abandonIdempotent("k1", "y", fp("a"), token);
      expect((await ctx.store.beginIdempotent("k1", "y", fp("a"), 60_000)).state).toBe("new");
    });

    it("a pending record expires after pendingMs, a done one after its ttl; a late finish writes nothing", async () => {
      const token = await newToken(ctx, "k1", "z", fp("a"), 50);
      await new Promise((r) => setTimeout(r, 120));
      expect(await ctx.store.finishIdempotent("k1", "z", fp("a"), token, "late", DAY)).toBe(false);
      const again = await newToken(ctx, "k1", "z", fp("a"));
      expect(await ctx.store.finishIdempotent("k1", "z", fp("a"), again, "A", 50)).toBe(true);
      await new Promise((r) => setTimeout(r, 120));
      expect((await ctx.store.beginIdempotent("k1", "z", fp("a"), 60_000)).state).toBe("new");
    });

    it("bounds: key 1-128 printable ASCII, answer at most MAX_IDEMPOTENT_ANSWER_BYTES, fingerprint sha256 hex", async () => {
      await expect(ctx.store.beginIdempotent("k1", "", fp("a"), 1000)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.beginIdempotent("k1", "x".repeat(129), fp("a"), 1000)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.beginIdempotent("k1", "tab\there", fp("a"), 1000)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.beginIdempotent("k1", "é", fp("a"), 1000)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.beginIdempotent("k1", "ok", "abc", 1000)).rejects.toBeInstanceOf(InvalidStoreInput);
      expect((await ctx.store.beginIdempotent("k1", "~".repeat(128), fp("a"), 1000)).state).toBe("new");
      const token = await newToken(ctx, "k1", "big", fp("a"));
      await expect(ctx.store.finishIdempotent("k1", "big", fp("a"), token, "x".repeat(MAX_IDEMPOTENT_ANSWER_BYTES + 1), DAY)).rejects.toBeInstanceOf(InvalidStoreInput);
      expect(await ctx.store.finishIdempotent("k1", "big", fp("a"), token, "x".repeat(MAX_IDEMPOTENT_ANSWER_BYTES), DAY)).toBe(true);
      const done = await ctx.store.beginIdempotent("k1", "big", fp("a"), 1000);
      expect(done.state === "done" && done.answer.length).toBe(MAX_IDEMPOTENT_ANSWER_BYTES);
    });
  });
}
