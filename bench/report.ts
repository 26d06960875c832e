/**
 * The benchmark's report: the generated part of docs/benchmarks.md (renderMarkdown, from the tables of tables.ts)
 * and the terminal's table (renderConsole). Re-exported here: the results' types and cells (cells.ts), the SVG
 * chart (chart.ts), the issue 7 targets (tables.ts). No dependencies.
 */
import { ratio } from "./accounting.js";
import { aggregate, type BenchResults, type Cell, cellKey, cellRatio, type RunRecord } from "./cells.js";
import { fleetConsoleLines, fleetGoalsTable, fleetTable } from "./fleet-report.js";
import { fmtAnomalies, fmtNum, fmtRatio, fmtSig, stat } from "./format.js";
import { SCENARIO_IDS, SCENARIO_TITLES } from "./scenarios.js";
import { goalsTable, idleTable, latencyTable, storeTable, throughputTable } from "./tables.js";
import { TARGET_IDS, type TargetId } from "./targets.js";

export { aggregate, type Anomalies, type BenchResults, type BenchSettings, type Cell, cellKey, type RunRecord } from "./cells.js";
export { chartBars, renderSvg } from "./chart.js";
export { fmtNum, fmtRatio, fmtSig, type Stat, stat, TARGET_LABELS } from "./format.js";
export { goals } from "./tables.js";

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
