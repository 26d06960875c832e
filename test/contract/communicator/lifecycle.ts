import { describe, expect, it } from "vitest";
import { NodeUnreachable } from "../../../core/communicator/errors.js";
import type { NodeMessage } from "../../../core/communicator/types.js";
import { range } from "./messaging.js";
import { type Ctx, deliver, deliveries, eventually, Inbox, seqsByOrigin, sleep, until } from "./fixtures.js";

export function lifecycleTests(ctx: Ctx): void {
  describe("lifecycle", () => {
    it("send to a node without a queue rejects with NodeUnreachable naming it", async () => {
      const a = ctx.h.create();
      const err = await a.send("ghost", [deliver("node-a", 1)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NodeUnreachable);
      expect(err).toMatchObject({ nodeId: "ghost", code: "node-unreachable", statusCode: 503 });
      expect(await ctx.h.queueExists("ghost")).toBe(false);
    });

    it("a communicator starts once", async () => {
      const a = ctx.h.create();
      await a.start("node-a", new Inbox().handler);
      await expect(a.start("node-a2", new Inbox().handler)).rejects.toThrow(/already started/);
    });

    it("stop() stops receiving; the queue stays, keeps what is sent, and a restarted node gets it", async () => {
      const [a, b1] = [ctx.h.create(), ctx.h.create()];
      const first = new Inbox();
      await b1.start("node-b", first.handler);
      await b1.stop();
      expect(await ctx.h.queueExists("node-b")).toBe(true);
      await a.send("node-b", deliveries("node-a", 1, 3));
      await sleep(300);
      expect(first.calls).toBe(0);
      const second = new Inbox();
      await ctx.h.create().start("node-b", second.handler);
      await second.waitFor(3);
      expect(seqsByOrigin(second.messages)).toEqual({ "node-a": [1, 2, 3] });
      expect(first.calls).toBe(0);
    });

    it("stop() waits for the batch being handled, which is then not delivered again", async () => {
      const [a, b1] = [ctx.h.create(), ctx.h.create()];
      let entered = false;
      let finished = false;
      await b1.start("node-b", async () => {
        entered = true;
        await sleep(300);
        finished = true;
      });
      await a.send("node-b", [deliver("node-a", 1)]);
      await until(() => entered);
      await b1.stop();
      expect(finished).toBe(true);
      const again = new Inbox();
      await ctx.h.create().start("node-b", again.handler);
      await a.send("node-b", [deliver("node-a", 2)]);
      expect((await again.waitFor(1)).map((m) => m.id)).toEqual(["node-a-2"]);
      await sleep(200);
      expect(again.ids()).toEqual(["node-a-2"]);
    });

    it("stop({ deleteQueue: true }) removes the queue; sends to it are then NodeUnreachable", async () => {
      const [a, b] = [ctx.h.create(), ctx.h.create()];
      await b.start("node-b", new Inbox().handler);
      await a.send("node-b", [deliver("node-a", 1)]); // a knows (caches) b's address
      await b.stop({ deleteQueue: true });
      expect(await ctx.h.queueExists("node-b")).toBe(false);
      await expect(a.send("node-b", [deliver("node-a", 2)])).rejects.toBeInstanceOf(NodeUnreachable);
      await expect(ctx.h.create().send("node-b", [deliver("node-a", 3)])).rejects.toBeInstanceOf(NodeUnreachable);
    });

    it("a node started again under the same id after a graceful stop gets a fresh queue", async () => {
      const [a, b1] = [ctx.h.create(), ctx.h.create()];
      await b1.start("node-b", new Inbox().handler);
      await b1.stop({ deleteQueue: true });
      const inbox = new Inbox();
      await ctx.h.create().start("node-b", inbox.handler);
      await a.send("node-b", [deliver("node-a", 1)]);
      expect((await inbox.waitFor(1)).map((m) => m.id)).toEqual(["node-a-1"]);
    });

    it("drainQueue hands a dead node's messages over in order and empties its queue; deleteNodeQueue removes it", async () => {
      const [a, dead, survivor] = [ctx.h.create(), ctx.h.create(), ctx.h.create()];
      await dead.start("node-dead", new Inbox().handler);
      await dead.stop(); // a crash leaves the queue behind
      const kick: NodeMessage = { type: "kick", id: "k-9", clientId: "c9", reason: "kicked", discardSession: true };
      await a.send("node-dead", [...deliveries("node-a", 1, 25), kick]);
      await ctx.h.injectRaw("node-dead", "garbage");
      const drained = new Inbox();
      const result = await survivor.drainQueue("node-dead", drained.handler);
      expect(result).toEqual({ drained: 26, malformed: 1, remaining: 0 });
      expect(seqsByOrigin(drained.messages)).toEqual({ "node-a": range(1, 25) });
      expect(drained.messages).toContainEqual(kick);
      expect(await ctx.h.depth("node-dead")).toBe(0);
      await survivor.deleteNodeQueue("node-dead");
      expect(await ctx.h.queueExists("node-dead")).toBe(false);
      await survivor.deleteNodeQueue("node-dead"); // idempotent
      await expect(survivor.drainQueue("node-dead", drained.handler)).rejects.toBeInstanceOf(NodeUnreachable);
    });

    it("a drain whose handler rejects stops there and keeps the rest for a later drain", async () => {
      const [a, dead, survivor] = [ctx.h.create(), ctx.h.create(), ctx.h.create()];
      await dead.start("node-dead", new Inbox().handler);
      await dead.stop();
      await a.send("node-dead", deliveries("node-a", 1, 5));
      const failing = new Inbox();
      failing.fail = () => true;
      await expect(survivor.drainQueue("node-dead", failing.handler)).rejects.toThrow(/refuses/);
      const later = new Inbox();
      await eventually(async () => {
        await survivor.drainQueue("node-dead", later.handler);
        return later.messages.length >= 5;
      }, 20_000, "the kept messages drained");
      expect(seqsByOrigin(later.messages)).toEqual({ "node-a": [1, 2, 3, 4, 5] });
    });
  });
}
