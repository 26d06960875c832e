import { describe, it, expect } from "vitest";
import { DEFAULT_TOPIC_LIMITS, validateTopicFilter, validateTopicName } from "../../core/topic/index.js";
import type { TopicLimits } from "../../core/topic/index.js";

const L = DEFAULT_TOPIC_LIMITS;

describe("validateTopicName", () => {
  const valid: string[] = [
    "sport/tennis/player1",
    "sport/tennis/player1/ranking",
    "sport",
    "/",
    "//",
    "/finance",
    "finance/",
    "sport/tennis/",
    "$SYS/monitor/Clients",
    "$",
    "ACCOUNTS",
    "Accounts payable",
    "caf\u00e9/\u20ac/\u{1F600}", // 2-, 3- and 4-byte UTF-8
    "a\u0001b\u001f\u007f\u0080\u009f", // control characters are only SHOULD NOT [MQTT-1.5.3]
    "\uFEFF", // BOM is a normal character [MQTT-1.5.3-3]
    " ",
  ];
  it.each(valid)("accepts %j", (t) => {
    expect(validateTopicName(t, L)).toBeNull();
  });

  const invalid: [string, string, RegExp][] = [
    ["empty", "", /at least one character/],
    ["'+' alone", "+", /wildcards/],
    ["'#' alone", "#", /wildcards/],
    ["'+' level", "sport/+/player1", /wildcards/],
    ["'#' level", "sport/#", /wildcards/],
    ["'+' inside a level", "sport+", /wildcards/],
    ["'#' inside a level", "sport/tennis#", /wildcards/],
    ["U+0000", "a\u0000b", /U\+0000/],
    ["U+0000 alone", "\u0000", /U\+0000/],
    ["lone high surrogate", "a\uD83Db", /surrogate/],
    ["lone high surrogate at end", "a\uD83D", /surrogate/],
    ["lone low surrogate", "a\uDE00b", /surrogate/],
    ["reversed pair", "\uDE00\uD83D", /surrogate/],
    ["high surrogate followed by a BMP char above the surrogates", "\uD83D\uE000", /surrogate/],
    ["two high surrogates", "\uD83D\uD83D\uDE00", /surrogate/],
  ];
  it.each(invalid)("rejects %s", (_name, t, reason) => {
    expect(validateTopicName(t, L)).toMatch(reason);
  });
});

describe("validateTopicFilter", () => {
  // Examples from MQTT 3.1.1 sections 4.7.1.2 and 4.7.1.3.
  const valid: string[] = [
    "#",
    "sport/tennis/#",
    "sport/tennis/player1/#",
    "sport/#",
    "+",
    "+/tennis/#",
    "sport/+/player1",
    "sport/tennis/+",
    "+/+",
    "/+",
    "/#",
    "+/",
    "//+//",
    "$SYS/#",
    "$SYS/monitor/+",
    "+/monitor/Clients",
    "sport/tennis/player1",
    "/",
    "caf\u00e9/\u{1F600}/+",
  ];
  it.each(valid)("accepts %j", (f) => {
    expect(validateTopicFilter(f, L)).toBeNull();
  });

  const invalid: [string, RegExp][] = [
    ["", /at least one character/],
    ["sport/tennis#", /'#'/], // [MQTT-4.7.1-2]
    ["sport/tennis/#/ranking", /'#'/],
    ["#/", /'#'/],
    ["##", /'#'/],
    ["sport#", /'#'/],
    ["#sport", /'#'/],
    ["sport+", /'\+'/], // [MQTT-4.7.1-3]
    ["+sport", /'\+'/],
    ["sport/+tennis", /'\+'/],
    ["sport/ten+nis", /'\+'/],
    ["++", /'\+'/],
    ["+#", /'\+'|'#'/],
    ["a/\u0000", /U\+0000/],
    ["a/\uDC00/+", /surrogate/],
    ["\uD800", /surrogate/],
  ];
  it.each(invalid)("rejects %j", (f, reason) => {
    expect(validateTopicFilter(f, L)).toMatch(reason);
  });
});

describe("limits", () => {
  const small: TopicLimits = { maxTopicLength: 10, maxTopicLevels: 3 };

  it.each([
    ["a".repeat(10), null],
    ["a".repeat(11), /exceeds 10 bytes/],
    ["\u00e9".repeat(5), null], // 10 bytes
    ["\u00e9".repeat(5) + "a", /exceeds 10 bytes/], // 11 bytes, 6 chars
    ["\u20ac".repeat(3) + "a", null], // 10 bytes
    ["\u20ac".repeat(4), /exceeds 10 bytes/], // 12 bytes, 4 chars
    ["\u{1F600}".repeat(2) + "ab", null], // 10 bytes
    ["\u{1F600}".repeat(2) + "abc", /exceeds 10 bytes/],
    ["a/b/c", null],
    ["a/b/c/d", /exceeds 3 levels/],
    ["//", null], // three empty levels
    ["///", /exceeds 3 levels/],
  ] as const)("name %j", (t, expected) => {
    const r = validateTopicName(t, small);
    if (expected === null) expect(r).toBeNull();
    else expect(r).toMatch(expected);
  });

  it("applies the same limits to filters", () => {
    expect(validateTopicFilter("+/+/#", small)).toBeNull();
    expect(validateTopicFilter("+/+/+/#", small)).toMatch(/exceeds 3 levels/);
    expect(validateTopicFilter("a".repeat(9) + "/#", small)).toMatch(/exceeds 10 bytes/);
  });

  it("never allows more than 65535 UTF-8 bytes, whatever the configured limit", () => {
    const big: TopicLimits = { maxTopicLength: 1_000_000, maxTopicLevels: 1_000_000 };
    expect(validateTopicName("a".repeat(65535), big)).toBeNull();
    expect(validateTopicName("a".repeat(65536), big)).toMatch(/exceeds 65535 bytes/);
    // 21845 * 3 = 65535 bytes; one more 3-byte character is over the limit
    expect(validateTopicName("\u20ac".repeat(21845), big)).toBeNull();
    expect(validateTopicName("\u20ac".repeat(21846), big)).toMatch(/exceeds 65535 bytes/);
  });

  it("default limits accept 128 levels and reject 129", () => {
    expect(validateTopicName("/".repeat(127), L)).toBeNull();
    expect(validateTopicName("/".repeat(128), L)).toMatch(/exceeds 128 levels/);
  });

  it("agrees with Buffer.byteLength on well-formed strings", () => {
    const samples = ["a", "\u00ff", "\u0800", "\uffff", "\u{10000}", "\u{10ffff}", "x\u00e9\u20ac\u{1F600}/y"];
    for (const s of samples) {
      const n = Buffer.byteLength(s, "utf8");
      expect(validateTopicName(s, { maxTopicLength: n, maxTopicLevels: 10 })).toBeNull();
      expect(validateTopicName(s, { maxTopicLength: n - 1, maxTopicLevels: 10 })).toMatch(/bytes/);
    }
  });
});
