import { describe, expect, it } from "vitest";
import { parseArgs } from "../../bench/cli.js";
import { filesNeeded, FleetSchedule, fleetSizing, parseDeviceRate, parseDevices, parseFleetSeconds, SPARE_FILES, summarizeGcLog } from "../../bench/fleet.js";
import { Prng } from "../sim/prng.js";
import { anonPerDeviceBytes, coldPerDeviceBytes, cpuSplitPerMsg, fleetGoals, fleetSummaryLine, syscallsPerMsg } from "../../bench/fleet-report.js";
import { parseStatusRssFile } from "../../bench/proc.js";
import { aggregate, cellKey, renderMarkdown, type BenchResults, type RunRecord } from "../../bench/report.js";
import { isPerPacket, PRESETS, plan, type PlanOptions, rowsFor, specFor } from "../../bench/scenarios.js";
import type { FleetSpec, MeasurementResult, ThroughputSpec } from "../../bench/types.js";
import { ACK_SIZE, writeAck, writeAckBuffer } from "../../bench/wire.js";
import { fleetResult } from "../helpers/bench-results.js";

/** Runs a schedule to `endMs` in steps of `stepMs`; returns every send in the order handed out. */
function drain(s: FleetSchedule, endMs: number, stepMs: number): { device: number; seq: number; dueAt: number; at: number }[] {
  const out: { device: number; seq: number; dueAt: number; at: number }[] = [];
  for (let now = 0; ; now += stepMs) {
    const more = s.due(now, endMs, (device, seq, dueAt) => out.push({ device, seq, dueAt, at: now }));
    if (!more) return out;
  }
}

/** The simulation's seeded PRNG (test/sim/prng.ts), as the schedule's source of phases. */
function seeded(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.next();
}

describe("fleet schedule", () => {
  it("gives every device a phase within one interval and walks them in phase order", () => {
    const s = new FleetSchedule(500, 5, seeded(1));
    expect(s.intervalMs).toBe(200);
    for (const p of s.phases) {
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(200);
    }
    const phases = Array.from(s.order, (d) => s.phases[d] as number);
    expect(phases).toEqual([...phases].sort((a, b) => a - b));
    expect(new Set(s.order).size).toBe(500);
  });

  it("phases are spread, not bunched (seeded: every quarter of the interval holds a fair share)", () => {
    const s = new FleetSchedule(2000, 5, seeded(7));
    const quarters = [0, 0, 0, 0];
    for (const p of s.phases) quarters[Math.floor(p / 50)]!++;
    for (const q of quarters) expect(q).toBeGreaterThan(400);
  });

  it("each device sends seq 0, 1, 2 … once per interval, at its phase, never before it is due", () => {
    const s = new FleetSchedule(50, 2, seeded(3));
    const sends = drain(s, 3000, 7);
    const perDevice = new Map<number, number[]>();
    for (const x of sends) {
      expect(x.dueAt).toBeLessThanOrEqual(x.at);
      expect(x.dueAt).toBeCloseTo((s.phases[x.device] as number) + x.seq * s.intervalMs, 9);
      const list = perDevice.get(x.device) ?? [];
      list.push(x.seq);
      perDevice.set(x.device, list);
    }
    for (let d = 0; d < 50; d++) {
      const n = s.sendsBefore(d, 3000);
      expect(n).toBe(6);
      expect(perDevice.get(d)).toEqual(Array.from({ length: n }, (_, k) => k));
    }
    // Handed out in time order.
    const due = sends.map((x) => x.dueAt);
    expect(due).toEqual([...due].sort((a, b) => a - b));
  });

  it("stops at the end time, and hands out nothing before the first phase", () => {
    const s = new FleetSchedule(3, 1, () => 0.5);
    const got: number[] = [];
    expect(s.due(100, 10_000, (d) => got.push(d))).toBe(true);
    expect(got).toEqual([]);
    expect(s.due(500, 10_000, (d) => got.push(d))).toBe(true);
    expect(got).toEqual([0, 1, 2]);
    expect(s.due(60_000, 1_600, (d) => got.push(d))).toBe(false);
    expect(got).toHaveLength(6);
    expect(s.sendsBefore(0, 1_600)).toBe(2);
    expect(s.sendsBefore(0, 400)).toBe(0);
  });

  it("rejects an empty fleet and a zero rate", () => {
    expect(() => new FleetSchedule(0, 5)).toThrow(RangeError);
    expect(() => new FleetSchedule(10, 0)).toThrow(RangeError);
  });
});

