import { describe, it, expect } from "vitest";
import { SubscriptionTrie, TopicIndex, topicMatches } from "../../core/topic/index.js";
import { mulberry32 } from "../helpers/prng.js";

/** Spec examples (MQTT 3.1.1 section 4.7) plus edge cases, used to build tries. */
const FILTERS = [
  "#", "+", "+/+", "/+", "/#", "+/", "sport", "sport/#", "sport/+", "sport/tennis/#", "sport/tennis/+",
  "sport/tennis/player1", "sport/tennis/player1/#", "sport/+/player1", "+/tennis/#", "$SYS/#",
  "$SYS/monitor/+", "+/monitor/Clients", "$SYS/monitor/Clients", "/finance", "/", "a//b", "a/+/b",
];
const TOPICS = [
  "sport", "sport/", "sports", "sport/tennis", "sport/tennis/", "sport/tennis/player1",
  "sport/tennis/player2", "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon",
  "sport/golf/player1", "$SYS", "$SYS/monitor/Clients", "$SYS/monitor", "/finance", "finance", "/", "//",
  "a//b", "a/x/b", "a/$SYS", "x/monitor/Clients",
];

function collect<T>(trie: SubscriptionTrie<T>, topic: string): string[] {
  const out: string[] = [];
  trie.match(topic, (_v, key, filter) => out.push(`${filter}|${key}`));
  return out.sort();
}

