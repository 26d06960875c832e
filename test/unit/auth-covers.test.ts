import { describe, it, expect } from "vitest";
import { filterCovers, filtersOverlap, topicMatchesPattern } from "../../core/topic/covers.js";

/** [pattern, topic, expected] */
const MATCH: [string, string, boolean][] = [
  ["a/b", "a/b", true],
  ["a/b", "a/c", false],
  ["a/b", "a/b/c", false],
  ["a/b/c", "a/b", false],
  ["a/+", "a/b", true],
  ["a/+", "a/", true],
  ["a/+", "a", false],
  ["a/+", "a/b/c", false],
  ["+/+", "/", true],
  ["+", "a", true],
  ["+", "/a", false],
  ["a/#", "a", true],
  ["a/#", "a/", true],
  ["a/#", "a/b/c", true],
  ["a/#", "ab", false],
  ["a/#", "b/a", false],
  ["#", "a/b/c", true],
  ["#", "/", true],
  ["/#", "/a", true],
  ["/#", "a", false],
  ["devices/%c/#", "devices/%c/x", true], // no substitution here: literal
  // $ rule [MQTT-4.7.2-1]
  ["#", "$SYS/x", false],
  ["+/x", "$SYS/x", false],
  ["$SYS/#", "$SYS/x", true],
  ["$SYS/+", "$SYS/x", true],
  ["$SYS", "$SYS", true],
  ["a/#", "a/$b", true],
];

/** [pattern, filter, expected]: every topic of the filter is matched by the pattern. */
const COVERS: [string, string, boolean][] = [
  // from the brief
  ["a/#", "a/b/+", true],
  ["a/#", "a/#", true],
  ["a/#", "a", true],
  ["a/+", "a/b", true],
  ["a/+", "a/#", false],
  ["a/+", "a/+/c", false],
  // literals
  ["a/b", "a/b", true],
  ["a/b", "a/c", false],
  ["a/b", "a/+", false],
  ["a/b", "a/#", false],
  ["a/b", "a", false],
  ["a", "a/b", false],
  // '+'
  ["a/+", "a/+", true],
  ["a/+", "a", false],
  ["a/+", "a/b/c", false],
  ["+/b", "a/b", true],
  ["+/b", "+/b", true],
  ["+/b", "+/+", false],
  ["+/+", "a/+", true],
  ["+", "a/b", false],
  // '#'
  ["#", "a", true],
  ["#", "+", true],
  ["#", "#", true],
  ["#", "a/+/#", true],
  ["#", "/", true],
  ["a/b/#", "a", false],
  ["a/b/#", "a/b", true],
  ["a/b/#", "a/#", false],
  ["a/+/#", "a/b", true],
  ["a/+/#", "a", false],
  ["a/+/#", "a/#", false],
  ["+/#", "a", true],
  ["+/#", "#", true],
  ["a/#", "b/#", false],
  ["a/#", "+/b", false],
  // empty levels
  ["a/+", "a/", true],
  ["+/+", "/", true],
  ["/#", "/a", true],
  ["/#", "a", false],
  // $ rule
  ["#", "$SYS/#", false],
  ["#", "$SYS", false],
  ["+/#", "$SYS/x", false],
  ["+", "$SYS", false],
  ["$SYS/#", "$SYS/#", true],
  ["$SYS/#", "$SYS/broker/+", true],
  ["$SYS/#", "#", false],
  ["$SYS/+", "$SYS/x", true],
  ["#", "+/$x", true],
  ["#", "a/$x", true],
];

/** [a, b, expected]: some topic matches both. */
const OVERLAP: [string, string, boolean][] = [
  ["a/b", "a/b", true],
  ["a/b", "a/c", false],
  ["a/+", "a/b", true],
  ["a/+", "+/b", true],
  ["a/+", "b/+", false],
  ["a/#", "a", true],
  ["a/#", "+/b/c", true],
  ["a", "a/#", true],
  ["a", "a/+/#", false],
  ["a", "a/+", false],
  ["a/b/c", "a/+", false],
  ["a/b/c", "a/#", true],
  ["#", "x/y", true],
  ["secret/#", "#", true],
  ["secret/#", "+/x", true],
  ["secret/#", "public/+", false],
  ["+", "a/b", false],
  ["+/+", "a/#", true],
  ["/", "+/+", true],
  // $ rule
  ["#", "$SYS/#", false],
  ["+/x", "$SYS/x", false],
  ["$SYS/#", "$SYS/x", true],
  ["$SYS/+", "$other/x", false],
  ["#", "+", true],
];

describe("topicMatchesPattern", () => {
  it.each(MATCH)("%s vs %s -> %s", (pattern, topic, expected) => {
    expect(topicMatchesPattern(pattern, topic)).toBe(expected);
  });
});

describe("filterCovers", () => {
  it.each(COVERS)("%s covers %s -> %s", (pattern, filter, expected) => {
    expect(filterCovers(pattern, filter)).toBe(expected);
  });

  it("every filter covers itself", () => {
    for (const [p] of COVERS) expect(filterCovers(p, p)).toBe(true);
  });
});

describe("filtersOverlap", () => {
  it.each(OVERLAP)("%s overlaps %s -> %s", (a, b, expected) => {
    expect(filtersOverlap(a, b)).toBe(expected);
    expect(filtersOverlap(b, a)).toBe(expected);
  });
});

// ---- exhaustive cross-check against the definitions, over a small universe ---------------

/** Independent, naive matcher (split-based) used as the reference. */
function refMatch(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  if (topic.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function strings(levels: string[], maxDepth: number, isFilter: boolean): string[] {
  const out: string[] = [];
  const walk = (prefix: string[]): void => {
    if (prefix.length > 0) {
      const s = prefix.join("/");
      if (s.length > 0) out.push(s);
    }
    if (prefix.length === maxDepth || prefix.at(-1) === "#") return;
    for (const l of levels) {
      if (l.startsWith("$") && prefix.length > 0 && isFilter) continue;
      walk([...prefix, l]);
    }
  };
  walk([]);
  return out;
}

describe("against the definitions (exhaustive, small universe)", () => {
  // Filters use literals a and $s; topics also use z, a literal no filter mentions, and are one
  // level deeper, so every difference between two filters shows in some topic.
  const filters = strings(["a", "$s", "", "+", "#"], 3, true);
  const topics = strings(["a", "$s", "", "z"], 4, false);
  const matches = new Map(filters.map((f) => [f, topics.filter((t) => refMatch(f, t))]));

  it("topicMatchesPattern agrees with the reference", () => {
    for (const f of filters) for (const t of topics) expect(topicMatchesPattern(f, t), `${f} / ${t}`).toBe(refMatch(f, t));
  });

  it("filterCovers(p, f) iff every topic of f matches p", () => {
    for (const p of filters) {
      for (const f of filters) {
        const expected = matches.get(f)!.every((t) => refMatch(p, t));
        expect(filterCovers(p, f), `${p} covers ${f}`).toBe(expected);
      }
    }
  });

  it("filtersOverlap(a, b) iff some topic matches both", () => {
    for (const a of filters) {
      for (const b of filters) {
        const expected = matches.get(b)!.some((t) => refMatch(a, t));
        expect(filtersOverlap(a, b), `${a} overlaps ${b}`).toBe(expected);
      }
    }
  });
});
