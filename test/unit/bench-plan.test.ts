import { describe, expect, it } from "vitest";
import { aggregate, baselineLines, cellKey, goals, type RunRecord, renderMarkdown, renderSvg, type BenchResults } from "../../bench/report.js";
import { parseArgs, spliceGenerated } from "../../bench/runner.js";
import { PRESETS, plan, type PlanOptions, rotate, rowsFor } from "../../bench/scenarios.js";
import type { MeasurementResult } from "../../bench/types.js";

const base: PlanOptions = {
  preset: PRESETS.quick,
  scenarios: ["fan-in", "latency", "idle", "fan-in-persistent"],
  qos: [0, 1, 2],
  targets: ["mqgate-memory", "mqgate-redis", "aedes", "mosquitto"],
  redisEverywhere: false,
  reps: 2,
  scale: 1,
  payloadSize: 64,
  window: 100,
  ratePerSecond: 1000,
  idleConnections: 100,
  protocol: 4,
  persistentQos: [1],
  devices: 2000,
  deviceRate: 5,
  fleetSeconds: null,
};

describe("plan", () => {
  it("rotate moves every element through every position", () => {
    expect(rotate(["a", "b", "c"], 0)).toEqual(["a", "b", "c"]);
    expect(rotate(["a", "b", "c"], 1)).toEqual(["b", "c", "a"]);
    expect(rotate(["a", "b", "c"], 5)).toEqual(["c", "a", "b"]);
    expect(rotate([], 3)).toEqual([]);
  });

  it("rows: idle once, the persistent scenario at its QoS levels only", () => {
    expect(rowsFor(["idle", "fan-in-persistent", "fan-out"], [0, 1, 2], [1])).toEqual([
      { scenario: "fan-out", qos: 0 },
      { scenario: "fan-out", qos: 1 },
      { scenario: "fan-out", qos: 2 },
      { scenario: "idle", qos: null },
      { scenario: "fan-in-persistent", qos: 1 },
    ]);
  });

  it("interleaves targets within each row and rotates them per repetition", () => {
    const runs = plan({ ...base, scenarios: ["fan-in"], qos: [0], targets: ["mqgate-memory", "aedes", "mosquitto"] });
    expect(runs.map((r) => `${r.rep}:${r.target}`)).toEqual([
      "0:mqgate-memory",
      "0:aedes",
      "0:mosquitto",
      "1:aedes",
      "1:mosquitto",
      "1:mqgate-memory",
    ]);
  });

  it("runs mqgate-redis only in the store rows unless asked everywhere", () => {
    const redisRows = (o: PlanOptions) =>
      plan({ ...o, reps: 1 })
        .filter((r) => r.target === "mqgate-redis")
        .map((r) => `${r.scenario}/${r.qos}`);
    expect(redisRows(base)).toEqual(["fan-in/1", "fan-in-persistent/1"]);
    expect(redisRows({ ...base, redisEverywhere: true })).toHaveLength(3 + 3 + 1 + 1);
  });
});

