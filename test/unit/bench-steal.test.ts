import { describe, expect, it } from "vitest";
import { aggregate, cellKey, type RunRecord } from "../../bench/cells.js";
import { fleetGoals, fleetSummaryLine, fleetTable } from "../../bench/fleet-report.js";
import { clkTck, parseProcStat } from "../../bench/proc.js";
import { StealWatch, worstAwayFromSteal } from "../../bench/steal.js";
import type { MeasurementResult } from "../../bench/types.js";
import { fleetResult } from "../helpers/bench-results.js";

describe("bench: hypervisor steal (issue 17's worst latency)", () => {
  it("reads the steal counter of /proc/stat's aggregate line, in ms", () => {
    const tick = 1000 / clkTck();
    expect(parseProcStat("cpu  100 10 50 800 40 5 5 7 0 0\ncpu0 50 5 25 400 20 2 3 4 0 0\n").stealMs).toBeCloseTo(7 * tick);
    expect(() => parseProcStat("intr 1 2 3\n")).toThrow();
    expect(() => parseProcStat("cpu  1 2 3\n")).toThrow();
  });

  it("keeps the sample intervals in which the counter grew, their total, and takes a last sample on stop", () => {
    let counter = 0;
    let now = 0;
    const w = new StealWatch({ read: () => counter, clock: () => now, intervalMs: 60_000 });
    w.start();
    now = 100;
    w.sample(); // nothing stolen
    counter = 20;
    now = 200;
    w.sample();
    now = 300;
    w.sample();
    counter = 30;
    now = 350;
    w.stop(); // the last interval, 300-350
    expect(w.windows).toEqual([
      { from: 100, to: 200, ms: 20 },
      { from: 300, to: 350, ms: 10 },
    ]);
    expect(w.totalMs).toBe(30);
    expect(w.available).toBe(true);
  });

  it("is unavailable before start, and stops counting when a later read fails", () => {
    let fail = false;
    const w = new StealWatch({
      read: () => {
        if (fail) throw new Error("gone");
        return 0;
      },
      intervalMs: 60_000,
    });
    expect([w.available, w.totalMs]).toEqual([false, Number.NaN]);
    w.start();
    expect([w.available, w.totalMs]).toEqual([true, 0]);
    fail = true;
    expect(() => w.sample()).not.toThrow();
    w.stop();
    expect([w.available, w.totalMs]).toEqual([false, Number.NaN]);
  });

  it("is unavailable, with NaN totals and no windows, where the counter cannot be read", () => {
    const w = new StealWatch({
      read: () => {
        throw new Error("no /proc");
      },
    });
    w.start();
    w.sample();
    w.stop();
    expect([w.available, w.totalMs, w.windows.length]).toEqual([false, Number.NaN, 0]);
  });

  it("gives the worst latency of the messages whose flight no window met, and how many they were", () => {
    const windows = [
      { from: 100, to: 200, ms: 10 },
      { from: 500, to: 600, ms: 10 },
    ];
    // sent at (ms), latency (µs): [0, 2 ms] clear; [95, 25 ms] reaches the first window; [210, 3 ms] clear;
    // [600, 1 ms] starts at the second window's end (touches it); [700, 40 ms] clear and the worst; [50, 60 ms] spans
    // the first window.
    const sentAt = Float64Array.from([0, 95, 210, 600, 700, 50]);
    const lat = Float64Array.from([2000, 25_000, 3000, 1000, 40_000, 60_000]);
    expect(worstAwayFromSteal(sentAt, lat, 6, windows)).toEqual({ maxMs: 40, clear: 3 });
    expect(worstAwayFromSteal(sentAt, lat, 4, windows)).toEqual({ maxMs: 3, clear: 2 }); // only the first four count
    expect(worstAwayFromSteal(sentAt, lat, 6, [])).toEqual({ maxMs: 60, clear: 6 });
    expect(worstAwayFromSteal(Float64Array.from([150]), Float64Array.from([1000]), 1, windows)).toEqual({ maxMs: Number.NaN, clear: 0 });
  });

  it("reports it beside the worst latency of all messages, never in its place", () => {
    const result = (target: "mqgate-memory" | "mosquitto", maxUs: number, away: number): MeasurementResult => {
      const r = fleetResult(target, 20, 1500, maxUs, 3);
      r.fleet = { ...(r.fleet as NonNullable<MeasurementResult["fleet"]>), stealMs: 420, stealWindows: 31, maxAwayFromStealMs: away, awayFromStealShare: 0.82 };
      return r;
    };
    const runs: RunRecord[] = [
      { scenario: "fleet", qos: 1, rep: 0, target: "mqgate-memory", result: result("mqgate-memory", 21_000, 6.5) },
      { scenario: "fleet", qos: 1, rep: 1, target: "mqgate-memory", result: result("mqgate-memory", 9000, 7.25) },
      { scenario: "fleet", qos: 1, rep: 0, target: "mosquitto", result: result("mosquitto", 15_000, 5) },
    ];
    expect(fleetSummaryLine(runs[0]!.result)).toContain("hypervisor steal 420 ms in 31 of the 100 ms samples; worst latency away from steal 6.50 ms (82 % of messages)");
    const goals = fleetGoals(runs, aggregate(runs), (t) => cellKey("fleet", 1, t)).map((g) => [g.metric, g.value, g.met]);
    expect(goals).toContainEqual(["worst latency", "21.0 ms", false]);
    // The worst over the runs, not the median.
    expect(goals).toContainEqual(["worst latency of the messages no hypervisor steal overlapped (supplementary)", "7.25 ms (82 % of messages)", true]);
    const table = fleetTable(runs, aggregate(runs), (t) => cellKey("fleet", 1, t)) ?? "";
    expect(table).toContain("| 21.0 | 7.25 (82 % of messages; steal 420 ms) |");
  });
});
