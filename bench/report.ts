/** Turns measurements into medians, ratios, Markdown tables and an SVG bar chart (no dependencies). */
import { ratio } from "./accounting.js";
import { fleetConsoleLines, fleetGoalsTable, fleetTable } from "./fleet-report.js";
import { fmtAnomalies, fmtNum, fmtRatio, fmtSig, fmtSpread, type Stat, stat, table, TARGET_LABELS } from "./format.js";
import type { MachineInfo } from "./machine.js";
import { type Row, SCENARIO_IDS, SCENARIO_TITLES, type ScenarioId } from "./scenarios.js";
import { TARGET_IDS, type TargetId } from "./targets.js";
import type { MeasurementResult, QoS } from "./types.js";

export interface RunRecord {
  scenario: ScenarioId;
  qos: QoS | null;
  rep: number;
  target: TargetId;
  /** Attempts made (the quietest one is kept). */
  attempts?: number;
  result: MeasurementResult;
}

export interface BenchSettings {
  mode: string;
  reps: number;
  scale: number;
  payloadSize: number;
  window: number;
  ratePerSecond: number;
  idleConnections: number;
  /** MQTT protocol level of the load generator's clients (absent in results written before `--protocol`: 4). */
  protocol?: 4 | 5;
  targets: TargetId[];
  scenarios: ScenarioId[];
  qos: QoS[];
  redisEverywhere: boolean;
  counts: Record<string, unknown>;
}

export interface BenchResults {
  format: 1;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  settings: BenchSettings;
  runs: RunRecord[];
}

export { fmtNum, fmtRatio, fmtSig, type Stat, stat, TARGET_LABELS } from "./format.js";

export interface Anomalies {
  lost: number;
  duplicates: number;
  reordered: number;
  unexpected: number;
}

export interface Cell {
  scenario: ScenarioId;
  qos: QoS | null;
  target: TargetId;
  runs: number;
  ok: number;
  errors: string[];
  deliveredPerSec: Stat;
  cpuUsPerMsg: Stat;
  sideCpuUsPerMsg: Stat;
  rssAfterMiB: Stat;
  loadgenCpuPct: Stat;
  backgroundCores: Stat;
  p50: Stat;
  p99: Stat;
  /** Worst max latency over the runs. */
  maxLatency: number;
  connectsPerSec: Stat;
  rssPerConnKiB: Stat;
  cpuUsPerConnect: Stat;
  anomalies: Anomalies;
  /** Runs with any loss, duplicate, reordering or unexpected message. */
  anomalousRuns: number;
}

export function cellKey(scenario: ScenarioId, qos: QoS | null, target: TargetId): string {
  return `${scenario}|${qos ?? "-"}|${target}`;
}

export function aggregate(runs: readonly RunRecord[]): Map<string, Cell> {
  const groups = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const k = cellKey(r.scenario, r.qos, r.target);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  const cells = new Map<string, Cell>();
  for (const [k, g] of groups) {
    const first = g[0] as RunRecord;
    const ok = g.filter((r) => r.result.ok).map((r) => r.result);
    const anomalies: Anomalies = { lost: 0, duplicates: 0, reordered: 0, unexpected: 0 };
    let anomalousRuns = 0;
    for (const r of g) {
      const d = r.result.delivery;
      if (d === null) continue;
      anomalies.lost += d.lost;
      anomalies.duplicates += d.duplicates;
      anomalies.reordered += d.reordered;
      anomalies.unexpected += d.unexpected;
      if (d.lost + d.duplicates + d.reordered + d.unexpected > 0) anomalousRuns++;
    }
    const maxes = ok.map((r) => r.latency?.max ?? Number.NaN).filter((x) => Number.isFinite(x));
    cells.set(k, {
      scenario: first.scenario,
      qos: first.qos,
      target: first.target,
      runs: g.length,
      ok: ok.length,
      errors: g.filter((r) => !r.result.ok).map((r) => r.result.error ?? "failed"),
      deliveredPerSec: stat(ok.map((r) => r.deliveredPerSec)),
      cpuUsPerMsg: stat(ok.map((r) => r.cpuUsPerMsg)),
      sideCpuUsPerMsg: stat(ok.map((r) => r.sideCpuUsPerMsg)),
      rssAfterMiB: stat(ok.map((r) => r.broker.rssAfterBytes / 2 ** 20)),
      loadgenCpuPct: stat(ok.map((r) => r.loadgenCpuPct)),
      backgroundCores: stat(ok.map((r) => r.backgroundCores)),
      p50: stat(ok.map((r) => r.latency?.p50 ?? Number.NaN)),
      p99: stat(ok.map((r) => r.latency?.p99 ?? Number.NaN)),
      maxLatency: maxes.length > 0 ? Math.max(...maxes) : Number.NaN,
      connectsPerSec: stat(ok.map((r) => r.idle?.connectsPerSec ?? Number.NaN)),
      rssPerConnKiB: stat(ok.map((r) => (r.idle?.rssPerConnBytes ?? Number.NaN) / 1024)),
      cpuUsPerConnect: stat(ok.map((r) => r.idle?.cpuUsPerConnect ?? Number.NaN)),
      anomalies,
      anomalousRuns,
    });
  }
  return cells;
}