describe("parseArgs", () => {
  it("defaults to the quick run", () => {
    const o = parseArgs([]);
    expect(o).toMatchObject({ full: false, scenarios: null, targets: null, qos: null, window: 100, payload: 64, rate: 1000 });
  });

  it("reads selections and numbers, with or without '='", () => {
    const o = parseArgs(["--full", "--scenario", "fan-in,idle", "--target=aedes", "--qos", "1", "--reps=3", "--connections", "500"]);
    expect(o).toMatchObject({ full: true, scenarios: ["fan-in", "idle"], targets: ["aedes"], qos: [1], reps: 3, connections: 500 });
  });

  it("refuses unknown names and bad numbers", () => {
    expect(() => parseArgs(["--scenario", "fan-up"])).toThrow(/unknown scenario/);
    expect(() => parseArgs(["--target", "hivemq"])).toThrow(/unknown target/);
    expect(() => parseArgs(["--qos", "3"])).toThrow(/unknown QoS/);
    expect(() => parseArgs(["--reps", "0"])).toThrow(/--reps/);
    expect(() => parseArgs(["--payload", "8"])).toThrow(/--payload/);
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown option/);
    expect(() => parseArgs(["--reps"])).toThrow(/needs a value/);
  });

  it("takes a baseline bundle and extra node flags for mqgate", () => {
    const o = parseArgs(["--baseline", "/tmp/base/dist/broker.mjs", "--mqgate-flags", "--trace-gc  --max-semi-space-size=8"]);
    expect(o.baseline).toBe("/tmp/base/dist/broker.mjs");
    expect(o.mqgateFlags).toEqual(["--trace-gc", "--max-semi-space-size=8"]);
    expect(o.baselineFlags).toEqual([]);
    expect(parseArgs(["--baseline-flags", "--max-semi-space-size=1"]).baselineFlags).toEqual(["--max-semi-space-size=1"]);
    expect(parseArgs([]).baselineEnv).toEqual({});
    // An empty value removes the variable from the baseline's environment (bench/targets.ts).
    expect(parseArgs(["--baseline-env", "MALLOC_ARENA_MAX= FOO=1"]).baselineEnv).toEqual({ MALLOC_ARENA_MAX: "", FOO: "1" });
    expect(parseArgs(["--baseline-env=MALLOC_ARENA_MAX=1"]).baselineEnv).toEqual({ MALLOC_ARENA_MAX: "1" });
    expect(() => parseArgs(["--baseline-env", "MALLOC_ARENA_MAX"])).toThrow(/not NAME=VALUE/);
    expect(() => parseArgs(["--baseline-env", "1X=2"])).toThrow(/not NAME=VALUE/);
    expect(parseArgs(["--target", "mqgate-memory,mqgate-baseline"]).targets).toEqual(["mqgate-memory", "mqgate-baseline"]);
  });

  it("reads the protocol level: 4 (MQTT 3.1.1) by default, 5 when asked, nothing else", () => {
    expect(parseArgs([]).protocol).toBe(4);
    expect(parseArgs(["--protocol", "5"]).protocol).toBe(5);
    expect(parseArgs(["--protocol=4"]).protocol).toBe(4);
    expect(() => parseArgs(["--protocol", "3"])).toThrow(/--protocol must be 4/);
    expect(() => parseArgs(["--protocol", "5.0"])).toThrow(/--protocol/);
  });
});