describe("SubscriptionTrie", () => {
  it("add / get / size / replace", () => {
    const t = new SubscriptionTrie<number>();
    expect(t.size).toBe(0);
    expect(t.add("a/+", "s1", 1)).toBe(true);
    expect(t.add("a/+", "s2", 2)).toBe(true);
    expect(t.add("a/#", "s1", 3)).toBe(true);
    expect(t.add("a/+", "s1", 10)).toBe(false); // replaced
    expect(t.size).toBe(3);
    expect(t.get("a/+", "s1")).toBe(10);
    expect(t.get("a/+", "s2")).toBe(2);
    expect(t.get("a/#", "s1")).toBe(3);
    expect(t.get("a/#", "s2")).toBeUndefined();
    expect(t.get("a", "s1")).toBeUndefined();
    expect(t.get("a/b", "s1")).toBeUndefined();
    expect(t.get("nope/x", "s1")).toBeUndefined();
  });

  it("visits once per matching (filter, key), with the stored value", () => {
    const t = new SubscriptionTrie<string>();
    t.add("sport/#", "s1", "v1");
    t.add("sport/tennis/+", "s1", "v2");
    t.add("sport/tennis/+", "s2", "v3");
    t.add("sport/tennis/player1", "s3", "v4");
    t.add("sport/golf", "s4", "v5");
    const seen: [string, string, string][] = [];
    t.match("sport/tennis/player1", (v, k, f) => seen.push([v, k, f]));
    expect(seen.sort()).toEqual([
      ["v1", "s1", "sport/#"],
      ["v2", "s1", "sport/tennis/+"],
      ["v3", "s2", "sport/tennis/+"],
      ["v4", "s3", "sport/tennis/player1"],
    ]);
  });

  it.each([
    ["sport/tennis/player1", ["#", "+/tennis/#", "sport/#", "sport/+/player1", "sport/tennis/#", "sport/tennis/+", "sport/tennis/player1", "sport/tennis/player1/#"]],
    ["sport", ["#", "+", "sport", "sport/#"]],
    ["sport/", ["#", "+/", "+/+", "sport/#", "sport/+"]],
    ["/finance", ["#", "+/+", "/#", "/+", "/finance"]],
    ["/", ["#", "+/", "+/+", "/", "/#", "/+"]],
    ["$SYS/monitor/Clients", ["$SYS/#", "$SYS/monitor/+", "$SYS/monitor/Clients"]],
    ["$SYS", ["$SYS/#"]],
    ["x/monitor/Clients", ["#", "+/monitor/Clients"]],
    ["a//b", ["#", "a//b", "a/+/b"]],
  ])("spec examples: %j", (topic, expected) => {
    const t = new SubscriptionTrie<null>();
    for (const f of FILTERS) t.add(f, "k", null);
    expect(collect(t, topic)).toEqual(expected.map((f) => `${f}|k`).sort());
  });

  it("agrees with topicMatches on every spec filter x topic pair", () => {
    const t = new SubscriptionTrie<null>();
    for (const f of FILTERS) t.add(f, "k", null);
    for (const topic of TOPICS) {
      const expected = FILTERS.filter((f) => topicMatches(f, topic)).map((f) => `${f}|k`).sort();
      expect(collect(t, topic), topic).toEqual(expected);
    }
  });

  it("remove returns false for unknown entries and prunes every node", () => {
    const t = new SubscriptionTrie<number>();
    for (const [i, f] of FILTERS.entries()) {
      t.add(f, "a", i);
      t.add(f, "b", i);
    }
    expect(t.size).toBe(FILTERS.length * 2);
    expect(t.nodeCount()).toBeGreaterThan(0);
    expect(t.remove("sport/tennis", "a")).toBe(false); // intermediate node, no subscription
    expect(t.remove("sport/#", "zzz")).toBe(false);
    expect(t.remove("nope/+", "a")).toBe(false);
    for (const f of FILTERS) expect(t.remove(f, "a")).toBe(true);
    for (const f of FILTERS) expect(t.remove(f, "a")).toBe(false);
    expect(t.size).toBe(FILTERS.length);
    for (const f of [...FILTERS].reverse()) expect(t.remove(f, "b")).toBe(true);
    expect(t.size).toBe(0);
    expect(t.nodeCount()).toBe(0);
    expect(collect(t, "sport")).toEqual([]);
  });

  it("keeps ancestors that still hold subscriptions or children", () => {
    const t = new SubscriptionTrie<number>();
    t.add("a", "k", 1);
    t.add("a/b/c", "k", 2);
    t.add("a/+/#", "k", 3);
    expect(t.nodeCount()).toBe(5); // a, a/b, a/b/c, a/+, a/+/#
    t.remove("a/b/c", "k");
    expect(t.nodeCount()).toBe(3);
    expect(t.get("a", "k")).toBe(1);
    t.remove("a", "k");
    expect(t.nodeCount()).toBe(3); // a is still needed by a/+/#
    expect(collect(t, "a/x")).toEqual(["a/+/#|k"]);
    t.remove("a/+/#", "k");
    expect(t.nodeCount()).toBe(0);
  });

  it("tolerates mutation from inside the visitor without visiting anything twice", () => {
    const t = new SubscriptionTrie<number>();
    for (let i = 0; i < 10; i++) t.add("a/+", `k${i}`, i);
    t.add("a/b", "x", 100);
    const seen: string[] = [];
    t.match("a/b", (_v, key, filter) => {
      seen.push(`${filter}|${key}`);
      // e.g. disconnecting a slow client removes its subscriptions mid-fan-out
      t.remove(filter, key);
      t.remove("a/+", "k0");
      t.add("a/+", `new-${key}`, -1);
    });
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain("a/b|x");
    expect(t.get("a/+", "k9")).toBeUndefined();
    expect(t.get("a/b", "x")).toBeUndefined();
    // all new-* entries were added, none of the originals remain
    let remaining = 0;
    t.match("a/b", (_v, key) => {
      expect(key.startsWith("new-")).toBe(true);
      remaining++;
    });
    expect(remaining).toBe(t.size);
  });

  it("a visitor removing its own entry does not make the fan-out skip others", () => {
    const t = new SubscriptionTrie<number>();
    for (let i = 0; i < 10; i++) t.add("a/+", `k${i}`, i);
    const seen: string[] = [];
    t.match("a/b", (_v, key, filter) => {
      seen.push(key);
      t.remove(filter, key);
    });
    expect(seen.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
    expect(t.size).toBe(0);
    expect(t.nodeCount()).toBe(0);
  });

  it("entries added by a visitor are not visited by the same call on that node", () => {
    const t = new SubscriptionTrie<number>();
    t.add("a/b", "k0", 0);
    let calls = 0;
    t.match("a/b", (v) => {
      if (++calls > 100) throw new Error("runaway");
      t.add("a/b", `k${v + 1}`, v + 1);
    });
    expect(calls).toBe(1);
    expect(t.size).toBe(2);
  });

  it("handles many subscribers on one filter (swap-remove keeps lookups right)", () => {
    const t = new SubscriptionTrie<number>();
    for (let i = 0; i < 1000; i++) t.add("devices/+/cmd", `c${i}`, i);
    for (let i = 0; i < 1000; i += 3) expect(t.remove("devices/+/cmd", `c${i}`)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(t.get("devices/+/cmd", `c${i}`)).toBe(i % 3 === 0 ? undefined : i);
    let n = 0;
    t.match("devices/d1/cmd", (v, k) => {
      expect(k).toBe(`c${v}`);
      n++;
    });
    expect(n).toBe(t.size);
  });

  it("a filter's subscriber list stays right below, across and back under the size where it gets an index", () => {
    const t = new SubscriptionTrie<number>();
    const live = new Map<string, number>();
    const check = (): void => {
      for (let i = 0; i < 12; i++) expect(t.get("fleet/+/down", `k${i}`)).toBe(live.get(`k${i}`));
      const seen = new Map<string, number>();
      t.match("fleet/d/down", (v, k) => seen.set(k, v));
      expect(seen).toEqual(live);
    };
    for (let i = 0; i < 12; i++) {
      expect(t.add("fleet/+/down", `k${i}`, i)).toBe(true);
      live.set(`k${i}`, i);
      check();
    }
    expect(t.add("fleet/+/down", "k3", 33)).toBe(false);
    live.set("k3", 33);
    check();
    for (const i of [0, 11, 5, 6, 7, 1, 2, 3, 4]) {
      expect(t.remove("fleet/+/down", `k${i}`)).toBe(true);
      expect(t.remove("fleet/+/down", `k${i}`)).toBe(false);
      live.delete(`k${i}`);
      check();
    }
    for (const i of [8, 9, 10]) expect(t.remove("fleet/+/down", `k${i}`)).toBe(true);
    expect(t.size).toBe(0);
    expect(t.nodeCount()).toBe(0);
  });

  it("a filter's only subscriber, kept in its node, survives going to two subscribers and back, either one removed", () => {
    const t = new SubscriptionTrie<string>();
    const seen = (): string[] => {
      const out: string[] = [];
      t.match("fleet/d1/down", (v, k) => out.push(`${k}=${v}`));
      return out.sort();
    };
    expect(t.add("fleet/d1/down", "a", "1")).toBe(true);
    expect(t.add("fleet/d1/down", "a", "2")).toBe(false);
    expect(t.get("fleet/d1/down", "a")).toBe("2");
    expect(t.get("fleet/d1/down", "b")).toBeUndefined();
    expect(t.remove("fleet/d1/down", "b")).toBe(false);
    expect(seen()).toEqual(["a=2"]);
    expect(t.add("fleet/d1/down", "b", "3")).toBe(true);
    expect(seen()).toEqual(["a=2", "b=3"]);
    // The first one leaves: the second is now the only one, kept with its value.
    expect(t.remove("fleet/d1/down", "a")).toBe(true);
    expect(t.get("fleet/d1/down", "a")).toBeUndefined();
    expect(t.get("fleet/d1/down", "b")).toBe("3");
    expect(seen()).toEqual(["b=3"]);
    expect(t.add("fleet/d1/down", "b", "4")).toBe(false);
    expect(t.add("fleet/d1/down", "c", "5")).toBe(true);
    // The second one leaves.
    expect(t.remove("fleet/d1/down", "c")).toBe(true);
    expect(seen()).toEqual(["b=4"]);
    expect(t.size).toBe(1);
    expect(t.remove("fleet/d1/down", "b")).toBe(true);
    expect(seen()).toEqual([]);
    expect(t.size).toBe(0);
    expect(t.nodeCount()).toBe(0);
  });

  it("a visitor of a node's only subscription may replace it, add a second or remove it, and is called once", () => {
    const t = new SubscriptionTrie<number>();
    t.add("x/y", "only", 1);
    const calls: string[] = [];
    t.match("x/y", (v, k) => {
      calls.push(`${k}=${v}`);
      t.add("x/y", "second", 2);
      t.remove("x/y", "only");
    });
    expect(calls).toEqual(["only=1"]);
    const after: string[] = [];
    t.match("x/y", (v, k) => after.push(`${k}=${v}`));
    expect(after).toEqual(["second=2"]);
    expect(t.size).toBe(1);
  });
});


describe("randomized cross-check against topicMatches", () => {
  const LEVELS = ["a", "b", "", "$x", "$SYS", "ab"];
  const rnd = mulberry32(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;

  function randomTopic(): string {
    const n = 1 + Math.floor(rnd() * 4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(pick(LEVELS));
    return parts.join("/");
  }
  function randomFilter(): string {
    const n = 1 + Math.floor(rnd() * 4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rnd();
      parts.push(r < 0.25 ? "+" : pick(LEVELS));
    }
    if (rnd() < 0.3) parts[parts.length - 1] = "#";
    return parts.join("/");
  }

  const filters = [...new Set(Array.from({ length: 300 }, randomFilter))];
  const topics = [...new Set(Array.from({ length: 300 }, randomTopic))];

  it("SubscriptionTrie.match", () => {
    const t = new SubscriptionTrie<string>();
    for (const f of filters) {
      t.add(f, "k1", f);
      if (rnd() < 0.5) t.add(f, "k2", f);
    }
    let matched = 0;
    for (const topic of topics) {
      const expected = new Set(filters.filter((f) => topicMatches(f, topic)));
      const got = new Map<string, number>();
      t.match(topic, (v, key, filter) => {
        expect(v).toBe(filter);
        const id = `${filter}|${key}`;
        got.set(id, (got.get(id) ?? 0) + 1);
      });
      for (const [id, count] of got) {
        expect(count, id).toBe(1);
        expect(expected.has(id.slice(0, id.lastIndexOf("|"))), `${id} vs ${topic}`).toBe(true);
      }
      for (const f of expected) {
        expect(got.has(`${f}|k1`), `${f} vs ${topic}`).toBe(true);
        expect(got.has(`${f}|k2`)).toBe(t.get(f, "k2") !== undefined);
      }
      matched += got.size;
    }
    expect(matched).toBeGreaterThan(100); // the alphabet is small enough to produce matches

    // Remove everything in a random order: the trie must be empty again.
    const order = [...filters].sort(() => rnd() - 0.5);
    for (const f of order) {
      expect(t.remove(f, "k1")).toBe(true);
      t.remove(f, "k2");
    }
    expect(t.size).toBe(0);
    expect(t.nodeCount()).toBe(0);
  });

  it("SubscriptionTrie.match while nodes go from one literal child to several and back (removals interleaved)", () => {
    const t = new SubscriptionTrie<string>();
    const live = new Set<string>();
    const check = (): void => {
      for (const topic of topics) {
        const got = collect(t, topic).map((id) => id.slice(0, id.lastIndexOf("|"))).sort();
        expect(got, topic).toEqual([...live].filter((f) => topicMatches(f, topic)).sort());
      }
    };
    for (let round = 0; round < 6; round++) {
      for (const f of filters) {
        if (rnd() >= 0.4) continue;
        t.add(f, "k", f);
        live.add(f);
      }
      check();
      for (const f of [...live]) {
        if (rnd() >= 0.6) continue;
        expect(t.remove(f, "k")).toBe(true);
        live.delete(f);
      }
      check();
    }
    for (const f of live) t.remove(f, "k");
    expect(t.nodeCount()).toBe(0);
  });

  it("TopicIndex.matchFilter", () => {
    const idx = new TopicIndex<string>();
    for (const topic of topics) idx.set(topic, topic);
    let matched = 0;
    for (const f of filters) {
      const expected = topics.filter((topic) => topicMatches(f, topic)).sort();
      const got: string[] = [];
      idx.matchFilter(f, (topic, v) => {
        expect(v).toBe(topic);
        got.push(topic);
      });
      expect(got.sort(), f).toEqual(expected);
      matched += got.length;
    }
    expect(matched).toBeGreaterThan(100);

    for (const topic of [...topics].sort(() => rnd() - 0.5)) expect(idx.delete(topic)).toBe(true);
    expect(idx.size).toBe(0);
    expect(idx.nodeCount()).toBe(0);
  });
});

describe("SubscriptionTrie version (decision 057)", () => {
  it("changes with every entry added, replaced or removed, and only then", () => {
    const trie = new SubscriptionTrie<number>();
    let v = trie.version;
    const changed = (): boolean => {
      const was = v;
      v = trie.version;
      return v !== was;
    };
    trie.add("a/+", "k1", 1);
    expect(changed()).toBe(true);
    trie.add("a/+", "k2", 2); // second subscriber: the node's list
    expect(changed()).toBe(true);
    trie.add("a/+", "k2", 3); // replaced in the list
    expect(changed()).toBe(true);
    trie.add("a/b", "k1", 4);
    trie.add("a/b", "k1", 5); // replaced in the node
    expect(changed()).toBe(true);
    trie.match("a/b", () => undefined);
    trie.get("a/+", "k1");
    expect(changed()).toBe(false);
    expect(trie.remove("a/+", "nobody")).toBe(false);
    expect(trie.remove("x/y", "k1")).toBe(false);
    expect(changed()).toBe(false);
    expect(trie.remove("a/+", "k2")).toBe(true); // from the list
    expect(changed()).toBe(true);
    expect(trie.remove("a/+", "k1")).toBe(true); // the node's only one
    expect(changed()).toBe(true);
  });
});