// ---------------------------------------------------------------------------------------------- formatting

function qosList(results: BenchResults): QoS[] {
  return [0, 1, 2].filter((q) => results.settings.qos.includes(q as QoS)) as QoS[];
}

function targetsOf(results: BenchResults): TargetId[] {
  const present = new Set(results.runs.map((r) => r.target));
  return TARGET_IDS.filter((t) => present.has(t));
}

/** Ratio of `target`'s median to the reference target's median for one metric, NaN when either is missing. */
function cellRatio(cells: Map<string, Cell>, row: Row, target: TargetId, ref: TargetId, pick: (c: Cell) => number): number {
  const a = cells.get(cellKey(row.scenario, row.qos, target));
  const b = cells.get(cellKey(row.scenario, row.qos, ref));
  if (a === undefined || b === undefined) return Number.NaN;
  return ratio(pick(a), pick(b));
}

function throughputTable(results: BenchResults, cells: Map<string, Cell>, scenario: ScenarioId): string | null {
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

function latencyTable(results: BenchResults, cells: Map<string, Cell>): string | null {
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

function idleTable(results: BenchResults, cells: Map<string, Cell>): string | null {
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

function storeTable(cells: Map<string, Cell>): string | null {
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

function goalsTable(cells: Map<string, Cell>, idleConnections: number): string | null {
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

export function anomalyLines(runs: readonly RunRecord[]): string[] {
  const lines: string[] = [];
  for (const r of runs) {
    const d = r.result.delivery;
    const bad = d !== null && d.lost + d.duplicates + d.reordered + d.unexpected > 0;
    if (!bad && r.result.ok) continue;
    const what = `${r.scenario}${r.qos === null ? "" : ` QoS ${r.qos}`} ${r.target} (repetition ${r.rep + 1})`;
    const parts: string[] = [];
    if (!r.result.ok) {
      // A failed run's undelivered messages are the ones in flight when it was abandoned: no pair details.
      parts.push(`failed: ${(r.result.error ?? "?").trim().replace(/\s*\n\s*/g, " / ")}`);
      if (d !== null && bad) parts.push(`${d.lost} of ${d.expected} sent not delivered when the run ended, duplicated ${d.duplicates}, reordered ${d.reordered}`);
    } else if (d !== null && bad) {
      parts.push(`lost ${d.lost}, duplicated ${d.duplicates}, reordered ${d.reordered}, unexpected ${d.unexpected} of ${d.expected}`);
      for (const p of d.badPairs.slice(0, 4)) {
        parts.push(
          `pair pub ${p.publisher} → sub ${p.subscriber}: sent ${p.sent}, received ${p.received}, lost ${p.lost}, dup ${p.duplicates}, reordered ${p.reordered}` +
            (p.firstMissing.length > 0 ? ` (first missing seqs ${p.firstMissing.join(", ")})` : ""),
        );
      }
    }
    lines.push(`${what}: ${parts.join("; ")}`);
  }
  return lines;
}

/** The generated part of docs/benchmarks.md. */
export function renderMarkdown(results: BenchResults): string {
  const cells = aggregate(results.runs);
  const m = results.machine;
  const s = results.settings;
  const out: string[] = [];
  out.push(`Measured ${results.startedAt.slice(0, 16).replace("T", " ")} UTC with \`${results.command}\` (${s.mode}: ${s.reps} repetition(s), targets interleaved).`);
  out.push("");
  out.push("| machine | |");
  out.push("| --- | --- |");
  out.push(`| CPUs (\`nproc\`) | ${m.cpus} × ${m.cpuModel} |`);
  out.push(`| memory | ${m.memoryGiB} GiB |`);
  out.push(`| kernel | ${m.kernel} |`);
  out.push(`| Node.js | ${m.node} |`);
  out.push(`| mqgate | ${m.mqgate}, commit ${m.gitCommit} |`);
  out.push(`| Aedes | ${m.aedes} |`);
  out.push(`| Mosquitto | ${m.mosquitto} |`);
  out.push(`| Redis | ${m.redis} |`);
  out.push(`| open files (soft / hard) | ${m.openFilesLimit} |`);
  out.push("");
  out.push(
    `${s.protocol === 5 ? "Clients speak MQTT 5 (`--protocol 5`). " : ""}Payload ${s.payloadSize} bytes; publisher window ${s.window} messages; medians over the repetitions, with min–max in brackets. ` +
      "µs CPU/msg is the broker's utime + stime over the measured interval divided by the messages delivered to subscribers.",
  );
  const bg = stat(results.runs.map((r) => r.result.backgroundCores));
  const retried = results.runs.filter((r) => (r.attempts ?? 1) > 1).length;
  if (bg.n > 0) {
    out.push("");
    out.push(
      `Other processes on the machine kept a median of ${fmtNum(bg.median, 2)} CPU cores busy during the measurements (max ${fmtNum(bg.max, 2)}; column "other load")` +
        (retried > 0 ? `; ${retried} measurement(s) were taken again because of it and the quietest attempt kept.` : "."),
    );
  }
  const anomalies = anomalyLines(results.runs);
  out.push("");
  if (anomalies.length === 0) out.push("**Delivery check:** every run delivered every message exactly once and in order, for every publisher → subscriber pair.");
  else {
    out.push(`**⚠ Delivery check: ${anomalies.length} run(s) lost, duplicated or reordered messages, or failed:**`);
    out.push("");
    for (const l of anomalies) out.push(`- ${l}`);
  }
  const goalsMd = goalsTable(cells, s.idleConnections);
  if (goalsMd !== null) {
    out.push("", "### Issue 7 targets (mqgate with the memory store)", "", goalsMd);
  }
  for (const scenario of SCENARIO_IDS) {
    if (scenario === "latency" || scenario === "idle" || scenario === "fleet") continue;
    const t = throughputTable(results, cells, scenario);
    if (t === null) continue;
    out.push("", `### ${SCENARIO_TITLES[scenario]}`, "", t);
  }
  const lat = latencyTable(results, cells);
  if (lat !== null) out.push("", `### ${SCENARIO_TITLES.latency} (${fmtNum(s.ratePerSecond)} msg/s)`, "", lat);
  const idle = idleTable(results, cells);
  if (idle !== null) out.push("", `### ${SCENARIO_TITLES.idle}`, "", idle);
  const store = storeTable(cells);
  if (store !== null) out.push("", "### Store: memory vs Redis (measured in the same run)", "", store);
  const fleetKey = (t: TargetId) => cellKey("fleet", 1, t);
  const fleet = fleetTable(results.runs, cells, fleetKey);
  if (fleet !== null) out.push("", `### ${SCENARIO_TITLES.fleet}`, "", fleet);
  const fleetGoals = fleetGoalsTable(results.runs, cells, fleetKey);
  if (fleetGoals !== null) out.push("", "### Issue 17 targets (fleet, mqgate with the memory store vs Mosquitto)", "", fleetGoals);
  return out.join("\n");
}

/** One line per row measured with both mqgate-memory and mqgate-baseline (`--baseline`): the A/B ratios. */
export function baselineLines(cells: Map<string, Cell>): string[] {
  const lines: string[] = [];
  for (const scenario of SCENARIO_IDS) {
    for (const q of [null, 0, 1, 2] as const) {
      const a = cells.get(cellKey(scenario, q, "mqgate-memory"));
      const b = cells.get(cellKey(scenario, q, "mqgate-baseline"));
      if (a === undefined || b === undefined) continue;
      const r = (pick: (c: Cell) => number) => fmtRatio(ratio(pick(a), pick(b)));
      const what =
        scenario === "idle"
          ? `RSS/conn ${r((c) => c.rssPerConnKiB.median)} (${fmtSig(a.rssPerConnKiB.median)} vs ${fmtSig(b.rssPerConnKiB.median)} KiB), CPU/connect ${r((c) => c.cpuUsPerConnect.median)}`
          : scenario === "latency"
            ? `p99 ${r((c) => c.p99.median)} (${fmtSig(a.p99.median)} vs ${fmtSig(b.p99.median)} µs), p50 ${r((c) => c.p50.median)}, CPU/msg ${r((c) => c.cpuUsPerMsg.median)}`
            : `CPU/msg ${r((c) => c.cpuUsPerMsg.median)} (${fmtSig(a.cpuUsPerMsg.median)} vs ${fmtSig(b.cpuUsPerMsg.median)} µs), msg/s ${r((c) => c.deliveredPerSec.median)}`;
      lines.push(`  ${scenario}${q === null ? "" : ` QoS ${q}`}: ${what}`);
    }
  }
  return lines;
}

/** Compact tables for the terminal. */
export function renderConsole(results: BenchResults): string {
  const cells = aggregate(results.runs);
  const lines: string[] = [];
  const pad = (v: string, n: number) => v.padStart(n);
  if (results.settings.protocol === 5) lines.push("clients speak MQTT 5 (--protocol 5)");
  lines.push(
    `${"scenario".padEnd(18)} ${"QoS".padEnd(3)} ${"target".padEnd(15)} ${pad("msg/s", 10)} ${pad("µs CPU/msg", 10)} ${pad("vs Aedes", 9)} ${pad("p50 µs", 8)} ${pad("p99 µs", 8)} ${pad("max µs", 8)} ${pad("conn/s", 8)} ${pad("KiB/conn", 8)}  notes`,
  );
  for (const scenario of SCENARIO_IDS) {
    for (const q of [null, 0, 1, 2] as const) {
      for (const t of TARGET_IDS) {
        const c = cells.get(cellKey(scenario, q, t));
        if (c === undefined) continue;
        const row = { scenario, qos: q };
        const vsAedes =
          scenario === "idle"
            ? cellRatio(cells, row, t, "aedes", (x) => x.rssPerConnKiB.median)
            : scenario === "latency"
              ? cellRatio(cells, row, t, "aedes", (x) => x.p99.median)
              : cellRatio(cells, row, t, "aedes", (x) => x.cpuUsPerMsg.median);
        const notes = fmtAnomalies(c).replace(/\*\*/g, "");
        lines.push(
          `${scenario.padEnd(18)} ${(q === null ? "-" : String(q)).padEnd(3)} ${t.padEnd(15)} ${pad(fmtNum(c.deliveredPerSec.median), 10)} ${pad(fmtSig(c.cpuUsPerMsg.median), 10)} ${pad(fmtRatio(vsAedes), 9)} ${pad(fmtSig(c.p50.median), 8)} ${pad(fmtSig(c.p99.median), 8)} ${pad(fmtSig(c.maxLatency), 8)} ${pad(fmtNum(c.connectsPerSec.median), 8)} ${pad(fmtSig(c.rssPerConnKiB.median), 8)}  ${notes === "none" ? "" : notes}`,
        );
      }
    }
  }
  lines.push("(vs Aedes: CPU/msg for throughput and fleet rows, p99 for latency, RSS/conn for idle; lower is better)");
  lines.push(...fleetConsoleLines(results.runs));
  const ab = baselineLines(cells);
  if (ab.length > 0) lines.push("", "A/B, mqgate-memory ÷ mqgate-baseline (medians; lower is better):", ...ab);
  return lines.join("\n");
}

// ------------------------------------------------------------------------------------------------- SVG chart

interface Bar {
  label: string;
  vsAedes: number;
  vsMosquitto: number;
  goal: number | null;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function chartBars(cells: Map<string, Cell>): Bar[] {
  const bars: Bar[] = [];
  const add = (label: string, row: Row, pick: (c: Cell) => number, goal: number | null) => {
    const a = cellRatio(cells, row, "mqgate-memory", "aedes", pick);
    const m = cellRatio(cells, row, "mqgate-memory", "mosquitto", pick);
    if (Number.isFinite(a) || Number.isFinite(m)) bars.push({ label, vsAedes: a, vsMosquitto: m, goal });
  };
  for (const scenario of ["fan-in", "fan-out"] as const) {
    for (const q of [0, 1, 2] as const) add(`CPU/msg ${scenario} QoS ${q}`, { scenario, qos: q }, (c) => c.cpuUsPerMsg.median, q === 0 ? 0.75 : 0.9);
  }
  for (const q of [0, 1, 2] as const) add(`p99 latency QoS ${q}`, { scenario: "latency", qos: q }, (c) => c.p99.median, 1);
  add("RSS per idle connection", { scenario: "idle", qos: null }, (c) => c.rssPerConnKiB.median, null);
  add("CPU/msg persistent fan-in QoS 1", { scenario: "fan-in-persistent", qos: 1 }, (c) => c.cpuUsPerMsg.median, null);
  return bars;
}

/**
 * Horizontal bar chart of mqgate (memory store) ÷ Aedes and ÷ Mosquitto, log scale, 1× marked; shorter is
 * better for every metric shown. Issue 7 targets are drawn as ticks on the Aedes bars.
 */
export function renderSvg(results: BenchResults): string {
  const bars = chartBars(aggregate(results.runs));
  const labelW = 250;
  const plotW = 520;
  const rowH = 34;
  const top = 58;
  const bottom = 58;
  const width = labelW + plotW + 30;
  const height = top + bars.length * rowH + bottom;
  const values = bars.flatMap((b) => [b.vsAedes, b.vsMosquitto]).filter((v) => Number.isFinite(v) && v > 0);
  let lo = Math.min(0.5, ...values);
  let hi = Math.max(2, ...values);
  lo = 2 ** Math.floor(Math.log2(lo));
  hi = 2 ** Math.ceil(Math.log2(hi));
  const x = (v: number) => labelW + ((Math.log2(v) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) * plotW;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">mqgate (memory store) relative to Aedes and Mosquitto — lower is better</text>`);
  parts.push(
    `<text x="${width / 2}" y="38" text-anchor="middle" fill="#555">${escapeXml(`${results.machine.cpus} × ${results.machine.cpuModel}, Node ${results.machine.node}, ${results.settings.mode} run, medians of ${results.settings.reps}; log scale`)}</text>`,
  );
  for (let v = lo; v <= hi + 1e-9; v *= 2) {
    const xv = x(v);
    parts.push(`<line x1="${xv.toFixed(1)}" y1="${top - 6}" x2="${xv.toFixed(1)}" y2="${top + bars.length * rowH}" stroke="${v === 1 ? "#000" : "#ddd"}" stroke-width="${v === 1 ? 1.5 : 1}"/>`);
    const label = v >= 1 ? `${v}×` : `${Number(v.toPrecision(3))}×`;
    parts.push(`<text x="${xv.toFixed(1)}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#333">${label}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${escapeXml(b.label)}</text>`);
    const one = x(1);
    const bar = (v: number, yy: number, color: string) => {
      if (!Number.isFinite(v) || v <= 0) return;
      const xv = Math.min(Math.max(x(v), labelW), labelW + plotW);
      const x0 = Math.min(one, xv);
      const w = Math.max(1, Math.abs(xv - one));
      parts.push(`<rect x="${x0.toFixed(1)}" y="${yy}" width="${w.toFixed(1)}" height="11" fill="${color}"/>`);
      const tx = v >= 1 ? xv + 4 : xv - 4;
      parts.push(`<text x="${tx.toFixed(1)}" y="${yy + 9.5}" font-size="10" text-anchor="${v >= 1 ? "start" : "end"}" fill="#222">${v.toFixed(2)}</text>`);
    };
    bar(b.vsAedes, y + 5, "#3b6fb6");
    bar(b.vsMosquitto, y + 18, "#a0a0a0");
    if (b.goal !== null) {
      const gx = x(b.goal);
      parts.push(`<line x1="${gx.toFixed(1)}" y1="${y + 2}" x2="${gx.toFixed(1)}" y2="${y + 18}" stroke="#d62728" stroke-width="2"/>`);
    }
  });
  const ly = top + bars.length * rowH + 34;
  parts.push(`<rect x="${labelW}" y="${ly}" width="12" height="11" fill="#3b6fb6"/><text x="${labelW + 16}" y="${ly + 10}">÷ Aedes</text>`);
  parts.push(`<rect x="${labelW + 90}" y="${ly}" width="12" height="11" fill="#a0a0a0"/><text x="${labelW + 106}" y="${ly + 10}">÷ Mosquitto</text>`);
  parts.push(`<line x1="${labelW + 200}" y1="${ly - 1}" x2="${labelW + 200}" y2="${ly + 12}" stroke="#d62728" stroke-width="2"/><text x="${labelW + 206}" y="${ly + 10}">issue 7 target vs Aedes</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
