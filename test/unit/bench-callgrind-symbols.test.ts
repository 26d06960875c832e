import { describe, expect, it } from "vitest";
import { parsePerfMap, selfCostByFunction, topLines } from "../../bench/callgrind-symbols.js";

// A dump in callgrind's format, as `callgrind_control --dump` writes it (positions: line; events: Ir), with the
// name compression callgrind uses: a function's name is given with its id once, the id alone afterwards.
const DUMP = [
  "# callgrind format",
  "version: 1",
  "positions: line",
  "events: Ir",
  "summary: 1000",
  "",
  "ob=(1) /usr/bin/node",
  "fl=(1) ???",
  "fn=(1) uv__io_poll",
  "0 100",
  "cob=(2) ???",
  "cfn=(2) 0x0000000028000040",
  "calls=3 0",
  "0 700",
  "+2 20",
  "ob=(2) ???",
  "fn=(2)",
  "0 300",
  "fn=(3) 0x0000000028000100'2",
  "0 250",
  "fn=(4) 0x0000000030000000",
  "0 30",
  "fn=(1)",
  "0 5",
  "",
].join("\n");

const MAP = ["28000100 80 JS:*'route file:///b.mjs:2:8", "28000000 100 JS:*'decodeHot file:///b.mjs:1:1", "not a line"].join("\n");

describe("callgrind dumps by function (bench/callgrind-symbols.ts)", () => {
  it("reads a perf map sorted by address, skipping what is not an entry", () => {
    const map = parsePerfMap(MAP);
    expect(map.map((e) => e.name)).toEqual(["JS:*'decodeHot file:///b.mjs:1:1", "JS:*'route file:///b.mjs:2:8"]);
    expect(map[0]).toMatchObject({ start: 0x28000000, size: 0x100 });
  });

  it("counts each function's own instructions, not its calls' inclusive cost, and names code from the map", () => {
    const cost = selfCostByFunction(DUMP, parsePerfMap(MAP));
    expect(Object.fromEntries(cost)).toEqual({
      // 100 + 20 + 5: the 700 after `calls=` is what the call cost, inside the callee.
      uv__io_poll: 125,
      // 0x28000040 is inside decodeHot's range; 0x28000100 (a second context, '2) inside route's.
      "JS:*'decodeHot file:///b.mjs:1:1": 300,
      "JS:*'route file:///b.mjs:2:8": 250,
      "(unknown code)": 30,
    });
  });

  it("without a map, addresses stay unknown code", () => {
    const cost = selfCostByFunction(DUMP);
    expect(cost.get("(unknown code)")).toBe(580);
  });

  it("lists the costliest first, per message", () => {
    const lines = topLines(selfCostByFunction(DUMP, parsePerfMap(MAP)), 5, 2);
    expect(lines).toEqual(["     60  JS:*'decodeHot file:///b.mjs:1:1", "     50  JS:*'route file:///b.mjs:2:8"]);
  });
});
