/**
 * One measurement as the runner takes it: a fresh target process, one load generator process, the target stopped;
 * waiting for a quiet machine, choosing the attempt to keep, the open-files limit the children need, and the
 * one-line summary the terminal shows.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { formatBrokerDrops, readBrokerDrops } from "./broker-drops.js";
import { filesNeeded } from "./fleet.js";
import { fleetSummaryLine } from "./fleet-report.js";
import { openFilesLimits, sampleMachine } from "./proc.js";
import { type PlannedRun, type PlanOptions, specFor } from "./scenarios.js";
import { type RunningTarget, startTarget, type TargetOptions } from "./targets.js";
import { failedMeasurement, type MeasurementResult, type MeasurementSpec } from "./types.js";

/** Runs one load generator process; resolves with its result (a failed result when it dies or hangs). */
function runLoadgen(loadgen: string, spec: MeasurementSpec, fileLimit: number | null): Promise<MeasurementResult> {
  const args = [loadgen, JSON.stringify(spec)];
  const [file, argv] = fileLimit === null ? [process.execPath, args] : ["/bin/sh", ["-c", 'ulimit -n "$0" && exec "$@"', String(fileLimit), process.execPath, ...args]];
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(file, argv, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let result: MeasurementResult | null = null;
    const limit = spec.timeoutMs * 2 + 60_000;
    const timer = setTimeout(() => child.kill("SIGKILL"), limit);
    child.on("message", (m) => {
      result = m as MeasurementResult;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (result !== null) resolve(result);
      else resolve(failedMeasurement(`load generator exited (${signal ?? `code ${code}`}) without a result`));
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve(failedMeasurement(`load generator: ${err.message}`));
    });
  });
}

/** CPU cores the machine keeps busy over `ms` (nothing of the benchmark runs while this is called). */
async function machineLoad(ms: number): Promise<number> {
  const a = sampleMachine();
  await new Promise((r) => setTimeout(r, ms));
  const b = sampleMachine();
  const total = b.totalMs - a.totalMs;
  return total > 0 ? ((b.busyMs - a.busyMs) / total) * availableParallelism() : 0;
}

/** Waits until other processes use at most `maxCores` (measured over 500 ms), or `maxWaitMs` has passed. */
export async function waitForQuiet(maxCores: number, maxWaitMs: number): Promise<{ waitedMs: number; load: number }> {
  const t0 = Date.now();
  let load = await machineLoad(500);
  while (load > maxCores && Date.now() - t0 < maxWaitMs) load = await machineLoad(500);
  return { waitedMs: Date.now() - t0, load };
}

/** One measurement: a fresh target process, one load generator run, the target stopped. */
export async function measureOnce(run: PlannedRun, planOpts: PlanOptions, targetOpts: TargetOptions, loadgen: string, fileLimit: number | null): Promise<MeasurementResult> {
  let target: RunningTarget | null = null;
  let gcDir: string | null = null;
  let gcLog: string | null = null;
  try {
    // The fleet reports the GC pauses of the Node.js brokers (mqgate, Aedes) from a log they append to.
    if (run.scenario === "fleet" && run.target !== "mosquitto") {
      gcDir = mkdtempSync(join(tmpdir(), "mqgate-bench-gc-"));
      gcLog = join(gcDir, "gc.log");
    }
    const fleet = run.scenario === "fleet";
    target = await startTarget(run.target, { ...targetOpts, gcLog, metrics: fleet, mosquittoLimits: fleet });
    await new Promise((r) => setTimeout(r, 200));
    const spec = specFor(run, planOpts, { host: "127.0.0.1", port: target.port, brokerPid: target.pid, side: target.side, gcLog });
    const result = await runLoadgen(loadgen, spec, run.scenario === "idle" || run.scenario === "fleet" ? fileLimit : null);
    if (target.metricsPort !== null) {
      result.brokerDrops = await readBrokerDrops(target.metricsPort);
      const drops = formatBrokerDrops(result.brokerDrops);
      if (!result.ok && drops !== "") result.error = `${result.error ?? "failed"} (the broker dropped: ${drops})`;
    }
    const output = target.output().trim();
    if (!result.ok && output !== "") result.error = `${result.error ?? "failed"} (broker output: ${output.split("\n").slice(-3).join(" / ")})`;
    return result;
  } catch (err) {
    return failedMeasurement((err as Error).message);
  } finally {
    await target?.stop();
    if (gcDir !== null) rmSync(gcDir, { recursive: true, force: true });
  }
}

/** The attempt to keep: a successful one over a failed one, then the one with the least background load. */
export function better(a: MeasurementResult, b: MeasurementResult): boolean {
  if (a.ok !== b.ok) return a.ok;
  const x = Number.isFinite(a.backgroundCores) ? a.backgroundCores : Number.POSITIVE_INFINITY;
  const y = Number.isFinite(b.backgroundCores) ? b.backgroundCores : Number.POSITIVE_INFINITY;
  return x < y;
}

export function describeRun(run: PlannedRun): string {
  return `${run.scenario}${run.qos === null ? "" : ` qos${run.qos}`} ${run.target}`;
}

export function summaryLine(r: MeasurementResult): string {
  if (r.fleet !== undefined && r.fleet !== null) return fleetSummaryLine(r);
  if (r.idle !== null) {
    const i = r.idle;
    return `${i.connected}/${i.requested} conns, ${Math.round(i.connectsPerSec)} conn/s, ${(i.rssPerConnBytes / 1024).toFixed(2)} KiB/conn, ${i.cpuUsPerConnect.toFixed(0)} µs CPU/connect, other processes ${r.backgroundCores.toFixed(2)} cores`;
  }
  const parts = [`${Math.round(r.deliveredPerSec).toLocaleString("en-US")} msg/s`, `${r.cpuUsPerMsg.toFixed(2)} µs CPU/msg`];
  if (Number.isFinite(r.sideCpuUsPerMsg)) parts.push(`redis ${r.sideCpuUsPerMsg.toFixed(2)} µs/msg`);
  if (r.latency !== null) parts.push(`p50 ${r.latency.p50.toFixed(0)} µs, p99 ${r.latency.p99.toFixed(0)} µs, max ${r.latency.max.toFixed(0)} µs`);
  parts.push(`load gen ${r.loadgenCpuPct.toFixed(0)} % CPU`, `other processes ${r.backgroundCores.toFixed(2)} cores`);
  return parts.join(", ");
}

/**
 * The open-files limit children need for `connections` sockets (idle connections, fleet devices), or null when
 * the current one will do; throws, saying what to change, when the hard limit is too low.
 */
export function fileLimitFor(connections: number, option: string): number | null {
  const { soft, hard } = openFilesLimits();
  const { limit, error } = filesNeeded(connections, soft, hard);
  if (error !== null) throw new Error(`${error} (${option})`);
  if (limit === null) return null;
  const probe = spawnSync("/bin/sh", ["-c", `ulimit -n ${limit}`], { stdio: "ignore" });
  if (probe.status !== 0) throw new Error(`'ulimit -n ${limit}' is refused (soft limit ${soft}, hard ${hard}); lower ${option} or raise the limit`);
  return limit;
}
