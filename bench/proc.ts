import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** CPU time and memory of another process, read from /proc (Linux only). */
export interface ProcSample {
  /** utime + stime in milliseconds. */
  cpuMs: number;
  /** utime alone (user space), ms. */
  userMs: number;
  /** stime alone (the kernel, on the process's behalf: system calls, and the loopback delivery its writes cause), ms. */
  systemMs: number;
  /** VmRSS in bytes. */
  rssBytes: number;
  /** When the sample was taken, performance.now() ms. */
  at: number;
  /**
   * Read and write system calls so far (/proc/<pid>/io syscr, syscw: read/recvmsg/... and write/writev/...), NaN when
   * unreadable. Counts do not depend on what else the machine does, unlike CPU time.
   */
  syscr: number;
  syscw: number;
}

let clockTicks: number | null = null;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on nearly every Linux). */
export function clkTck(): number {
  if (clockTicks === null) {
    try {
      const v = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
      clockTicks = Number.isInteger(v) && v > 0 ? v : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime and stime of `pid` in ticks, from /proc/<pid>/stat (fields 14 and 15, counted after the `(comm)`). */
export function parseStatTimes(stat: string): { user: number; system: number } {
  const close = stat.lastIndexOf(")");
  if (close < 0) throw new Error("unexpected /proc/<pid>/stat format");
  // After ") " come field 3 (state) onwards; utime is field 14, stime field 15.
  const fields = stat.slice(close + 2).split(" ");
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error("unexpected /proc/<pid>/stat format");
  return { user: utime, system: stime };
}

/** VmRSS in bytes from the text of /proc/<pid>/status. */
export function parseStatusRss(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null) throw new Error("no VmRSS in /proc/<pid>/status");
  return Number(m[1]) * 1024;
}

/**
 * RssFile in bytes from the text of /proc/<pid>/status: the part of RSS that is mapped files, for a Node.js process
 * mostly the pages of the node binary's own code it has run (NaN when the kernel does not report it).
 */
export function parseStatusRssFile(status: string): number {
  const m = /^RssFile:\s+(\d+)\s+kB/m.exec(status);
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

/** RssFile of `pid` in bytes (NaN when it cannot be read). */
export function rssFileOf(pid: number): number {
  try {
    return parseStatusRssFile(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return Number.NaN;
  }
}

/** syscr and syscw from the text of /proc/<pid>/io (NaN for a missing field). */
export function parseIoCalls(io: string): { syscr: number; syscw: number } {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(io);
    return m === null ? Number.NaN : Number(m[1]);
  };
  return { syscr: field("syscr"), syscw: field("syscw") };
}

function readIoCalls(pid: number): { syscr: number; syscw: number } {
  try {
    return parseIoCalls(readFileSync(`/proc/${pid}/io`, "utf8"));
  } catch {
    return { syscr: Number.NaN, syscw: Number.NaN };
  }
}

export function sampleProc(pid: number): ProcSample {
  const at = performance.now();
  const { user, system } = parseStatTimes(readFileSync(`/proc/${pid}/stat`, "utf8"));
  const rssBytes = parseStatusRss(readFileSync(`/proc/${pid}/status`, "utf8"));
  const msPerTick = 1000 / clkTck();
  return { cpuMs: (user + system) * msPerTick, userMs: user * msPerTick, systemMs: system * msPerTick, rssBytes, at, ...readIoCalls(pid) };
}

/** The soft and hard limits on open files of this process, from /proc/self/limits (Infinity when unlimited). */
export function openFilesLimits(): { soft: number; hard: number } {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m === null) return { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
    const n = (v: string | undefined) => (v === "unlimited" || v === undefined ? Number.POSITIVE_INFINITY : Number(v));
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
  }
}

/** Busy and total CPU time of the whole machine (all CPUs), from the first line of /proc/stat, in ms. */
export interface MachineCpu {
  busyMs: number;
  totalMs: number;
  /** The part of busy the hypervisor took (steal, bench/steal.ts). */
  stealMs: number;
}

/** Parses the aggregate `cpu` line of /proc/stat: busy = user + nice + system + irq + softirq + steal. */
export function parseProcStat(text: string): MachineCpu {
  const line = text.split("\n", 1)[0] ?? "";
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (line.startsWith("cpu ") === false || f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error("unexpected /proc/stat format");
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  const ms = 1000 / clkTck();
  return { busyMs: busy * ms, totalMs: (busy + idle + iowait) * ms, stealMs: steal * ms };
}

export function sampleMachine(): MachineCpu {
  return parseProcStat(readFileSync("/proc/stat", "utf8"));
}
