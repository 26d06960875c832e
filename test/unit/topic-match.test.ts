import { describe, it, expect } from "vitest";
import { hasWildcard, topicMatches } from "../../core/topic/index.js";

/** [filter, topic, expected] */
const MATCH_CASES: [string, string, boolean][] = [
  // MQTT 3.1.1 section 4.7.1.2 (multi-level wildcard)
  ["sport/tennis/player1/#", "sport/tennis/player1", true],
  ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
  ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
  ["sport/tennis/player1/#", "sport/tennis/player2", false],
  ["sport/tennis/player1/#", "sport/tennis", false],
  ["sport/#", "sport", true],
  ["sport/#", "sport/", true],
  ["sport/#", "sports", false],
  ["sport/#", "/sport", false],
  ["#", "sport", true],
  ["#", "sport/tennis/player1", true],
  ["#", "/", true],
  ["#", "/finance", true],
  ["/#", "/finance", true],
  ["/#", "finance", false],
  // section 4.7.1.3 (single-level wildcard)
  ["sport/tennis/+", "sport/tennis/player1", true],
  ["sport/tennis/+", "sport/tennis/player2", true],
  ["sport/tennis/+", "sport/tennis/player1/ranking", false],
  ["sport/tennis/+", "sport/tennis", false],
  ["sport/+", "sport", false],
  ["sport/+", "sport/", true],
  ["sport/+/player1", "sport/tennis/player1", true],
  ["sport/+/player1", "sport/tennis/player2", false],
  ["+/tennis/#", "sport/tennis", true],
  ["+/tennis/#", "sport/tennis/player1/ranking", true],
  ["+/tennis/#", "sport/golf", false],
  ["+", "sport", true],
  ["+", "/finance", false],
  ["+/+", "/finance", true],
  ["/+", "/finance", true],
  ["+", "/", false],
  ["+/+", "/", true],
  ["+/+/+", "//", true],
  ["+/+", "//", false],
  ["+/", "a/", true],
  ["+/", "a/b", false],
  // section 4.7.2 (topics beginning with $) [MQTT-4.7.2-1]
  ["#", "$SYS/monitor/Clients", false],
  ["#", "$SYS", false],
  ["+/monitor/Clients", "$SYS/monitor/Clients", false],
  ["+", "$SYS", false],
  ["+/#", "$SYS/x", false],
  ["$SYS/#", "$SYS/monitor/Clients", true],
  ["$SYS/#", "$SYS", true],
  ["$SYS/monitor/+", "$SYS/monitor/Clients", true],
  ["$SYS/+/Clients", "$SYS/monitor/Clients", true],
  ["$SYS/monitor/+", "$SYS/monitor", false],
  ["$SYS", "$SYS", true],
  ["#", "a/$SYS", true], // only a leading '$' is special
  ["+/$SYS", "a/$SYS", true],
  ["+", "a$", true],
  ["/#", "/$SYS", true],
  // section 4.7.3 (exact levels, case sensitivity, empty levels)
  ["sport/tennis/player1", "sport/tennis/player1", true],
  ["sport/tennis", "sport/tennis/", false],
  ["sport/tennis/", "sport/tennis", false],
  ["ACCOUNTS", "Accounts", false],
  ["Accounts payable", "Accounts payable", true],
  ["/finance", "finance", false],
  ["finance", "/finance", false],
  ["/", "/", true],
  ["//", "/", false],
  ["a//b", "a//b", true],
  ["a/+/b", "a//b", true],
  ["a/b", "a/bc", false],
  ["a/bc", "a/b", false],
  ["abc", "abd", false],
  // non-ASCII
  ["caf\u00e9/+", "caf\u00e9/\u{1F600}", true],
  ["caf\u00e9/#", "cafe/x", false],
];

describe("topicMatches", () => {
  it.each(MATCH_CASES)("%j vs %j -> %s", (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it("a filter without wildcards matches only the identical topic", () => {
    const topics = ["a", "a/b", "a/b/", "/a/b", "A/b"];
    for (const f of topics) for (const t of topics) expect(topicMatches(f, t)).toBe(f === t);
  });
});

describe("hasWildcard", () => {
  it.each([
    ["a/b", false],
    ["+", true],
    ["a/#", true],
    ["$SYS", false],
  ] as const)("%j -> %s", (s, expected) => {
    expect(hasWildcard(s)).toBe(expected);
  });
});
