/** The Markdown tables of docs/benchmarks.md per scenario (throughput, latency, idle, store) and the issue 7 targets. */
import { ratio } from "./accounting.js";
import { type BenchResults, type Cell, cellKey, cellRatio } from "./cells.js";
import { fmtAnomalies, fmtNum, fmtRatio, fmtSig, fmtSpread, table, TARGET_LABELS } from "./format.js";
import type { ScenarioId } from "./scenarios.js";
import { TARGET_IDS, type TargetId } from "./targets.js";
import type { QoS } from "./types.js";

function qosList(results: BenchResults): QoS[] {
  return [0, 1, 2].filter((q) => results.settings.qos.includes(q as QoS)) as QoS[];
}

function targetsOf(results: BenchResults): TargetId[] {
  const present = new Set(results.runs.map((r) => r.target));
  return TARGET_IDS.filter((t) => present.has(t));
}

export function throughputTable(results: BenchResults, cells: Map<string, Cell>, scenario: ScenarioId): string | null {
  const rows: string[][] = [];
  for (const q of qosList(results)) {
    for (const t of targetsOf(results)) {
      const c = cells.get(cellKey(scenario, q, t));
      if (c === undefined) continue;
      const row = { scenario, qos: q };
      rows.push([
        String(q),
        TARGET_LABELS[t],
        fmtNum(c.deliveredPerSec.median),
        fmtSpread(c.cpuUsPerMsg),
        fmtRatio(cellRatio(cells, row, t, "aedes", (x) => x.cpuUsPerMsg.median)),
        fmtRatio(cellRatio(cells, row, t, "mosquitto", (x) => x.cpuUsPerMsg.median)),
        fmtSig(c.rssAfterMiB.median),
        fmtNum(c.loadgenCpuPct.median),
        fmtNum(c.backgroundCores.median, 2),
        `${c.ok}/${c.runs}`,
        fmtAnomalies(c),
      ]);
    }
  }
  if (rows.length === 0) return null;
  return table(
    ["QoS", "target", "delivered msg/s", "broker µs CPU/msg (min–max)", "CPU/msg vs Aedes", "CPU/msg vs Mosquitto", "broker RSS MiB", "load gen CPU %", "other load (cores)", "runs ok", "anomalies"],
    rows,
  );
}

export function latencyTable(results: BenchResults, cells: Map<string, Cell>): string | null {
  const rows: string[][] = [];
  for (const q of qosList(results)) {
    for (const t of targetsOf(results)) {
      const c = cells.get(cellKey("latency", q, t));
      if (c === undefined) continue;
      const row = { scenario: "latency" as const, qos: q };
      rows.push([
        String(q),
        TARGET_LABELS[t],
        fmtSig(c.p50.median),
        fmtSpread(c.p99),
        fmtSig(c.maxLatency),
        fmtRatio(cellRatio(cells, row, t, "aedes", (x) => x.p99.median)),
        fmtRatio(cellRatio(cells, row, t, "mosquitto", (x) => x.p99.median)),
        fmtSig(c.cpuUsPerMsg.median),
        fmtNum(c.backgroundCores.median, 2),
        `${c.ok}/${c.runs}`,
        fmtAnomalies(c),
      ]);
    }
  }
  if (rows.length === 0) return null;
  return table(["QoS", "target", "p50 µs", "p99 µs (min–max)", "max µs (worst run)", "p99 vs Aedes", "p99 vs Mosquitto", "broker µs CPU/msg", "other load (cores)", "runs ok", "anomalies"], rows);
}

export function idleTable(results: BenchResults, cells: Map<string, Cell>): string | null {
  const rows: string[][] = [];
  for (const t of targetsOf(results)) {
    const c = cells.get(cellKey("idle", null, t));
    if (c === undefined) continue;
    const row = { scenario: "idle" as const, qos: null };
    rows.push([
      TARGET_LABELS[t],
      fmtNum(results.settings.idleConnections),
      fmtNum(c.connectsPerSec.median),
      fmtSig(c.cpuUsPerConnect.median),
      fmtSpread(c.rssPerConnKiB),
      fmtRatio(cellRatio(cells, row, t, "aedes", (x) => x.rssPerConnKiB.median)),
      fmtRatio(cellRatio(cells, row, t, "mosquitto", (x) => x.rssPerConnKiB.median)),
      fmtNum(c.backgroundCores.median, 2),
      `${c.ok}/${c.runs}`,
      c.errors.length > 0 ? `**⚠ ${c.errors[0] ?? ""}**` : "none",
    ]);
  }
  if (rows.length === 0) return null;
  return table(["target", "connections", "connects/s", "broker µs CPU/connect", "RSS/conn KiB (min–max)", "RSS/conn vs Aedes", "RSS/conn vs Mosquitto", "other load (cores)", "runs ok", "anomalies"], rows);
}

