import { describe, expect, it } from "vitest";
import { RouteTable } from "../../broker/route-table.js";
import { digestStep, routeHash } from "../../core/store/routes-types.js";

function match(t: RouteTable, topic: string): string[] {
  const nodes = new Set<string>();
  t.match(topic, (n) => nodes.add(n));
  return [...nodes].sort();
}

describe("RouteTable (filter -> nodes)", () => {
  it("matches exact and wildcard filters to their nodes, once per node, with the $-rule", () => {
    const t = new RouteTable();
    t.add("n1", "a/b");
    t.add("n2", "a/b");
    t.add("n2", "a/+");
    t.add("n3", "#");
    expect(match(t, "a/b")).toEqual(["n1", "n2", "n3"]);
    expect(match(t, "a/c")).toEqual(["n2", "n3"]);
    expect(match(t, "$SYS/x")).toEqual([]);
    expect(t.size).toBe(4);
  });

  it("add and remove are idempotent; clear forgets one node's exact and wildcard routes", () => {
    const t = new RouteTable();
    expect(t.add("n1", "x")).toBe(true);
    expect(t.add("n1", "x")).toBe(false);
    t.add("n2", "x");
    t.add("n1", "y/#");
    expect(t.remove("n3", "x")).toBe(false);
    t.clear("n1");
    expect(match(t, "x")).toEqual(["n2"]);
    expect(match(t, "y/z")).toEqual([]);
    expect(t.size).toBe(1);
    expect(t.nodes()).toEqual(["n2"]);
  });

  it("keeps per node the digest the store computes for the same set", () => {
    const t = new RouteTable();
    const want = { count: 0, sum: 0 };
    for (const f of ["a", "b/+", "c/#", "d"]) {
      t.add("n1", f);
      digestStep(want, routeHash(f), 1);
    }
    t.remove("n1", "d");
    digestStep(want, routeHash("d"), -1);
    expect(t.digest("n1")).toEqual(want);
    expect(t.digest("nobody")).toEqual({ count: 0, sum: 0 });
  });
});
