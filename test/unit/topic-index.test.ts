import { describe, it, expect } from "vitest";
import { TopicIndex } from "../../core/topic/index.js";

function matches<T>(idx: TopicIndex<T>, filter: string): string[] {
  const out: string[] = [];
  idx.matchFilter(filter, (topic) => out.push(topic));
  return out.sort();
}

const TOPICS = [
  "sport",
  "sport/tennis",
  "sport/tennis/player1",
  "sport/tennis/player1/ranking",
  "sport/tennis/player1/score/wimbledon",
  "sport/tennis/player2",
  "sport/",
  "/finance",
  "/",
  "$SYS/monitor/Clients",
  "$SYS",
  "a/$SYS",
];

describe("TopicIndex", () => {
  it("set / get / has / delete / size", () => {
    const idx = new TopicIndex<number>();
    idx.set("a/b", 1);
    idx.set("a", 2);
    idx.set("a/b", 3); // replace
    expect(idx.size).toBe(2);
    expect(idx.get("a/b")).toBe(3);
    expect(idx.get("a")).toBe(2);
    expect(idx.has("a")).toBe(true);
    expect(idx.get("a/b/c")).toBeUndefined();
    expect(idx.has("x")).toBe(false);
    expect(idx.delete("x")).toBe(false);
    expect(idx.delete("a")).toBe(true);
    expect(idx.delete("a")).toBe(false);
    expect(idx.get("a")).toBeUndefined();
    expect(idx.get("a/b")).toBe(3);
    expect(idx.size).toBe(1);
  });

  it("stores undefined values distinctly from absence", () => {
    const idx = new TopicIndex<undefined>();
    idx.set("x", undefined);
    expect(idx.has("x")).toBe(true);
    expect(idx.size).toBe(1);
    expect(matches(idx, "#")).toEqual(["x"]);
  });

  it.each([
    ["#", ["/", "/finance", "a/$SYS", "sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon", "sport/tennis/player2"]],
    ["sport/#", ["sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon", "sport/tennis/player2"]],
    ["sport/tennis/player1/#", ["sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon"]],
    ["sport/tennis/+", ["sport/tennis/player1", "sport/tennis/player2"]],
    ["sport/+", ["sport/", "sport/tennis"]],
    ["+", ["sport"]],
    ["+/+", ["/", "/finance", "a/$SYS", "sport/", "sport/tennis"]],
    ["/+", ["/", "/finance"]],
    ["+/#", ["/", "/finance", "a/$SYS", "sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon", "sport/tennis/player2"]],
    ["$SYS/#", ["$SYS", "$SYS/monitor/Clients"]],
    ["$SYS/monitor/+", ["$SYS/monitor/Clients"]],
    ["+/monitor/Clients", []],
    ["$SYS", ["$SYS"]],
    ["sport/tennis/player1", ["sport/tennis/player1"]],
    ["sport/tennis/player3", []],
    ["nothing/#", []],
    ["+/$SYS", ["a/$SYS"]],
  ])("matchFilter(%j)", (filter, expected) => {
    const idx = new TopicIndex<string>();
    for (const t of TOPICS) idx.set(t, t);
    expect(matches(idx, filter)).toEqual([...expected].sort());
  });

  it("entries() yields every topic once in a stable order", () => {
    const idx = new TopicIndex<number>();
    TOPICS.forEach((t, i) => idx.set(t, i));
    const a = [...idx.entries()];
    const b = [...idx];
    expect(a).toEqual(b);
    expect(a.map(([t]) => t).sort()).toEqual([...TOPICS].sort());
    for (const [t, v] of a) expect(TOPICS[v]).toBe(t);
  });

  it("entries() handles deep topics without recursion", () => {
    const idx = new TopicIndex<number>();
    const deep = "x/".repeat(20_000) + "end";
    idx.set(deep, 1);
    expect([...idx.entries()]).toEqual([[deep, 1]]);
    expect(idx.delete(deep)).toBe(true);
    expect(idx.nodeCount()).toBe(0);
  });

  it("prunes nodes on delete, keeping ancestors that are still needed", () => {
    const idx = new TopicIndex<number>();
    idx.set("a/b/c", 1);
    idx.set("a", 2);
    expect(idx.nodeCount()).toBe(3);
    idx.delete("a/b/c");
    expect(idx.nodeCount()).toBe(1);
    idx.set("a/b/c", 1);
    idx.delete("a");
    expect(idx.nodeCount()).toBe(3);
    idx.delete("a/b/c");
    expect(idx.nodeCount()).toBe(0);
    expect(idx.size).toBe(0);
    expect(matches(idx, "#")).toEqual([]);
  });

  it("tolerates deletes from inside the visitor", () => {
    const idx = new TopicIndex<number>();
    for (let i = 0; i < 50; i++) idx.set(`r/${i}/x`, i);
    const seen: string[] = [];
    idx.matchFilter("r/#", (topic) => {
      seen.push(topic);
      idx.delete(topic);
    });
    expect(new Set(seen).size).toBe(50);
    expect(idx.size).toBe(0);
    expect(idx.nodeCount()).toBe(0);
  });
});