describe("fleet sizing and options", () => {
  it("warms up for at least two rounds and sizes the trackers for the whole run", () => {
    const a = fleetSizing(2000, 5, 2000, 5000);
    expect(a).toEqual({ intervalMs: 200, warmupMs: 2000, durationMs: 5000, perDeviceCapacity: 36, measuredCapacity: 2000 * 26 });
    const b = fleetSizing(20_000, 0.5, 2000, 5000);
    expect(b.warmupMs).toBe(4000);
    expect(b.perDeviceCapacity).toBe(Math.ceil(9000 / 2000) + 1);
  });

  it("checks --devices, --device-rate and --fleet-seconds", () => {
    expect(parseDevices("20000")).toBe(20_000);
    expect(() => parseDevices("0")).toThrow(/--devices/);
    expect(() => parseDevices("70000")).toThrow(/--devices/);
    expect(() => parseDevices("1.5")).toThrow(/--devices/);
    expect(parseDeviceRate("0.5")).toBe(0.5);
    expect(() => parseDeviceRate("0")).toThrow(/--device-rate/);
    expect(() => parseDeviceRate("abc")).toThrow(/--device-rate/);
    expect(parseFleetSeconds("30")).toBe(30);
    expect(() => parseFleetSeconds("0.5")).toThrow(/--fleet-seconds/);
  });

  it("parses the fleet options on the command line, and points --rate 0.5 at --device-rate", () => {
    const o = parseArgs(["--scenario", "fleet,fan-in-per-packet", "--devices", "20000", "--device-rate=0.5", "--fleet-seconds", "10"]);
    expect(o.scenarios).toEqual(["fleet", "fan-in-per-packet"]);
    expect([o.devices, o.deviceRate, o.fleetSeconds]).toEqual([20_000, 0.5, 10]);
    const d = parseArgs([]);
    expect([d.devices, d.deviceRate, d.fleetSeconds]).toEqual([2000, 5, null]);
    expect(() => parseArgs(["--rate", "0.5"])).toThrow(/--device-rate/);
  });

  it("says how many open files a fleet needs, and what to do when the hard limit is too low", () => {
    expect(filesNeeded(2000, 20_000, 20_000)).toEqual({ limit: null, error: null });
    expect(filesNeeded(2000, 1024, 65_536)).toEqual({ limit: 2000 + SPARE_FILES, error: null });
    const refused = filesNeeded(20_000, 20_000, 20_000);
    expect(refused.limit).toBeNull();
    expect(refused.error).toMatch(/20096 open files.*hard limit 20000.*ulimit -Hn 20096.*at most 19904 connections/);
    // A machine whose hard limit is 20,000 runs issue 17's row as near as it can: 19,900 devices.
    expect(filesNeeded(19_900, 1024, 20_000)).toEqual({ limit: 19_996, error: null });
  });
});

describe("GC log", () => {
  it("sums the pauses that started within the measured interval, ignoring malformed lines", () => {
    const log = ["1000.000 0.500 1", "1500.250 2.000 4", "1600.000 1.250 1", "garbage", "", "2500.000 9.000 4"].join("\n");
    expect(summarizeGcLog(log, 1200, 2000)).toEqual({ count: 2, minor: 1, totalMs: 3.25, maxMs: 2 });
    expect(summarizeGcLog(log, 0, 10_000)).toEqual({ count: 4, minor: 2, totalMs: 12.75, maxMs: 9 });
    expect(summarizeGcLog("", 0, 1)).toEqual({ count: 0, minor: 0, totalMs: 0, maxMs: 0 });
  });
});