export function storeTable(cells: Map<string, Cell>): string | null {
  const rows: string[][] = [];
  for (const scenario of ["fan-in", "fan-in-persistent"] as const) {
    const mem = cells.get(cellKey(scenario, 1, "mqgate-memory"));
    const red = cells.get(cellKey(scenario, 1, "mqgate-redis"));
    if (mem === undefined || red === undefined) continue;
    const label = scenario === "fan-in" ? "fan-in QoS 1, clean sessions" : "fan-in QoS 1, persistent subscriber";
    for (const [name, c] of [
      ["memory", mem],
      ["Redis", red],
    ] as const) {
      const side = Number.isFinite(c.sideCpuUsPerMsg.median) ? c.sideCpuUsPerMsg.median : 0;
      rows.push([
        label,
        name,
        fmtNum(c.deliveredPerSec.median),
        name === "Redis" ? fmtRatio(ratio(red.deliveredPerSec.median, mem.deliveredPerSec.median)) : "1.00×",
        fmtSpread(c.cpuUsPerMsg),
        name === "Redis" ? fmtRatio(ratio(red.cpuUsPerMsg.median, mem.cpuUsPerMsg.median)) : "1.00×",
        name === "Redis" ? fmtSig(c.sideCpuUsPerMsg.median) : "–",
        fmtSig(c.cpuUsPerMsg.median + side),
        `${c.ok}/${c.runs}`,
        fmtAnomalies(c),
      ]);
    }
  }
  if (rows.length === 0) return null;
  return table(
    ["scenario", "store", "delivered msg/s", "msg/s vs memory", "broker µs CPU/msg (min–max)", "broker CPU vs memory", "redis-server µs CPU/msg", "broker + Redis µs CPU/msg", "runs ok", "anomalies"],
    rows,
  );
}

interface Goal {
  metric: string;
  goal: string;
  value: number;
  limit: number;
}

/** The optimisation targets of issue 7, as ratios of mqgate (memory store) to Aedes or absolute values. */
export function goals(cells: Map<string, Cell>): Goal[] {
  const out: Goal[] = [];
  for (const scenario of ["fan-in", "fan-out"] as const) {
    for (const q of [0, 1, 2] as const) {
      const v = cellRatio(cells, { scenario, qos: q }, "mqgate-memory", "aedes", (c) => c.cpuUsPerMsg.median);
      if (Number.isFinite(v)) out.push({ metric: `CPU/msg, ${scenario} QoS ${q}, vs Aedes`, goal: q === 0 ? "≤ 0.75×" : "≤ 0.90×", value: v, limit: q === 0 ? 0.75 : 0.9 });
    }
  }
  for (const q of [0, 1, 2] as const) {
    const v = cellRatio(cells, { scenario: "latency", qos: q }, "mqgate-memory", "aedes", (c) => c.p99.median);
    if (Number.isFinite(v)) out.push({ metric: `p99 latency QoS ${q}, vs Aedes`, goal: "≤ 1.00×", value: v, limit: 1 });
  }
  const idle = cells.get(cellKey("idle", null, "mqgate-memory"));
  if (idle !== undefined && Number.isFinite(idle.rssPerConnKiB.median)) {
    out.push({ metric: "RSS per idle connection", goal: "≤ 8 KiB", value: idle.rssPerConnKiB.median, limit: 8 });
  }
  return out;
}

export function goalsTable(cells: Map<string, Cell>, idleConnections: number): string | null {
  const g = goals(cells);
  if (g.length === 0) return null;
  return table(
    ["metric", "issue target", "measured", "status"],
    g.map((x) => [
      x.metric === "RSS per idle connection" ? `RSS per idle connection (${fmtNum(idleConnections)} connections)` : x.metric,
      x.goal,
      x.metric.startsWith("RSS") ? `${fmtSig(x.value)} KiB` : fmtRatio(x.value),
      x.value <= x.limit ? "met" : "**not met**",
    ]),
  );
}
