/** The fleet scenario's lines in the terminal and tables in docs/benchmarks.md (issue 17). */
import { ratio } from "./accounting.js";
import { formatBrokerDrops } from "./broker-drops.js";
import { fmtAnomalies, fmtNum, fmtRatio, fmtSig, fmtSpread, type Stat, stat, table, TARGET_LABELS } from "./format.js";
import type { Cell, RunRecord } from "./cells.js";
import { TARGET_IDS, type TargetId } from "./targets.js";
import type { MeasurementResult } from "./types.js";

const MiB = 2 ** 20;

/** One line per fleet measurement, as the runner prints it. */
export function fleetSummaryLine(r: MeasurementResult): string {
  const f = r.fleet;
  if (f === undefined || f === null) return "";
  const parts = [
    `${fmtNum(f.devices)} devices × ${f.ratePerDevice} msg/s`,
    `${fmtNum(r.deliveredPerSec)} msg/s delivered`,
    `${r.cpuUsPerMsg.toFixed(2)} µs CPU/msg`,
  ];
  const split = cpuSplitPerMsg(r);
  if (Number.isFinite(split.user)) parts.push(`${split.user.toFixed(1)} user + ${split.kernel.toFixed(1)} kernel µs/msg`);
  const calls = syscallsPerMsg(r);
  if (Number.isFinite(calls)) parts.push(`${calls.toFixed(2)} read+write calls/msg`);
  if (r.latency !== null) parts.push(`p50 ${(r.latency.p50 / 1000).toFixed(2)} ms, p99 ${(r.latency.p99 / 1000).toFixed(2)} ms, max ${(r.latency.max / 1000).toFixed(2)} ms`);
  const cold = coldPerDeviceBytes(r);
  const coldText = Number.isFinite(cold) ? `; cold ${fmtSig((f.rssColdBytes as number) / MiB)} MiB, ${fmtSig(cold / 1024)} KiB/device above it` : "";
  parts.push(`RSS ${fmtSig(f.rssIdleBytes / MiB)} → ${fmtSig(f.rssConnectedBytes / MiB)} → ${fmtSig(r.broker.rssAfterBytes / MiB)} MiB (${fmtSig(f.rssPerDeviceBytes / 1024)} KiB/device${coldText})`);
  const anon = anonPerDeviceBytes(r);
  if (Number.isFinite(anon)) parts.push(`mapped files ${fmtSig((f.rssFileIdleBytes as number) / MiB)} → ${fmtSig((f.rssFileEndBytes as number) / MiB)} MiB, the rest ${fmtSig(anon / 1024)} KiB/device`);
  if (r.gc !== undefined && r.gc !== null) parts.push(`GC ${r.gc.count} pauses (${r.gc.minor} minor), ${r.gc.totalMs.toFixed(1)} ms total, max ${r.gc.maxMs.toFixed(2)} ms`);
  const drops = formatBrokerDrops(r.brokerDrops);
  if (drops !== "") parts.push(`broker dropped ${drops}`);
  parts.push(`send lag p99 ${f.sendLagP99Ms.toFixed(2)} ms, max ${f.sendLagMaxMs.toFixed(1)} ms`);
  const steal = stealText(f);
  if (steal !== "") parts.push(steal);
  parts.push(`load gen ${r.loadgenCpuPct.toFixed(0)} % CPU`, `other processes ${r.backgroundCores.toFixed(2)} cores`);
  return parts.join(", ");
}

/**
 * Hypervisor steal (bench/steal.ts) and the worst latency of the messages it did not meet; "" for older results or
 * where /proc/stat could not be read.
 */
function stealText(f: NonNullable<MeasurementResult["fleet"]>): string {
  if (f.stealMs === undefined || !Number.isFinite(f.stealMs)) return "";
  const away = f.maxAwayFromStealMs ?? Number.NaN;
  const share = f.awayFromStealShare ?? Number.NaN;
  const awayText = Number.isFinite(away) ? `; worst latency away from steal ${away.toFixed(2)} ms (${(share * 100).toFixed(0)} % of messages)` : "";
  return `hypervisor steal ${fmtSig(f.stealMs)} ms in ${f.stealWindows ?? 0} of the 100 ms samples${awayText}`;
}

/**
 * RSS per device without the mapped files' part (RssFile): what the fleet's growth leaves when the pages of the
 * node binary's code it first ran (V8's optimizing compiler, a one-time cost of any busy Node.js process) are taken
 * out. NaN for results without the split.
 */
