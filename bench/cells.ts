/**
 * The benchmark's results file (BenchResults: settings, machine, one RunRecord per measurement) and its aggregation
 * into cells, one per scenario × QoS × target, with medians over the repetitions and ratios between targets.
 */
import { ratio } from "./accounting.js";
import { stat, type Stat } from "./format.js";
import type { MachineInfo } from "./machine.js";
import type { Row, ScenarioId } from "./scenarios.js";
import type { TargetId } from "./targets.js";
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

/** Ratio of `target`'s median to the reference target's median for one metric, NaN when either is missing. */
export function cellRatio(cells: Map<string, Cell>, row: Row, target: TargetId, ref: TargetId, pick: (c: Cell) => number): number {
  const a = cells.get(cellKey(row.scenario, row.qos, target));
  const b = cells.get(cellKey(row.scenario, row.qos, ref));
  if (a === undefined || b === undefined) return Number.NaN;
  return ratio(pick(a), pick(b));
}