describe("spliceGenerated", () => {
  it("replaces only the generated part and keeps the text around it", () => {
    const first = spliceGenerated("# Benchmarks\n\nintro\n", "TABLE 1");
    expect(first).toContain("intro");
    expect(first).toContain("TABLE 1");
    const doc = `${first}\n## Notes\n\nhand-written\n`;
    const second = spliceGenerated(doc, "TABLE 2");
    expect(second).toContain("TABLE 2");
    expect(second).not.toContain("TABLE 1");
    expect(second).toContain("hand-written");
    expect(second.indexOf("intro")).toBeLessThan(second.indexOf("TABLE 2"));
    expect(spliceGenerated(second, "TABLE 2")).toBe(second);
  });

  it("creates a document when there is none", () => {
    expect(spliceGenerated(null, "X")).toMatch(/^# Benchmarks\n[\s\S]*X/);
  });
});

function result(cpuUsPerMsg: number, extra: Partial<MeasurementResult> = {}): MeasurementResult {
  const broker = { name: "broker", cpuMs: 1, rssBeforeBytes: 1 << 20, rssAfterBytes: 2 << 20 };
  return {
    ok: true,
    error: null,
    elapsedMs: 1000,
    published: 1000,
    delivered: 1000,
    deliveredPerSec: 1000,
    broker,
    side: [],
    cpuUsPerMsg,
    sideCpuUsPerMsg: Number.NaN,
    loadgenCpuPct: 50,
    backgroundCores: 0,
    delivery: { expected: 1000, received: 1000, lost: 0, duplicates: 0, reordered: 0, unexpected: 0, badPairs: [] },
    latency: null,
    idle: null,
    ...extra,
  };
}

describe("report", () => {
  const runs: RunRecord[] = [
    { scenario: "fan-in", qos: 0, rep: 0, target: "mqgate-memory", result: result(6) },
    { scenario: "fan-in", qos: 0, rep: 1, target: "mqgate-memory", result: result(8) },
    { scenario: "fan-in", qos: 0, rep: 2, target: "mqgate-memory", result: result(100, { ok: false, error: "stalled" }) },
    { scenario: "fan-in", qos: 0, rep: 0, target: "aedes", result: result(10) },
    { scenario: "fan-in", qos: 0, rep: 1, target: "aedes", result: result(10) },
    {
      scenario: "fan-in",
      qos: 0,
      rep: 0,
      target: "mosquitto",
      result: result(5, { delivery: { expected: 10, received: 9, lost: 1, duplicates: 0, reordered: 0, unexpected: 0, badPairs: [] } }),
    },
  ];

  it("takes medians over the successful runs and counts the failed ones", () => {
    const cells = aggregate(runs);
    const m = cells.get(cellKey("fan-in", 0, "mqgate-memory"));
    expect(m?.cpuUsPerMsg).toEqual({ median: 7, min: 6, max: 8, n: 2 });
    expect(m?.ok).toBe(2);
    expect(m?.runs).toBe(3);
    expect(cells.get(cellKey("fan-in", 0, "mosquitto"))?.anomalies.lost).toBe(1);
  });

  it("compares mqgate with the issue 7 targets", () => {
    const g = goals(aggregate(runs));
    expect(g).toEqual([{ metric: "CPU/msg, fan-in QoS 0, vs Aedes", goal: "≤ 0.75×", value: 0.7, limit: 0.75 }]);
  });

  it("renders the tables, flags anomalies loudly and draws the chart", () => {
    const results: BenchResults = {
      format: 1,
      command: "node bench/run.mjs",
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T00:01:00.000Z",
      machine: { cpus: 2, cpuModel: "Test CPU", memoryGiB: 4, kernel: "6", node: "v20", mqgate: "0.1.0", gitCommit: "abc", aedes: "1.2.0", mosquitto: "2.0.11", redis: "7", openFilesLimit: "1024 / 1024" },
      settings: { mode: "quick", reps: 3, scale: 1, payloadSize: 64, window: 100, ratePerSecond: 1000, idleConnections: 100, targets: ["mqgate-memory", "aedes", "mosquitto"], scenarios: ["fan-in"], qos: [0], redisEverywhere: false, counts: {} },
      runs,
    };
    const md = renderMarkdown(results);
    expect(md).toContain("| 0 | mqgate (memory store) |");
    expect(md).toContain("0.70×");
    expect(md).toContain("**⚠ lost 1**");
    expect(md).toContain("failed: stalled");
    const svg = renderSvg(results);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("CPU/msg fan-in QoS 0");
    expect(svg.trim().endsWith("</svg>")).toBe(true);
  });
});

describe("A/B against a baseline build", () => {
  it("gives the ratio of mqgate-memory to mqgate-baseline for every row measured with both", () => {
    const runs: RunRecord[] = [
      { scenario: "fan-in", qos: 1, rep: 0, target: "mqgate-memory", result: result(3) },
      { scenario: "fan-in", qos: 1, rep: 0, target: "mqgate-baseline", result: result(12) },
      { scenario: "fan-in", qos: 1, rep: 0, target: "aedes", result: result(16) },
      { scenario: "fan-out", qos: 0, rep: 0, target: "mqgate-memory", result: result(1) },
    ];
    const lines = baselineLines(aggregate(runs));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ {2}fan-in QoS 1: CPU\/msg 0\.25× \(3\.00 vs 12\.0 µs\)/);
  });
});