export function anonPerDeviceBytes(r: MeasurementResult): number {
  const f = r.fleet;
  if (f === undefined || f === null || f.rssFileIdleBytes === undefined || f.rssFileEndBytes === undefined) return Number.NaN;
  return (r.broker.rssAfterBytes - f.rssFileEndBytes - (f.rssIdleBytes - f.rssFileIdleBytes)) / f.devices;
}

/**
 * RSS per device above the cold baseline, the broker before any message went through it (decision 061): the
 * figure without the message path's warm-up, which also counts what the broker pays once. NaN for results older
 * than the warm-up.
 */
export function coldPerDeviceBytes(r: MeasurementResult): number {
  const f = r.fleet;
  if (f === undefined || f === null || f.rssColdBytes === undefined) return Number.NaN;
  return (r.broker.rssAfterBytes - f.rssColdBytes) / f.devices;
}

/**
 * The broker's read and write system calls per delivered message over the measured interval: a count that does not
 * depend on the machine's other load (NaN when /proc/<pid>/io was unreadable or nothing was delivered).
 */
export function syscallsPerMsg(r: MeasurementResult): number {
  const { readCalls, writeCalls } = r.broker;
  if (readCalls === undefined || writeCalls === undefined || !(r.delivered > 0)) return Number.NaN;
  return (readCalls + writeCalls) / r.delivered;
}

/**
 * The broker's CPU per delivered message split into user space and the kernel (utime and stime): a Node.js broker
 * and Mosquitto spend theirs very differently (docs/benchmarks.md, "Where the fleet's CPU goes"). NaN for results
 * written before the split was recorded.
 */
export function cpuSplitPerMsg(r: MeasurementResult): { user: number; kernel: number } {
  const { userMs, systemMs } = r.broker;
  if (userMs === undefined || systemMs === undefined || !(r.delivered > 0)) return { user: Number.NaN, kernel: Number.NaN };
  return { user: (userMs * 1000) / r.delivered, kernel: (systemMs * 1000) / r.delivered };
}

/** What the fleet adds to a target's cell: memory per device, GC pauses, the load generator's lag. */
export interface FleetCell {
  target: TargetId;
  devices: number;
  ratePerDevice: number;
  /** Before the message path's warm-up (decision 061); n = 0 for older results. */
  rssColdMiB: Stat;
  rssIdleMiB: Stat;
  rssConnectedMiB: Stat;
  rssEndMiB: Stat;
  kibPerDevice: Stat;
  /** KiB per device above the cold baseline (`coldPerDeviceBytes`). */
  coldKibPerDevice: Stat;
  /** KiB per device without the mapped files' part of RSS (`anonPerDeviceBytes`). */
  anonKibPerDevice: Stat;
  gcCount: Stat;
  gcTotalMs: Stat;
  /** Worst single pause over the runs. */
  gcMaxMs: number;
  sendLagP99Ms: Stat;
  /** Hypervisor steal over the measured interval, ms (all CPUs). */
  stealMs: Stat;
  /** The worst latency of the messages no steal window overlapped, over the runs (NaN without steal readings). */
  maxAwayFromStealMs: number;
  /** The smallest share of the messages that figure covered in any run (dropping more long flights lowers a max). */
  minAwayFromStealShare: number;
  /** Broker read + write system calls per delivered message. */
  syscallsPerMsg: Stat;
  /** Broker CPU per delivered message in user space and in the kernel, µs. */
  userUsPerMsg: Stat;
  kernelUsPerMsg: Stat;
}

