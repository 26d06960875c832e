import { afterEach, describe, expect, it } from "vitest";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { scrape, value } from "../ops/support.js";

/**
 * Lease renewals never wait behind the cluster's background work (decision 019): with the failure detection and
 * cleanup stuck on a store call that never answers, the node keeps renewing, stays registered and keeps serving.
 */

const started: TestBroker[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((b) => b.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lease in one process", () => {
  it("renewals go on while the failure detection is stuck on the store", async () => {
    const memory = new MemoryStore();
    let stuck = false;
    const held: (() => void)[] = [];
    const calls = new Map<string, number>();
    // The broker's store, whose dead-node listing (failure detection, each heartbeat) stops answering on demand.
    const store = new Proxy(memory, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
          if (stuck && prop === "expiredNodes") return new Promise<void>((resolve) => held.push(resolve)).then(() => (v as (...a: unknown[]) => unknown).apply(target, args));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as Store;
    const node = await startTestBroker({ nodeId: "node-1", cluster: { heartbeatMs: 100, nodeTtlMs: 500 }, metrics: { host: "127.0.0.1", port: 0 } }, undefined, store, {
      communicator: new MemoryCommunicator({ registry: new MemoryRegistry() }),
    });
    started.push(node);
    stuck = true;
    const heartbeats = calls.get("heartbeat") ?? 0;
    await sleep(1500); // three TTLs
    expect(calls.get("heartbeat") ?? 0, "renewals while the failure detection is stuck").toBeGreaterThanOrEqual(heartbeats + 5);
    expect((await memory.listNodes(Date.now())).map((n) => n.nodeId)).toEqual(["node-1"]);
    const samples = await scrape(node.metrics?.port ?? 0);
    expect(value(samples, "mqgate_lease_losses_total")).toBe(0);
    expect(value(samples, "mqgate_lease_valid")).toBe(1);
    stuck = false;
    for (const release of held) release();
  });
});
