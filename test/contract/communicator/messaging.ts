import { describe, expect, it } from "vitest";
import { DeliveryFailed, MalformedMessage, PayloadTooLarge } from "../../../core/communicator/errors.js";
import type { NodeMessage } from "../../../core/communicator/types.js";
import { fromWireMessage, toWireMessage } from "../../../core/communicator/wire.js";
import { type Ctx, deliver, deliveries, eventually, Inbox, seqsByOrigin, sleep, until } from "./fixtures.js";

const kick: NodeMessage = { type: "kick", id: "k-1", clientId: "dev/ü-1", reason: "takeover", discardSession: false, epoch: 7 };
const subs: NodeMessage = {
  type: "subscriptions",
  id: "s-1",
  clientId: "dev/ü-1",
  add: { "a/+/c": 2, "$SYS/#": 0 },
  remove: ["x/#"],
  deliverRetained: true,
};

export function messagingTests(ctx: Ctx): void {
  describe("messaging", () => {
    it("delivers between two nodes, both ways, every message type intact", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const [inA, inB] = [new Inbox(), new Inbox()];
      expect(typeof (await a.start("node-a", inA.handler))).toBe("string");
      expect(typeof (await b.start("node-b", inB.handler))).toBe("string");
      await a.send("node-b", [deliver("node-a", 1), kick, subs]);
      await b.send("node-a", [deliver("node-b", 1)]);
      expect(await inB.waitFor(3)).toEqual([deliver("node-a", 1), kick, subs]);
      expect(await inA.waitFor(1)).toEqual([deliver("node-b", 1)]);
      expect(ctx.h.errors).toEqual([]);
    });

    it("a sender that never started (the REST gateway) can send; an empty send is a no-op", async () => {
      const [gateway, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      await gateway.send("node-b", []);
      await gateway.send("node-b", [deliver("rest:key-1", 1)]);
      expect((await inbox.waitFor(1)).map((m) => m.id)).toEqual(["rest:key-1-1"]);
    });

    it("a send of more than 10 messages arrives complete and in order", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      await a.send("node-b", deliveries("node-a", 1, 25));
      await inbox.waitFor(25);
      expect(seqsByOrigin(inbox.messages)).toEqual({ "node-a": range(1, 25) });
      expect(inbox.batches.every((batch) => batch.length >= 1)).toBe(true);
    });

    it("keeps each sender's order, also for overlapping sends, with several senders at once", async () => {
      const [a, c, b] = [ctx.h.create(), ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 6; i++) {
        // not awaited one by one: the calls overlap, as a busy broker's would
        sends.push(a.send("node-b", deliveries("node-a", i * 5 + 1, 5)));
        sends.push(c.send("node-b", deliveries("node-c", i * 5 + 1, 5)));
      }
      await Promise.all(sends);
      await inbox.waitFor(60);
      expect(seqsByOrigin(inbox.messages)).toEqual({ "node-a": range(1, 30), "node-c": range(1, 30) });
    });

    it("a batch the handler rejects is delivered again, in order, before what follows", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      inbox.fail = (_batch, call) => call === 1;
      await b.start("node-b", inbox.handler);
      await a.send("node-b", deliveries("node-a", 1, 3));
      await until(() => inbox.calls >= 1);
      await a.send("node-b", deliveries("node-a", 4, 3));
      await inbox.waitFor(6);
      expect(seqsByOrigin(inbox.messages)).toEqual({ "node-a": range(1, 6) });
      const failed = ctx.h.errors.filter((e) => e instanceof DeliveryFailed);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed[0]).toMatchObject({ nodeId: "node-b", dropped: false });
      expect((failed[0] as DeliveryFailed).messageIds).toContain("node-a-1");
    });

    it("says how each message came: first delivery, then delivered again after a failed handling, with its wait", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      inbox.fail = (_batch, call) => call === 1;
      await b.start("node-b", inbox.handler);
      const sentAt = Date.now();
      await a.send("node-b", deliveries("node-a", 1, 1));
      await inbox.waitFor(1);
      const [first, again] = inbox.arrivals;
      expect(first?.[0]?.attempts).toBe(1);
      expect(again?.[0]?.attempts).toBe(2);
      // The second delivery comes after the retry delay: it waited longer than the first, counted from the send.
      expect(again?.[0]?.waitedMs).toBeGreaterThan(first?.[0]?.waitedMs ?? Infinity);
      expect(again?.[0]?.waitedMs).toBeLessThanOrEqual(Date.now() - sentAt + 1_000);
    });

    it("a batch that keeps failing is dropped after the bounded attempts and reported; later messages flow", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      inbox.fail = (batch) => batch.some((m) => m.id === "poison");
      await b.start("node-b", inbox.handler);
      await a.send("node-b", [{ ...kick, id: "poison" }]);
      await until(() => ctx.h.errors.some((e) => e instanceof DeliveryFailed && e.dropped));
      expect(inbox.calls).toBe(ctx.h.maxDeliveries);
      await a.send("node-b", [deliver("node-a", 1)]);
      expect((await inbox.waitFor(1)).map((m) => m.id)).toEqual(["node-a-1"]);
      await eventually(async () => (await ctx.h.depth("node-b")) === 0, 15_000, "poison deleted");
    });

    it("a malformed body is reported and deleted, never handed over nor retried", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      await ctx.h.injectRaw("node-b", "{not json");
      await ctx.h.injectRaw("node-b", JSON.stringify({ type: "deliver", id: "bad-1", origin: "x" }));
      await ctx.h.injectRaw("node-b", JSON.stringify({ ...kick, id: "bad-2", reason: "because" }));
      await a.send("node-b", [deliver("node-a", 1)]);
      expect((await inbox.waitFor(1)).map((m) => m.id)).toEqual(["node-a-1"]);
      await until(() => ctx.h.errors.length >= 3);
      const malformed = ctx.h.errors.filter((e) => e instanceof MalformedMessage);
      expect(malformed).toHaveLength(3);
      expect(malformed.map((e) => e.body)).toContain("{not json");
      expect(malformed.find((e) => e.body.includes("bad-2"))?.problem).toMatch(/reason/);
      await eventually(async () => (await ctx.h.depth("node-b")) === 0, 15_000, "malformed bodies deleted");
      expect(inbox.messages).toHaveLength(1);
      expect(ctx.h.errors).toHaveLength(3);
    });

    it("carries MQTT 5 properties and the publication time intact (decision 024); a 3.1.1 message has neither", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      const props = {
        payloadFormatIndicator: 1, messageExpiryInterval: 30, contentType: "text/ü", responseTopic: "re/€", // BMP only: fauxqs refuses astral characters
        correlationData: Buffer.from([0, 255, 124]), userProperties: [["b", "1"], ["a", "2"], ["b", "1"]] as [string, string][],
      };
      const v5 = { topic: "t/v5", payload: Buffer.from([1, 2]), qos: 1 as const, retain: false, props, publishedAt: 1_700_000_000_000 };
      const plain = { topic: "t/311", payload: Buffer.from("x"), qos: 0 as const, retain: true };
      expect(Object.keys(toWireMessage(plain))).toEqual(["topic", "payload", "qos", "retain"]);
      const sent: NodeMessage[] = [
        { ...deliver("node-a", 1), msg: toWireMessage(v5) } as NodeMessage,
        { type: "publish", id: "rest-1", origin: "rest", messages: [toWireMessage(plain), toWireMessage(v5)] },
      ];
      // Bad properties make a malformed message, reported and dropped like any other.
      await ctx.h.injectRaw("node-b", JSON.stringify({ ...deliver("node-a", 9), msg: { ...toWireMessage(v5), props: { pfi: 2 } } }));
      await a.send("node-b", sent);
      expect(await inbox.waitFor(2)).toEqual(sent);
      const [d, p] = inbox.messages;
      expect(d?.type === "deliver" ? fromWireMessage(d.msg) : null).toEqual(v5);
      const got = p?.type === "publish" ? p.messages.map((w) => fromWireMessage(w)) : [];
      expect(got).toEqual([plain, v5]);
      expect(got[0]).not.toHaveProperty("props");
      expect(got[0]).not.toHaveProperty("publishedAt");
      await until(() => ctx.h.errors.length >= 1);
      expect(ctx.h.errors.filter((e) => e instanceof MalformedMessage).map((e) => e.problem)).toEqual([expect.stringMatching(/pfi/)]);
    });

    it("carries a large payload intact (150 KB, 200 KB as base64)", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      const payload = Buffer.alloc(150 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
      await a.send("node-b", [deliver("node-a", 1, payload), deliver("node-a", 2)]);
      const [big, small] = await inbox.waitFor(2);
      expect(big?.type === "deliver" && Buffer.from(big.msg.payload, "base64").equals(payload)).toBe(true);
      expect(small?.id).toBe("node-a-2");
    });

    it("refuses a message over the limit with PayloadTooLarge and sends nothing of that call", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      const inbox = new Inbox();
      await b.start("node-b", inbox.handler);
      const tooBig = deliver("node-a", 2, Buffer.alloc(Math.ceil((ctx.h.maxMessageBytes * 3) / 4)));
      const err = await a.send("node-b", [deliver("node-a", 1), tooBig]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PayloadTooLarge);
      expect(err).toMatchObject({ messageId: "node-a-2", limit: ctx.h.maxMessageBytes, statusCode: 413 });
      expect((err as PayloadTooLarge).bytes).toBeGreaterThan(ctx.h.maxMessageBytes);
      await a.send("node-b", [deliver("node-a", 3)]);
      expect((await inbox.waitFor(1)).map((m) => m.id)).toEqual(["node-a-3"]);
      await sleep(200);
      expect(inbox.ids()).toEqual(["node-a-3"]);
    });
  });
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