export function fleetCells(runs: readonly RunRecord[]): Map<TargetId, FleetCell> {
  const out = new Map<TargetId, FleetCell>();
  for (const target of TARGET_IDS) {
    const ok = runs.filter((r) => r.scenario === "fleet" && r.target === target && r.result.ok).map((r) => r.result);
    const first = ok[0]?.fleet;
    if (first === undefined || first === null) continue;
    const pick = (f: (x: MeasurementResult) => number | undefined) => stat(ok.map((x) => f(x) ?? Number.NaN));
    const gcMax = ok.map((x) => x.gc?.maxMs ?? Number.NaN).filter((v) => Number.isFinite(v));
    const away = ok.map((x) => x.fleet?.maxAwayFromStealMs ?? Number.NaN).filter((v) => Number.isFinite(v));
    const shares = ok.map((x) => x.fleet?.awayFromStealShare ?? Number.NaN).filter((v) => Number.isFinite(v));
    out.set(target, {
      target,
      devices: first.devices,
      ratePerDevice: first.ratePerDevice,
      rssColdMiB: pick((x) => (x.fleet?.rssColdBytes ?? Number.NaN) / MiB),
      rssIdleMiB: pick((x) => (x.fleet?.rssIdleBytes ?? Number.NaN) / MiB),
      rssConnectedMiB: pick((x) => (x.fleet?.rssConnectedBytes ?? Number.NaN) / MiB),
      rssEndMiB: pick((x) => x.broker.rssAfterBytes / MiB),
      kibPerDevice: pick((x) => (x.fleet?.rssPerDeviceBytes ?? Number.NaN) / 1024),
      coldKibPerDevice: pick((x) => coldPerDeviceBytes(x) / 1024),
      anonKibPerDevice: pick((x) => anonPerDeviceBytes(x) / 1024),
      gcCount: pick((x) => x.gc?.count),
      gcTotalMs: pick((x) => x.gc?.totalMs),
      gcMaxMs: gcMax.length > 0 ? Math.max(...gcMax) : Number.NaN,
      sendLagP99Ms: pick((x) => x.fleet?.sendLagP99Ms),
      stealMs: pick((x) => x.fleet?.stealMs),
      maxAwayFromStealMs: away.length === ok.length ? Math.max(...away) : Number.NaN,
      minAwayFromStealShare: shares.length === ok.length ? Math.min(...shares) : Number.NaN,
      syscallsPerMsg: pick(syscallsPerMsg),
      userUsPerMsg: pick((x) => cpuSplitPerMsg(x).user),
      kernelUsPerMsg: pick((x) => cpuSplitPerMsg(x).kernel),
    });
  }
  return out;
}

