/**
 * A child process that answers SIGUSR2 with broker/heap-probe.ts's line on stderr (`mqgate heap <used> total
 * <heapTotal> ...`, after full garbage collections): the broker under bench/conn-memory.ts, and the bare socket
 * server of bench/socket-floor.ts, which prints the same line. Also counts what V8 allocated when the child runs with
 * `--trace-gc-nvp`.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

/** What broker/heap-probe.ts prints on SIGUSR2. */
const PROBE_LINE = /mqgate heap \d+( total \d+)?/g;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident set size of `pid`, in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export class ProbedChild {
  private err = "";
  /** Bytes V8 reported as allocated (`--trace-gc-nvp` on stdout) since the process started. */
  private allocatedTotal = 0;
  private sizeAfterLastGc = 0;
  private gcLine = "";
  constructor(readonly child: ChildProcess) {
    child.stderr?.on("data", (d: Buffer) => (this.err = (this.err + d.toString()).slice(-100_000)));
    child.stdout?.on("data", (d: Buffer) => {
      const lines = (this.gcLine + d.toString()).split("\n");
      this.gcLine = lines.pop() as string;
      for (const line of lines) {
        // V8's own `allocated=` field wraps below zero on some full GCs: count heap growth between GCs instead.
        const m = / total_size_before=(\d+) total_size_after=(\d+)/.exec(line);
        if (m === null) continue;
        this.allocatedTotal += Math.max(0, Number(m[1]) - this.sizeAfterLastGc);
        this.sizeAfterLastGc = Number(m[2]);
      }
    });
  }

  /** Bytes allocated up to the last GC (exact right after `settled()`, which forces one). */
  allocated(): number {
    return this.allocatedTotal;
  }

  output(): string {
    return this.err;
  }

  /** The whole last probe line (a child may add its own fields after the heap figures). */
  lastProbeLine(): string {
    const lines = this.err.split("\n").filter((l) => l.startsWith("mqgate heap"));
    return lines[lines.length - 1] ?? "";
  }

  async until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`broker: no ${what}\n${this.err}`);
      await sleep(20);
    }
  }

  /** Full GC in the broker, then its heap used and committed, and RSS. Two rounds: the second settles what the first freed. */
  async settled(): Promise<{ heap: number; heapTotal: number; rss: number }> {
    let line = "";
    for (let round = 0; round < 2; round++) {
      const seen = (this.err.match(PROBE_LINE) ?? []).length;
      this.child.kill("SIGUSR2");
      await this.until("heap figure", () => (this.err.match(PROBE_LINE) ?? []).length > seen);
      const all = this.err.match(PROBE_LINE) ?? [];
      line = all[all.length - 1] as string;
    }
    // A broker built before the probe printed heapTotal reports 0 for it.
    const m = /mqgate heap (\d+)(?: total (\d+))?/.exec(line) as RegExpExecArray;
    return { heap: Number(m[1]), heapTotal: Number(m[2] ?? 0), rss: rssOf(this.child.pid as number) };
  }
}
