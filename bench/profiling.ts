/**
 * The runner's --cpu-prof: an unminified broker bundle, so profiles show real names, and the printed summary of a
 * .cpuprofile (also `--profile-summary`), by function and by source file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { bundleSourceMap, type CpuProfile, selfTimes } from "./profile.js";

export function printProfile(path: string, root: string, top = 15): void {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const { rows, totalMs, idleMs } = selfTimes(profile, root);
  console.log(`\nCPU profile ${relative(root, path)}: ${(totalMs / 1000).toFixed(1)} s sampled, ${((idleMs / Math.max(1, totalMs)) * 100).toFixed(0)} % idle`);
  console.log(`${"self ms".padStart(9)} ${"% busy".padStart(7)}  function (location)`);
  // Locations in the unminified broker bundle are shown as the source file esbuild took them from.
  const sources = new Map<string, (line: number) => string | null>();
  const where = (location: string): string => {
    const m = /^(.*\.mjs):(\d+)$/.exec(location);
    if (m === null) return location;
    const file = m[1] as string;
    let lookup = sources.get(file);
    if (lookup === undefined) {
      const abs = file.startsWith("/") ? file : join(root, file);
      lookup = existsSync(abs) && abs.includes("mqgate-bench") ? bundleSourceMap(readFileSync(abs, "utf8")) : () => null;
      sources.set(file, lookup);
    }
    return lookup(Number(m[2])) ?? location;
  };
  for (const r of rows.filter((x) => x.name !== "(idle)").slice(0, top)) {
    console.log(`${r.selfMs.toFixed(0).padStart(9)} ${r.busyPct.toFixed(1).padStart(7)}  ${r.name}${r.location === "" ? "" : ` (${where(r.location)})`}`);
  }
  // The same time by source file (node: internals and native frames by name).
  const byFile = new Map<string, { ms: number; pct: number }>();
  for (const r of rows) {
    if (r.name === "(idle)") continue;
    const file = r.location === "" ? r.name : where(r.location).replace(/:\d+$/, "");
    const e = byFile.get(file) ?? { ms: 0, pct: 0 };
    e.ms += r.selfMs;
    e.pct += r.busyPct;
    byFile.set(file, e);
  }
  console.log(`\n${"self ms".padStart(9)} ${"% busy".padStart(7)}  by file`);
  for (const [file, e] of [...byFile].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`${e.ms.toFixed(0).padStart(9)} ${e.pct.toFixed(1).padStart(7)}  ${file}`);
  }
}

/** An unminified bundle of the broker (same options as scripts/build.mjs otherwise), so profiles show real names. */
export async function buildProfilingBroker(root: string, outfile: string): Promise<void> {
  const { build } = await import("esbuild");
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  await build({
    absWorkingDir: root,
    entryPoints: ["broker/main.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: false,
    sourcemap: false,
    define: { __MQGATE_VERSION__: JSON.stringify(version) },
    banner: { js: "import { createRequire as __mqgateCreateRequire } from 'node:module'; const require = __mqgateCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
}
