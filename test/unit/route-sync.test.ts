import { afterEach, describe, expect, it } from "vitest";
import { RouteSync } from "../../broker/routes.js";
import { MemoryStore } from "../../core/store/memory.js";
import { until } from "../helpers/wait.js";

/**
 * A node's own routes cleared by another node (broker/routes.ts). A survivor's cleanup that read the node's
 * record as expired just before the node registered again clears its routes while it runs (decision 036,
 * partitions seed 290): the node sees the clear in the route log and writes its routes again.
 */

const syncs: RouteSync[] = [];

afterEach(async () => {
  await Promise.all(syncs.splice(0).map((s) => s.stop()));
});

async function routesOf(store: MemoryStore, node: string): Promise<string[]> {
  return (await store.routesOf(node, { cursor: null, limit: 100 })).items.sort();
}

describe("RouteSync", () => {
  it("writes its routes again when another node cleared them", async () => {
    const store = new MemoryStore();
    const mine = new RouteSync(store, "n1", { pollMs: 10, onError: () => {} });
    const other = new RouteSync(store, "n2", { pollMs: 10, onError: () => {} });
    syncs.push(mine, other);
    mine.added("t/#");
    mine.added("u/1");
    await mine.start();
    await other.start();
    expect(await routesOf(store, "n1")).toEqual(["t/#", "u/1"]);
    await store.clearRoutes("n1");
    await until(async () => (await routesOf(store, "n1")).length === 2, "n1's routes to be written again");
    expect(await routesOf(store, "n1")).toEqual(["t/#", "u/1"]);
    // And the other nodes see them again.
    await until(() => other.table.nodes().includes("n1"), "n2 to route to n1 again");
  });

  it("reloads a node whose routes differ from its digest, and says so", async () => {
    const store = new MemoryStore();
    const errors: string[] = [];
    const mine = new RouteSync(store, "n1", { pollMs: 10, onError: () => {} });
    const other = new RouteSync(store, "n2", { pollMs: 1_000_000, onError: (op, err) => errors.push(`${op}: ${err.message}`) });
    syncs.push(mine, other);
    mine.added("u/1");
    mine.added("u/2");
    await mine.start();
    await other.start();
    const seen = (topic: string): boolean => {
      let hit = false;
      other.table.match(topic, (n) => (hit ||= n === "n1"));
      return hit;
    };
    expect(seen("u/2")).toBe(true);
    // The view drifts (as a lost or misapplied change would leave it).
    other.table.remove("n1", "u/2");
    expect(seen("u/2")).toBe(false);
    expect(await other.verify()).toEqual(["n1"]);
    expect(seen("u/2")).toBe(true);
    expect(errors).toEqual(["route digest: routes of n1 differed from its digest (1 against 2): reloaded"]);
    expect(await other.verify()).toEqual([]);
  });
});
