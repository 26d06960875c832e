import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { mapsBeside, mapStack } from "../../scripts/lib/stack-map.js";
import { positionOf } from "../helpers/text-position.js";

// Decision 058: the image runs the broker without `--enable-source-maps`; its bundle keeps its names, and
// dist/stack.mjs maps a trace's positions back to the sources with the map that ships beside the bundle.
const root = fileURLToPath(new URL("../..", import.meta.url));
const dist = join(root, "dist");

/** 1-based line and column of the first occurrence of `needle` in a source file. */
function sourcePosition(file: string, needle: string): string {
  const { line, column } = positionOf(readFileSync(join(root, file), "utf8"), needle);
  return `${line}:${column}`;
}

describe("stack traces of the bundled broker (decision 058)", () => {
  const bundle = readFileSync(join(dist, "broker.mjs"), "utf8");

  it("keeps the sources' function and class names in the bundle, so a trace names them without the map", () => {
    // Booleans: a failed match against the bundle would print all 2.7 MB of it.
    expect(bundle.includes("function decodeHot5(")).toBe(true);
    expect(/\bSession=class\b/.test(bundle)).toBe(true);
  });

  it("maps a position in dist/broker.mjs to the source file and line it was built from", () => {
    const { line, column } = positionOf(bundle, "function decodeHot5(");
    const trace = `Error: boom\n    at decodeHot5 (file:///app/dist/broker.mjs:${line}:${column})\n    at node:internal/x:1:2`;
    const mapped = mapStack(trace, mapsBeside(dist));
    expect(mapped).toContain(`at decodeHot5 (broker/codec5.ts:${sourcePosition("broker/codec5.ts", "function decodeHot5(")})`);
    expect(mapped).toContain("at node:internal/x:1:2");
  });

  it("leaves positions alone that it has no map for, or that the map does not cover", () => {
    const trace = "at f (file:///app/dist/nothing.mjs:1:5)\nat g (/app/dist/broker.mjs:999999:1)";
    expect(mapStack(trace, mapsBeside(dist))).toBe(trace);
  });

  it("leaves a bundle's positions alone when its map is unreadable, and says so once", () => {
    const dir = mkdtempSync(join(tmpdir(), "mqgate-stack-"));
    try {
      writeFileSync(join(dir, "broker.mjs.map"), "not json");
      const warnings: string[] = [];
      const trace = "at f (/app/dist/broker.mjs:1:5)\nat g (/app/dist/broker.mjs:2:5)";
      expect(mapStack(trace, mapsBeside(dir, (m) => warnings.push(m)))).toBe(trace);
      expect(warnings).toEqual([expect.stringContaining("not a version 3 source map")]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads hostile log lines in time proportional to their length (a device chooses what the broker logs)", () => {
    // Each of these made a pattern with overlapping, unbounded repetitions backtrack for minutes; the test's own
    // timeout is what fails if that comes back.
    const find = mapsBeside(dist);
    for (const line of ["a".repeat(200_000), "a/".repeat(100_000), "a.".repeat(100_000) + ":1:1", "file://".repeat(30_000), `(${"x".repeat(100_000)}.mjs:1`]) {
      expect(mapStack(line, find)).toBe(line);
    }
  });

  it("dist/stack.mjs maps the trace inside a JSON log line read on stdin", () => {
    const { line, column } = positionOf(bundle, "function decodeHot5(");
    const log = JSON.stringify({ level: 50, msg: "connection error", err: { stack: `Error: x\n    at decodeHot5 (/app/dist/broker.mjs:${line}:${column})` } });
    const run = spawnSync(process.execPath, [join(dist, "stack.mjs")], { input: `${log}\n`, encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`(broker/codec5.ts:${sourcePosition("broker/codec5.ts", "function decodeHot5(")})`);
    expect(() => JSON.parse(run.stdout) as unknown).not.toThrow();
  });

  it("dist/stack.mjs refuses a --map that is missing or not a source map, with exit code 2", () => {
    const missing = spawnSync(process.execPath, [join(dist, "stack.mjs"), "--map", join(dist, "nope.mjs.map")], { input: "", encoding: "utf8" });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("no such file");
    const dir = mkdtempSync(join(tmpdir(), "mqgate-stack-"));
    try {
      writeFileSync(join(dir, "broker.mjs.map"), "{}");
      const notMap = spawnSync(process.execPath, [join(dist, "stack.mjs"), "--map", join(dir, "broker.mjs.map")], { input: "", encoding: "utf8" });
      expect(notMap.status).toBe(2);
      expect(notMap.stderr).toContain("not a version 3 source map");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A map named otherwise would match no bundle and map nothing, silently.
    const badName = spawnSync(process.execPath, [join(dist, "stack.mjs"), "--map", join(root, "package.json")], { input: "", encoding: "utf8" });
    expect(badName.status).toBe(2);
    expect(badName.stderr).toContain("<bundle>.mjs.map");
  });
});
