/** Number formatting, Markdown tables and the small statistics the benchmark reports share. */
import { median } from "./accounting.js";
import type { Cell } from "./cells.js";
import type { TargetId } from "./targets.js";

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stat(values: readonly number[]): Stat {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

export function fmtNum(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return "–";
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Two or three significant-ish digits: 0.123, 1.23, 12.3, 123. */
export function fmtSig(x: number): string {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  if (a >= 100) return fmtNum(x, 0);
  if (a >= 10) return fmtNum(x, 1);
  if (a >= 1) return fmtNum(x, 2);
  return fmtNum(x, 3);
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "–";
}

export function fmtSpread(s: Stat): string {
  if (s.n === 0) return "–";
  if (s.n === 1) return fmtSig(s.median);
  return `${fmtSig(s.median)} (${fmtSig(s.min)}–${fmtSig(s.max)})`;
}

export function fmtAnomalies(c: Cell): string {
  const a = c.anomalies;
  const parts: string[] = [];
  if (a.lost > 0) parts.push(`lost ${a.lost}`);
  if (a.duplicates > 0) parts.push(`dup ${a.duplicates}`);
  if (a.reordered > 0) parts.push(`reordered ${a.reordered}`);
  if (a.unexpected > 0) parts.push(`unexpected ${a.unexpected}`);
  const failed = c.runs - c.ok;
  if (failed > 0) parts.push(`${failed} run(s) failed`);
  return parts.length === 0 ? "none" : `**⚠ ${parts.join(", ")}**`;
}

export const TARGET_LABELS: Record<TargetId, string> = {
  "mqgate-memory": "mqgate (memory store)",
  "mqgate-baseline": "mqgate baseline (memory store)",
  "mqgate-redis": "mqgate (Redis store)",
  aedes: "Aedes",
  mosquitto: "Mosquitto",
};

export function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map((h) => (/^(QoS|target|store|scenario|metric|status|anomalies|issue target)/.test(h) ? "---" : "---:")).join(" | ")} |`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}
