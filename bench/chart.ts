/** The SVG bar chart of docs/benchmarks-ratios.svg: mqgate (memory store) ÷ Aedes and ÷ Mosquitto, log scale. */
import { aggregate, type BenchResults, type Cell, cellRatio } from "./cells.js";
import type { Row } from "./scenarios.js";

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
