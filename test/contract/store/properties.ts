import { describe, expect, it } from "vitest";
import type { MessageProperties } from "../../../core/message-properties.js";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import type { StoredMessage, StoreOp, WillRecord } from "../../../core/store/types.js";
import { applyOne, claim, type Ctx, enqueueOp, msg, T0 } from "./fixtures.js";

/** Every property a message carries, with the awkward cases: binary data, non-ASCII text, repeated names in order. */
function fullProps(): MessageProperties {
  return {
    payloadFormatIndicator: 1,
    messageExpiryInterval: 0xffff_ffff,
    contentType: "application/json; charset=ü",
    responseTopic: "reply/🚀/+",
    correlationData: Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)),
    userProperties: [["b", "1"], ["a", "2"], ["b", "3"], ["", ""], ["ü", "🚀"], ["b", "1"]],
  };
}

function v5(topic: string, props: MessageProperties = fullProps(), publishedAt: number | undefined = T0 - 5): StoredMessage {
  const m: StoredMessage = { ...msg(topic, Buffer.from([0, 255, 124])), props };
  if (publishedAt !== undefined) m.publishedAt = publishedAt;
  return m;
}

/** MQTT 5 properties, publication times and Subscription Identifiers in every store (decision 024). */
export function propertyTests(ctx: Ctx): void {
  describe("MQTT 5 properties", () => {
    it("retained: props and publishedAt come back as stored from get, list, scan and match; a 3.1.1 message has none", async () => {
      const m = { ...v5("v5/a"), retain: true };
      await applyOne(ctx.store, { op: "retained.set", msg: m, maxRetained: 10, now: T0 });
      await applyOne(ctx.store, { op: "retained.set", msg: msg("v5/b", "plain", 1, true), maxRetained: 10, now: T0 });
      await applyOne(ctx.store, { op: "retained.set", msg: { ...msg("v5/c", "", 0, true), props: { contentType: "x" } }, maxRetained: 10, now: T0 });
      const a = await ctx.store.getRetained("v5/a");
      expect(a).toEqual({ ...m, updatedAt: T0 });
      expect(a?.props?.userProperties).toEqual(fullProps().userProperties);
      expect(a?.props?.correlationData?.equals(fullProps().correlationData as Buffer)).toBe(true);
      const b = await ctx.store.getRetained("v5/b");
      expect(b).not.toHaveProperty("props");
      expect(b).not.toHaveProperty("publishedAt");
      const c = await ctx.store.getRetained("v5/c");
      expect(c?.props).toEqual({ contentType: "x" });
      expect(c).not.toHaveProperty("publishedAt");
      const expected = [a, b, c];
      expect((await ctx.store.listRetained({ limit: 10 })).items).toEqual(expected);
      expect((await ctx.store.scanRetained("v5/+", { limit: 10 })).items).toEqual(expected);
      expect((await ctx.store.scanRetained("v5/a", { limit: 10 })).items).toEqual([a]);
      expect(await ctx.store.matchRetained("v5/#")).toEqual([m, msg("v5/b", "plain", 1, true), { ...msg("v5/c", "", 0, true), props: { contentType: "x" } }]);
    });

    it("retained: the store keeps its own copy; a replace without props leaves none", async () => {
      const m = v5("v5/a");
      await applyOne(ctx.store, { op: "retained.set", msg: m, maxRetained: 10, now: T0 });
      m.props?.userProperties?.push(["late", "x"]);
      m.props?.correlationData?.fill(0);
      expect((await ctx.store.getRetained("v5/a"))?.props).toEqual(fullProps());
      await applyOne(ctx.store, { op: "retained.set", msg: msg("v5/a", "again"), maxRetained: 10, now: T0 });
      const again = await ctx.store.getRetained("v5/a");
      expect(again).not.toHaveProperty("props");
      expect(again).not.toHaveProperty("publishedAt");
    });

    it("wills: props and publishedAt come back from takeWill and takeWillsOf", async () => {
      const w: WillRecord = { ...v5("dev/1/gone"), incarnation: T0, username: null, allowed: true };
      const plain: WillRecord = { ...msg("dev/2/gone"), incarnation: T0, username: "u", allowed: false };
      await ctx.store.putWill("c1", 1, "node-a", w);
      await ctx.store.putWill("c2", 1, "node-a", plain);
      await ctx.store.putWill("c3", 1, "node-a", w);
      expect(await ctx.store.takeWill("c1", 1, "node-a")).toEqual(w);
      const taken = (await ctx.store.takeWillsOf("node-a", 10)).sort((x, y) => (x.clientId < y.clientId ? -1 : 1));
      expect(taken.map((t) => t.will)).toEqual([plain, w]);
      expect(taken[0]?.will).not.toHaveProperty("props");
    });

    it("outgoing: props, publishedAt and subIds round trip, queued and in flight, through updates and a resume", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const m = v5("v5/q");
      const noTime = v5("v5/r", { userProperties: [["k", "v"], ["k", "v"]] }, undefined);
      const r = await ctx.store.apply([
        enqueueOp("c1", m),
        enqueueOp("c1", m, { packetId: 7, qos: 2, subIds: [1, 268_435_455, 1] }),
        enqueueOp("c1", msg("v5/plain")),
        enqueueOp("c1", noTime, { retain: true, subIds: [42] }),
        enqueueOp("c1", msg("v5/ids"), { subIds: [3] }),
      ]);
      expect(r.map((x) => x.ok)).toEqual([true, true, true, true, true]);
      const expected = [
        { seq: 1, msg: m, qos: 1, retain: false, packetId: 0, state: 0 },
        { seq: 2, msg: m, qos: 2, retain: false, packetId: 7, state: 0, subIds: [1, 268_435_455, 1] },
        { seq: 3, msg: msg("v5/plain"), qos: 1, retain: false, packetId: 0, state: 0 },
        { seq: 4, msg: noTime, qos: 1, retain: true, packetId: 0, state: 0, subIds: [42] },
        { seq: 5, msg: msg("v5/ids"), qos: 1, retain: false, packetId: 0, state: 0, subIds: [3] },
      ];
      expect((await ctx.store.getSession("c1"))?.outgoing).toEqual(expected);
      const stored = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      const [plain, ids] = [stored[2], stored[4]];
      expect(plain).not.toHaveProperty("subIds");
      expect(plain?.msg).not.toHaveProperty("props");
      expect(ids?.msg).not.toHaveProperty("publishedAt");
      // The header is rewritten, the rest of the entry kept.
      await ctx.store.apply([
        { op: "outgoing.update", clientId: "c1", epoch, seq: 1, packetId: 9, state: 0 },
        { op: "outgoing.update", clientId: "c1", epoch, seq: 2, packetId: 7, state: 1 },
      ]);
      await ctx.store.releaseSession("c1", epoch, T0 + 1);
      const resumed = await claim(ctx.store, "c1", { node: "node-b" });
      expect(resumed.snapshot.outgoing).toEqual([{ ...expected[0], packetId: 9 }, { ...expected[1], state: 1 }, ...expected.slice(2)]);
    });

    it("refuses bad props, publication times and subscription identifiers before writing anything", async () => {
      await claim(ctx.store, "c1");
      const bad: [string, StoredMessage, number[]?][] = [
        ["pfi 2", v5("t", { payloadFormatIndicator: 2 })],
        ["expiry beyond 32 bits", v5("t", { messageExpiryInterval: 2 ** 32 })],
        ["negative expiry", v5("t", { messageExpiryInterval: -1 })],
        ["lone surrogate", v5("t", { contentType: "\ud800" })],
        ["correlation data as text", v5("t", { correlationData: "abc" as unknown as Buffer })],
        ["user property not a pair", v5("t", { userProperties: [["a"]] as unknown as [string, string][] })],
        ["user property not text", v5("t", { userProperties: [["a", 1]] as unknown as [string, string][] })],
        ["negative publishedAt", v5("t", {}, -1)],
        ["fractional publishedAt", v5("t", {}, 1.5)],
        ["subscription identifier 0", msg("t"), [0]],
        ["subscription identifier too large", msg("t"), [268_435_456]],
        ["fractional subscription identifier", msg("t"), [1.5]],
        ["33 subscription identifiers", msg("t"), Array.from({ length: 33 }, (_, i) => i + 1)],
      ];
      for (const [what, m, subIds] of bad) {
        const ops: StoreOp[] = [enqueueOp("c1", msg("ok")), enqueueOp("c1", m, subIds === undefined ? {} : { subIds })];
        if (subIds === undefined) ops.push({ op: "retained.set", msg: m, maxRetained: 10 });
        await expect(ctx.store.apply(ops), what).rejects.toThrow(InvalidStoreInput);
        if (subIds === undefined) {
          await expect(ctx.store.putWill("c1", 1, "node-a", { ...m, incarnation: T0, username: null, allowed: true }), what).rejects.toThrow(InvalidStoreInput);
        }
      }
      expect((await ctx.store.getSession("c1"))?.outgoing).toEqual([]);
      expect(await ctx.store.getRetained("t")).toBeNull();
      expect(await ctx.store.takeWillsOf("node-a", 10)).toEqual([]);
      // The limits themselves are accepted.
      const limits = v5("t", { payloadFormatIndicator: 0, messageExpiryInterval: 0 }, 0);
      expect(await applyOne(ctx.store, enqueueOp("c1", limits, { subIds: Array.from({ length: 32 }, (_, i) => 268_435_455 - i) }))).toEqual({ ok: true, seq: 1 });
    });
  });
}
