import { describe, expect, it } from "vitest";
import { BufferFull, type CommunicatorError } from "../../core/communicator/errors.js";
import { MemoryCommunicator, MemoryRegistry, processRegistry } from "../../core/communicator/memory.js";
import type { Communicator } from "../../core/communicator/types.js";
import { deliver, deliveries, Inbox } from "./communicator/fixtures.js";
import { communicatorContract } from "./communicator.suite.js";

const MAX_DELIVERIES = 3;

communicatorContract("memory", async () => {
  const registry = new MemoryRegistry();
  const errors: CommunicatorError[] = [];
  const made: Communicator[] = [];
  return {
    errors,
    maxMessageBytes: 262_144,
    maxDeliveries: MAX_DELIVERIES,
    create() {
      const c = new MemoryCommunicator({ registry, retryDelayMs: 10, maxDeliveries: MAX_DELIVERIES, onError: (e) => errors.push(e) });
      made.push(c);
      return c;
    },
    async injectRaw(nodeId, body) {
      registry.injectRaw(nodeId, [body]);
    },
    async queueExists(nodeId) {
      return registry.mailboxes.has(nodeId);
    },
    async depth(nodeId) {
      return registry.mailboxes.get(nodeId)?.size ?? 0;
    },
    async cleanup() {
      for (const c of made) await c.stop({ deleteQueue: true });
    },
  };
});

describe("MemoryCommunicator", () => {
  it("has kind 'memory' and uses one process-wide registry by default", async () => {
    const [a, b] = [new MemoryCommunicator(), new MemoryCommunicator()];
    expect(a.kind).toBe("memory");
    const inbox = new Inbox();
    expect(await b.start("mem-default-b", inbox.handler)).toBe("memory://mem-default-b");
    expect(processRegistry.mailboxes.has("mem-default-b")).toBe(true);
    await a.send("mem-default-b", [deliver("x", 1)]);
    await inbox.waitFor(1);
    await b.stop({ deleteQueue: true });
    expect(processRegistry.mailboxes.has("mem-default-b")).toBe(false);
  });

  it("delivers asynchronously, and each send arrives as the same batch", async () => {
    const registry = new MemoryRegistry();
    const [a, b] = [new MemoryCommunicator({ registry }), new MemoryCommunicator({ registry })];
    const inbox = new Inbox();
    await b.start("b", inbox.handler);
    const sent = a.send("b", deliveries("a", 1, 12));
    void a.send("b", deliveries("a", 13, 2));
    expect(inbox.calls).toBe(0); // not inside the sender's call
    await sent;
    await inbox.waitFor(14);
    expect(inbox.batches.map((batch) => batch.length)).toEqual([12, 2]);
    await b.stop();
  });

  it("bounds a node's mailbox: a send that does not fit is refused whole with BufferFull", async () => {
    const registry = new MemoryRegistry();
    const [a, b] = [new MemoryCommunicator({ registry }), new MemoryCommunicator({ registry, maxQueued: 5 })];
    await b.start("b", new Inbox().handler);
    await b.stop(); // nobody reads: the mailbox fills
    await a.send("b", deliveries("a", 1, 4));
    const err = await a.send("b", deliveries("a", 5, 2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BufferFull);
    expect(registry.mailboxes.get("b")?.size).toBe(4);
    await a.send("b", deliveries("a", 5, 1));
    expect(registry.mailboxes.get("b")?.size).toBe(5);
  });

  it("refuses to drain a node that is still receiving, or to start a node twice", async () => {
    const registry = new MemoryRegistry();
    const [a, b] = [new MemoryCommunicator({ registry }), new MemoryCommunicator({ registry })];
    await b.start("b", new Inbox().handler);
    await expect(a.drainQueue("b", new Inbox().handler)).rejects.toThrow(/still receiving/);
    await expect(a.start("b", new Inbox().handler)).rejects.toThrow(/already receiving/);
    await b.stop();
  });

  it("deleteNodeQueue of a running node stops its delivery", async () => {
    const registry = new MemoryRegistry();
    const [a, b] = [new MemoryCommunicator({ registry }), new MemoryCommunicator({ registry })];
    const inbox = new Inbox();
    await b.start("b", inbox.handler);
    await a.deleteNodeQueue("b");
    await expect(a.send("b", [deliver("a", 1)])).rejects.toThrow(/unreachable/);
    await b.stop();
    expect(inbox.calls).toBe(0);
  });
});