const planBase: PlanOptions = {
  preset: PRESETS.quick,
  scenarios: ["fleet"],
  qos: [0, 1, 2],
  targets: ["mqgate-memory", "aedes", "mosquitto"],
  redisEverywhere: false,
  reps: 1,
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
const where = { host: "127.0.0.1", port: 1, brokerPid: 1, side: [] };

describe("fleet and one-packet-per-write in the plan", () => {
  it("plans the fleet once, at QoS 1, on every target", () => {
    expect(rowsFor(["fleet"], [0, 2])).toEqual([{ scenario: "fleet", qos: 1 }]);
    expect(plan(planBase).map((r) => r.target)).toEqual(["mqgate-memory", "aedes", "mosquitto"]);
  });

  it("gives the fleet load generator its devices, rate, warm-up, time limit and GC log", () => {
    const spec = specFor({ scenario: "fleet", qos: 1 }, { ...planBase, devices: 20_000, deviceRate: 0.5, fleetSeconds: 10 }, { ...where, gcLog: "/tmp/gc.log" }) as FleetSpec;
    expect(spec.kind).toBe("fleet");
    expect([spec.devices, spec.ratePerDevice, spec.durationMs, spec.gcLog]).toEqual([20_000, 0.5, 10_000, "/tmp/gc.log"]);
    expect(spec.warmupMs).toBe(4000);
    expect(spec.timeoutMs).toBe(PRESETS.quick.timeoutMs + 14_000);
    const mosquitto = specFor({ scenario: "fleet", qos: 1 }, planBase, where) as FleetSpec;
    expect(mosquitto.gcLog).toBeNull();
    expect(mosquitto.durationMs).toBe(PRESETS.quick.fleet.durationMs);
  });

  it("the per-packet variants are fan-in and fan-out with one packet per write", () => {
    const opts = { ...planBase, scenarios: ["fan-in", "fan-in-per-packet", "fan-out-per-packet"] as const };
    const rows = rowsFor(opts.scenarios, [1]);
    expect(rows.map((r) => r.scenario)).toEqual(["fan-in", "fan-in-per-packet", "fan-out-per-packet"]);
    const [plain, inPer, outPer] = rows.map((r) => specFor(r, opts, where) as ThroughputSpec);
    expect(plain?.perPacket).toBe(false);
    expect(inPer?.perPacket).toBe(true);
    expect({ ...inPer, perPacket: false }).toEqual(plain);
    expect([outPer?.perPacket, outPer?.subscribers, outPer?.filter]).toEqual([true, 10, "bench/out"]);
    expect(isPerPacket("fan-out")).toBe(false);
  });

  it("writes each acknowledgement into a buffer of its own", () => {
    const a = writeAckBuffer(4, 513);
    const b = Buffer.alloc(ACK_SIZE);
    writeAck(b, 0, 4, 513);
    expect(a).toEqual(b);
    expect(a).toHaveLength(ACK_SIZE);
  });
});


describe("fleet report", () => {
  const runs: RunRecord[] = [
    { scenario: "fleet", qos: 1, rep: 0, target: "mqgate-memory", result: fleetResult("mqgate-memory", 20, 2000, 12_000, 3.5) },
    { scenario: "fleet", qos: 1, rep: 0, target: "mosquitto", result: fleetResult("mosquitto", 24, 2600, 7000, 1) },
    { scenario: "fleet", qos: 1, rep: 0, target: "aedes", result: fleetResult("aedes", 48, 6600, 40_000, 60) },
  ];

  it("checks issue 17's targets against Mosquitto in the same run", () => {
    const goals = fleetGoals(runs, aggregate(runs), (t) => cellKey("fleet", 1, t));
    expect(goals.map((g) => [g.metric, g.value, g.met])).toEqual([
      ["broker CPU per message vs Mosquitto", "0.83×", false],
      ["p99 latency vs Mosquitto", "0.77×", true],
      ["worst latency", "12.0 ms", false],
      ["RSS per connected device above idle", "3.50 KiB", true],
    ]);
  });

  it("renders the fleet table with RSS per device and GC pauses (none for Mosquitto)", () => {
    const results = { runs, settings: { qos: [1], idleConnections: 0, ratePerSecond: 1000, payloadSize: 64, window: 100, mode: "custom", reps: 1 }, machine: {} } as unknown as BenchResults;
    const md = renderMarkdown({ ...results, startedAt: "2025-01-01T00:00:00Z", command: "x" });
    expect(md).toContain("### Fleet:");
    expect(md).toMatch(/\| mqgate \(memory store\) \| 2,000 × 5 \| 10,000 \| 20\.0 \| 0\.83× \| – \| – \| 0\.500 \| 2\.00 \| 12\.0 \| – \| 100 → 120 → 107 \| 3\.50 \| – \| – \| 12 \/ 30\.0 \/ 6\.00 \|/);
    expect(md).toMatch(/\| Mosquitto \|[^\n]*\| – \| 60 \|/);
    expect(md).toContain("### Issue 17 targets");
  });
});

describe("bench: RSS per device above the cold baseline (decision 061)", () => {
  it("divides the growth over the reading before the message path's warm-up by the devices; NaN for older results", () => {
    const MiB = 2 ** 20;
    const r = fleetResult("mqgate-memory", 20, 2000, 12_000, 3.5); // idle 100 MiB, end 100 MiB + 3.5 KiB × 2,000
    expect(coldPerDeviceBytes(r)).toBeNaN();
    const f = r.fleet as NonNullable<typeof r.fleet>;
    const warmed = { ...r, fleet: { ...f, rssColdBytes: 94 * MiB, rssFileColdBytes: 48 * MiB } };
    // 6 MiB paid once during the warm-up, spread over 2,000 devices: 3.07 KiB more per device above the cold reading.
    expect(coldPerDeviceBytes(warmed)).toBe(3.5 * 1024 + (6 * MiB) / 2000);
    expect(fleetSummaryLine(warmed)).toContain("(3.50 KiB/device; cold 94.0 MiB, 6.57 KiB/device above it)");
  });

  it("shows both figures against issue 17's memory target, so the warm-up's share is never hidden", () => {
    const MiB = 2 ** 20;
    const warm = (t: "mqgate-memory" | "mosquitto", cpu: number, p99: number, max: number, kib: number) => {
      const r = fleetResult(t, cpu, p99, max, kib);
      return { ...r, fleet: { ...(r.fleet as NonNullable<typeof r.fleet>), rssColdBytes: 94 * MiB } };
    };
    const warmRuns: RunRecord[] = [
      { scenario: "fleet", qos: 1, rep: 0, target: "mqgate-memory", result: warm("mqgate-memory", 20, 2000, 9000, 3.5) },
      { scenario: "fleet", qos: 1, rep: 0, target: "mosquitto", result: warm("mosquitto", 24, 2600, 7000, 1) },
    ];
    const goals = fleetGoals(warmRuns, aggregate(warmRuns), (t) => cellKey("fleet", 1, t));
    expect(goals.slice(-2).map((g) => [g.metric, g.value, g.met])).toEqual([
      ["RSS per connected device above idle", "3.50 KiB", true],
      ["RSS per connected device above the cold baseline (before any message)", "6.57 KiB", false],
    ]);
    const results = { runs: warmRuns, settings: { qos: [1], idleConnections: 0, ratePerSecond: 1000, payloadSize: 64, window: 100, mode: "custom", reps: 1 }, machine: {} } as unknown as BenchResults;
    const md = renderMarkdown({ ...results, startedAt: "2025-01-01T00:00:00Z", command: "x" });
    expect(md).toMatch(/\| 94\.0 → 100 → 120 → 107 \| 3\.50 \| 6\.57 \|/);
  });
});

describe("bench: user and kernel CPU per message", () => {
  it("divides the broker's utime and stime by the delivered messages; NaN for results without the split", () => {
    const base = { delivered: 1000, broker: { name: "broker", cpuMs: 31, userMs: 14, systemMs: 17, rssBeforeBytes: 0, rssAfterBytes: 0 } };
    expect(cpuSplitPerMsg(base as unknown as MeasurementResult)).toEqual({ user: 14, kernel: 17 });
    expect(cpuSplitPerMsg({ ...base, delivered: 0 } as unknown as MeasurementResult).user).toBeNaN();
    expect(cpuSplitPerMsg({ ...base, broker: { name: "broker", cpuMs: 1, rssBeforeBytes: 0, rssAfterBytes: 0 } } as unknown as MeasurementResult).kernel).toBeNaN();
  });
});

describe("bench: RSS per device without the mapped files", () => {
  it("takes the growth of RssFile (the node binary's code pages) out of the growth per device; NaN without the split", () => {
    const MiB = 2 ** 20;
    const r = fleetResult("mqgate-memory", 20, 2000, 12_000, 6); // RSS 100 → 100 + 6 KiB × 2,000 devices
    expect(anonPerDeviceBytes(r)).toBeNaN();
    const split = { ...r, fleet: { ...(r.fleet as NonNullable<typeof r.fleet>), rssFileIdleBytes: 40 * MiB, rssFileEndBytes: 40 * MiB + 2000 * 2048 } };
    expect(anonPerDeviceBytes(split)).toBe(4 * 1024);
    expect(parseStatusRssFile("VmRSS:\t  107544 kB\nRssAnon:\t   54208 kB\nRssFile:\t   53336 kB\n")).toBe(53336 * 1024);
    expect(parseStatusRssFile("VmRSS:\t 1 kB\n")).toBeNaN();
  });
});

describe("bench: system calls per message", () => {
  it("divides the broker's read and write calls by the delivered messages; NaN without counts or deliveries", () => {
    const base = { delivered: 1000, broker: { name: "broker", cpuMs: 1, rssBeforeBytes: 0, rssAfterBytes: 0, readCalls: 2000, writeCalls: 1500 } };
    expect(syscallsPerMsg(base as unknown as MeasurementResult)).toBe(3.5);
    expect(syscallsPerMsg({ ...base, delivered: 0 } as unknown as MeasurementResult)).toBeNaN();
    expect(syscallsPerMsg({ ...base, broker: { name: "broker", cpuMs: 1, rssBeforeBytes: 0, rssAfterBytes: 0 } } as unknown as MeasurementResult)).toBeNaN();
  });
});
