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

describe("RouteTable exact routes (keyed tags in typed arrays, decision 043)", () => {
  it("agrees with a plain map model through growth, shrinking, removals and cleared nodes", () => {
    const t = new RouteTable();
    const model = new Map<string, Set<string>>();
    const nodes = ["n1", "n2", "n3", "n4"];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const check = (): void => {
      for (let i = 0; i < 400; i++) {
        const topic = `d/${i}/cmd`;
        expect(match(t, topic), topic).toEqual([...(model.get(topic) ?? [])].sort());
      }
      expect(t.size).toBe([...model.values()].reduce((n, s) => n + s.size, 0));
    };
    for (let step = 0; step < 20_000; step++) {
      const filter = `d/${rand(400)}/cmd`;
      const node = nodes[rand(nodes.length)] as string;
      const set = model.get(filter) ?? new Set<string>();
      if (rand(3) < 2) {
        expect(t.add(node, filter)).toBe(!set.has(node));
        set.add(node);
        model.set(filter, set);
      } else {
        expect(t.remove(node, filter)).toBe(set.delete(node));
      }
      if (step % 5000 === 4999) {
        const gone = nodes[rand(nodes.length)] as string;
        t.clear(gone);
        for (const s of model.values()) s.delete(gone);
        check();
      }
    }
    check();
    for (const n of nodes) t.clear(n);
    expect(t.size).toBe(0);
    expect(match(t, "d/1/cmd")).toEqual([]);
  });

  it("holds 100,000 exact routes of one node in typed arrays, and shrinks when they go", () => {
    const t = new RouteTable();
    for (let i = 0; i < 100_000; i++) t.add("n1", `scale/s${i}/cmd`);
    expect(match(t, "scale/s99999/cmd")).toEqual(["n1"]);
    expect(match(t, "scale/s100000/cmd")).toEqual([]);
    // 131,072 or 262,072 slots of 10 bytes: at most 27 bytes per route.
    expect(t.exactBytes).toBeLessThanOrEqual(27 * 100_000);
    for (let i = 0; i < 100_000; i++) t.remove("n1", `scale/s${i}/cmd`);
    expect(t.exactBytes).toBeLessThanOrEqual(10 * 2048);
    expect(t.nodes()).toEqual([]);
  });

  it("reuses the slot of a node whose exact routes are gone", () => {
    const t = new RouteTable();
    for (let i = 0; i < 70_000; i++) {
      t.add(`node-${i}`, "same/topic");
      t.clear(`node-${i}`);
    }
    t.add("last", "same/topic");
    expect(match(t, "same/topic")).toEqual(["last"]);
  });
});