const ms = (us: number) => us / 1000;
const pct = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(0)} %` : "–");

function gcText(f: FleetCell): string {
  if (f.gcCount.n === 0) return "–";
  return `${fmtNum(f.gcCount.median)} / ${fmtSig(f.gcTotalMs.median)} / ${fmtSig(f.gcMaxMs)}`;
}

/** The fleet table: one row per target, from the fleet row's cells (`cellKey("fleet", 1, target)`). */
export function fleetTable(runs: readonly RunRecord[], cells: Map<string, Cell>, key: (t: TargetId) => string): string | null {
  const fleet = fleetCells(runs);
  const mosquitto = cells.get(key("mosquitto"));
  const rows: string[][] = [];
  for (const [t, f] of fleet) {
    const c = cells.get(key(t));
    if (c === undefined) continue;
    rows.push([
      TARGET_LABELS[t],
      `${fmtNum(f.devices)} × ${f.ratePerDevice}`,
      fmtNum(c.deliveredPerSec.median),
      fmtSpread(c.cpuUsPerMsg),
      fmtRatio(ratio(c.cpuUsPerMsg.median, mosquitto?.cpuUsPerMsg.median ?? Number.NaN)),
      f.userUsPerMsg.n > 0 ? `${fmtSig(f.userUsPerMsg.median)} / ${fmtSig(f.kernelUsPerMsg.median)}` : "–",
      f.syscallsPerMsg.n > 0 ? fmtSig(f.syscallsPerMsg.median) : "–",
      fmtSig(ms(c.p50.median)),
      fmtSig(ms(c.p99.median)),
      fmtSig(ms(c.maxLatency)),
      Number.isFinite(f.maxAwayFromStealMs) ? `${fmtSig(f.maxAwayFromStealMs)} (${pct(f.minAwayFromStealShare)} of messages; steal ${fmtSig(f.stealMs.median)} ms)` : "–",
      `${f.rssColdMiB.n > 0 ? `${fmtSig(f.rssColdMiB.median)} → ` : ""}${fmtSig(f.rssIdleMiB.median)} → ${fmtSig(f.rssConnectedMiB.median)} → ${fmtSig(f.rssEndMiB.median)}`,
      fmtSpread(f.kibPerDevice),
      f.coldKibPerDevice.n > 0 ? fmtSpread(f.coldKibPerDevice) : "–",
      f.anonKibPerDevice.n > 0 ? fmtSpread(f.anonKibPerDevice) : "–",
      gcText(f),
      fmtNum(c.loadgenCpuPct.median),
      fmtSig(f.sendLagP99Ms.median),
      fmtNum(c.backgroundCores.median, 2),
      `${c.ok}/${c.runs}`,
      fmtAnomalies(c),
    ]);
  }
  if (rows.length === 0) return null;
  return table(
    [
      "target",
      "devices × msg/s",
      "delivered msg/s",
      "broker µs CPU/msg (min–max)",
      "CPU/msg vs Mosquitto",
      "user / kernel µs/msg",
      "read+write calls/msg",
      "p50 ms",
      "p99 ms",
      "max ms (worst run)",
      "max ms away from hypervisor steal (smallest share of messages it covers; median steal per run, ms)",
      "broker RSS MiB ((cold →) idle → connected → end)",
      "KiB/device (min–max)",
      "KiB/device above cold",
      "without mapped files, KiB/device",
      "GC pauses: count / total ms / max ms",
      "load gen CPU %",
      "send lag p99 ms",
      "other load (cores)",
      "runs ok",
      "anomalies",
    ],
    rows,
  );
}

export interface FleetGoal {
  metric: string;
  goal: string;
  value: string;
  met: boolean;
}

/** Issue 17's "done means" for mqgate (memory store) against Mosquitto in the same run. */
export function fleetGoals(runs: readonly RunRecord[], cells: Map<string, Cell>, key: (t: TargetId) => string): FleetGoal[] {
  const g = cells.get(key("mqgate-memory"));
  const m = cells.get(key("mosquitto"));
  const f = fleetCells(runs).get("mqgate-memory");
  if (g === undefined || f === undefined) return [];
  const out: FleetGoal[] = [];
  if (m !== undefined) {
    const cpu = ratio(g.cpuUsPerMsg.median, m.cpuUsPerMsg.median);
    if (Number.isFinite(cpu)) out.push({ metric: "broker CPU per message vs Mosquitto", goal: "≤ 0.80×", value: fmtRatio(cpu), met: cpu <= 0.8 });
    const p99 = ratio(g.p99.median, m.p99.median);
    if (Number.isFinite(p99)) out.push({ metric: "p99 latency vs Mosquitto", goal: "≤ 1.00×", value: fmtRatio(p99), met: p99 <= 1 });
  }
  if (Number.isFinite(g.maxLatency)) out.push({ metric: "worst latency", goal: "≤ 10 ms", value: `${fmtSig(ms(g.maxLatency))} ms`, met: ms(g.maxLatency) <= 10 });
  // Shown beside it, never instead of it: the worst latency of the messages no hypervisor steal met (bench/steal.ts).
  const away = f.maxAwayFromStealMs;
  if (Number.isFinite(away)) {
    out.push({ metric: "worst latency of the messages no hypervisor steal overlapped (supplementary)", goal: "≤ 10 ms", value: `${fmtSig(away)} ms (${pct(f.minAwayFromStealShare)} of messages)`, met: away <= 10 });
  }
  const kib = f.kibPerDevice.median;
  if (Number.isFinite(kib)) out.push({ metric: "RSS per connected device above idle", goal: "≤ 4 KiB", value: `${fmtSig(kib)} KiB`, met: kib <= 4 });
  // The same above the cold baseline (decision 061): shown, so the warm-up's share is never hidden.
  const cold = f.coldKibPerDevice.median;
  if (Number.isFinite(cold)) out.push({ metric: "RSS per connected device above the cold baseline (before any message)", goal: "≤ 4 KiB", value: `${fmtSig(cold)} KiB`, met: cold <= 4 });
  return out;
}

export function fleetGoalsTable(runs: readonly RunRecord[], cells: Map<string, Cell>, key: (t: TargetId) => string): string | null {
  const goals = fleetGoals(runs, cells, key);
  if (goals.length === 0) return null;
  return table(
    ["metric", "issue target", "measured", "status"],
    goals.map((x) => [x.metric, x.goal, x.value, x.met ? "met" : "**not met**"]),
  );
}

/** Terminal lines for the fleet: RSS per device and GC pauses, which the generic console table has no room for. */
export function fleetConsoleLines(runs: readonly RunRecord[]): string[] {
  const fleet = fleetCells(runs);
  if (fleet.size === 0) return [];
  const lines = ["", "fleet (medians): target, RSS (cold →) idle → connected → end MiB, KiB/device, GC count / total ms / worst pause ms, load generator send lag p99 ms"];
  for (const [t, f] of fleet) {
    const cold = f.rssColdMiB.n > 0 ? `${fmtSig(f.rssColdMiB.median)} → ` : "";
    const coldKib = f.coldKibPerDevice.n > 0 ? `, ${fmtSig(f.coldKibPerDevice.median)} above cold` : "";
    lines.push(`  ${t.padEnd(15)} ${cold}${fmtSig(f.rssIdleMiB.median)} → ${fmtSig(f.rssConnectedMiB.median)} → ${fmtSig(f.rssEndMiB.median)} MiB, ${fmtSig(f.kibPerDevice.median)} KiB/device (${f.anonKibPerDevice.n > 0 ? fmtSig(f.anonKibPerDevice.median) : "–"} without mapped files${coldKib}), GC ${gcText(f)}, send lag ${fmtSig(f.sendLagP99Ms.median)} ms`);
  }
  return lines;
}
