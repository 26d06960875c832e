/**
 * What every load-generator scenario shares: the broker's CPU and RSS over the measured interval (Meter), phases
 * that end on completion, stall, timeout or a dropped connection (watchPhase), and the result record.
 */
import { availableParallelism } from "node:os";
import type { BenchClient } from "./client.js";
import type { DeliverySummary } from "./accounting.js";
import { clkTck, type MachineCpu, sampleMachine, sampleProc, type ProcSample } from "./proc.js";
import { failedMeasurement, type MeasurementResult, type MeasurementSpec, type ProcDelta } from "./types.js";

export const CONNECT_TIMEOUT_MS = 10_000;

/** CPU and RSS of the broker (and side processes) between `start()` and `stop()`. */
export class Meter {
  private before: ProcSample[] = [];
  private readonly pids: { name: string; pid: number }[];
  private cpu0: NodeJS.CpuUsage = process.cpuUsage();
  private t0 = 0;
  private machine0: MachineCpu = { busyMs: 0, totalMs: 0, stealMs: 0 };

  constructor(spec: MeasurementSpec) {
    this.pids = [{ name: "broker", pid: spec.brokerPid }, ...spec.side];
  }

  start(): void {
    this.before = this.pids.map((p) => sampleProc(p.pid));
    this.cpu0 = process.cpuUsage();
    this.machine0 = sampleMachine();
    this.t0 = performance.now();
  }

  /**
   * Ends the measured interval now (elapsed time, load generator CPU), then waits until the broker is quiet
   * (at most one clock tick of CPU in 100 ms, for at most 3 s) before reading its CPU: work a broker defers
   * (acknowledgements still queued in its socket buffers, garbage collection) is charged to the run.
   */
  async stop(): Promise<Measured> {
    const elapsedMs = performance.now() - this.t0;
    const cpu = process.cpuUsage(this.cpu0);
    const brokerPid = this.pids[0]?.pid as number;
    const deadline = performance.now() + 3000;
    let last = sampleProc(brokerPid).cpuMs;
    while (performance.now() < deadline) {
      await sleep(100);
      const now = sampleProc(brokerPid).cpuMs;
      const quiet = now - last <= 1000 / clkTck() + 0.001;
      last = now;
      if (quiet) break;
    }
    const deltas = this.pids.map((p, i): ProcDelta => {
      const after = sampleProc(p.pid);
      const before = this.before[i] as ProcSample;
      return {
        name: p.name,
        cpuMs: after.cpuMs - before.cpuMs,
        userMs: after.userMs - before.userMs,
        systemMs: after.systemMs - before.systemMs,
        rssBeforeBytes: before.rssBytes,
        rssAfterBytes: after.rssBytes,
        readCalls: after.syscr - before.syscr,
        writeCalls: after.syscw - before.syscw,
      };
    });
    // Everything else the machine did meanwhile: its busy time minus the broker's, the side processes' and ours.
    const machine = sampleMachine();
    const own = process.cpuUsage(this.cpu0);
    const wallMs = performance.now() - this.t0;
    const oursMs = deltas.reduce((a, d) => a + d.cpuMs, 0) + (own.user + own.system) / 1000;
    const busyMs = machine.busyMs - this.machine0.busyMs;
    const backgroundCores = wallMs > 0 ? Math.max(0, (busyMs - oursMs) / wallMs) : Number.NaN;
    return {
      broker: deltas[0] as ProcDelta,
      side: deltas.slice(1),
      elapsedMs,
      loadgenCpuPct: elapsedMs > 0 ? ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100 : Number.NaN,
      backgroundCores: Math.min(backgroundCores, availableParallelism()),
    };
  }
}

export interface Measured {
  broker: ProcDelta;
  side: ProcDelta[];
  elapsedMs: number;
  loadgenCpuPct: number;
  /** CPU cores other processes kept busy during the measurement (noise). */
  backgroundCores: number;
}

export type PhaseEnd = "done" | "stalled" | "timeout" | "closed";

/**
 * Waits until `isDone()` while watching progress: ends "stalled" when `progress()` has not moved for
 * `stallMs`, "timeout" after `timeoutMs`, "closed" when `closedError()` reports a dropped connection.
 */
export function watchPhase(
  isDone: () => boolean,
  progress: () => number,
  closedError: () => string | null,
  stallMs: number,
  timeoutMs: number,
): { promise: Promise<PhaseEnd>; poke: () => void } {
  let resolveFn: (end: PhaseEnd) => void = () => {};
  let settled = false;
  const started = performance.now();
  let last = progress();
  let lastAt = started;
  const finish = (end: PhaseEnd) => {
    if (settled) return;
    settled = true;
    clearInterval(timer);
    resolveFn(end);
  };
  const timer = setInterval(() => {
    if (isDone()) return finish("done");
    if (closedError() !== null) return finish("closed");
    const now = performance.now();
    const p = progress();
    if (p !== last) {
      last = p;
      lastAt = now;
    } else if (now - lastAt > stallMs) {
      return finish("stalled");
    }
    if (now - started > timeoutMs) finish("timeout");
  }, 50);
  const promise = new Promise<PhaseEnd>((resolve) => {
    resolveFn = resolve;
  });
  return {
    promise,
    poke: () => {
      if (!settled && isDone()) finish("done");
    },
  };
}

export function phaseError(end: PhaseEnd, what: string, closed: string | null): string | null {
  if (end === "done") return null;
  if (end === "closed") return `${what}: ${closed ?? "a connection closed"}`;
  return `${what}: ${end}`;
}


export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function closeAll(clients: BenchClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close(2000)));
}

export function finishResult(
  error: string | null,
  measured: Measured | null,
  published: number,
  delivered: number,
  delivery: DeliverySummary | null,
  latency: MeasurementResult["latency"],
  idle: MeasurementResult["idle"],
): MeasurementResult {
  if (measured === null) return { ...failedMeasurement(error ?? "no measurement"), delivery };
  const sideCpu = measured.side.reduce((a, s) => a + s.cpuMs, 0);
  return {
    ok: error === null,
    error,
    elapsedMs: measured.elapsedMs,
    published,
    delivered,
    deliveredPerSec: delivered / (measured.elapsedMs / 1000),
    broker: measured.broker,
    side: measured.side,
    cpuUsPerMsg: delivered > 0 ? (measured.broker.cpuMs * 1000) / delivered : Number.NaN,
    sideCpuUsPerMsg: delivered > 0 && measured.side.length > 0 ? (sideCpu * 1000) / delivered : Number.NaN,
    loadgenCpuPct: measured.loadgenCpuPct,
    backgroundCores: measured.backgroundCores,
    delivery,
    latency,
    idle,
  };
}
