import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, release, totalmem } from "node:os";
import { join } from "node:path";
import { MOSQUITTO_PATH, mosquittoAvailable } from "./targets.js";

/** What the numbers were measured on, written next to them. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  mqgate: string;
  gitCommit: string;
  aedes: string;
  mosquitto: string;
  redis: string;
  openFilesLimit: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd });
  if (r.error !== undefined) return "";
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
}

function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

export function describeMachine(root: string): MachineInfo {
  let cpuModel = "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m !== null) cpuModel = (m[1] as string).trim();
  } catch {
    // not Linux
  }
  const mosq = mosquittoAvailable() ? (/mosquitto version (\S+)/.exec(run(MOSQUITTO_PATH, ["-h"]))?.[1] ?? "unknown") : "not installed";
  const redis = /v=(\S+)/.exec(run("redis-server", ["--version"]))?.[1] ?? "not installed";
  const commit = run("git", ["rev-parse", "--short", "HEAD"], root) || "unknown";
  const dirty = run("git", ["status", "--porcelain", "--untracked-files=no"], root) !== "";
  let mqgate = "unknown";
  try {
    mqgate = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    // keep unknown
  }
  let limit = "unknown";
  try {
    limit = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.slice(1, 3).join(" / ") ?? "unknown";
  } catch {
    // keep unknown
  }
  return {
    cpus: availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    mqgate,
    gitCommit: dirty ? `${commit} (with uncommitted changes)` : commit,
    aedes: packageVersion(root, "aedes"),
    mosquitto: mosq,
    redis,
    openFilesLimit: limit,
  };
}
