import { ALL_FAULTS, CI_FAULTS, type FaultFlags } from "./flags.js";
import { runSimulation, type SimResult } from "./run.js";

/**
 * `npm run sim -- [--seeds N] [--from S] [--seed S] [--faults all|ci|ci,name|name,name] [--verbose] [--classify]`: runs seeded
 * simulations and prints every violation with its seed (rerun one with --seed S --verbose for its fault log).
 */
export async function main(argv: string[]): Promise<number> {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const verbose = argv.includes("--verbose");
  const classify = argv.includes("--classify");
  const allShapes = new Map<string, { violations: number; seeds: number[] }>();
  const one = arg("seed");
  const from = Number(arg("from") ?? 1);
  const count = one !== undefined ? 1 : Number(arg("seeds") ?? 100);
  const first = one !== undefined ? Number(one) : from;
  const faults = parseFaults(arg("faults") ?? "ci");
  console.log(`faults: ${Object.entries(faults).filter(([, on]) => on).map(([k]) => k).join(", ") || "none"}`);
  const byKind = new Map<string, number[]>();
  let failed = 0;
  let windowed = 0;
  const windowSeeds: number[] = [];
  const started = performance.now();
  for (let seed = first; seed < first + count; seed++) {
    let result: SimResult;
    try {
      result = await runSimulation({ seed, faults, classify });
    } catch (err) {
      console.log(`seed ${seed}: the run itself failed: ${(err as Error).stack ?? String(err)}`);
      failed++;
      continue;
    }
    const v = result.violations;
    if (v.length > 0) failed++;
    if (result.window.length > 0) {
      windowed += result.window.length;
      windowSeeds.push(seed);
    }
    for (const kind of new Set(v.map((x) => x.kind))) byKind.set(kind, [...(byKind.get(kind) ?? []), seed]);
    for (const [shape, n] of result.shapes ?? []) {
      const s = allShapes.get(shape) ?? { violations: 0, seeds: [] };
      s.violations += n;
      s.seeds.push(seed);
      allShapes.set(shape, s);
    }
    if (v.length > 0 || verbose) {
      console.log(`seed ${seed}: ${v.length} violations (${result.published} published, ${result.acknowledged} acknowledged, ${result.receipts} receipts, ${result.overlaps} overlaps, ${result.events} events, ${Math.round(result.virtualMs / 1000)} s virtual)`);
      if (result.shapes !== undefined) console.log(`  shapes: ${[...result.shapes].map(([k, n]) => `${k} ${n}`).join(", ")}`);
      for (const x of v.slice(0, verbose ? 1000 : 5)) console.log(`  ${x.kind}: ${x.detail}`);
      if (verbose) for (const line of result.window) console.log(`  window: ${line}`);
      if (verbose) for (const line of result.log) console.log(`    | ${line}`);
      if (verbose) for (const line of result.notes ?? []) console.log(`    = ${line}`);
    }
  }
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${count} seeds in ${secs} s: ${failed} with violations`);
  if (windowed > 0) console.log(`  decision 038's window (not violations): ${windowed} late deliveries in ${windowSeeds.length} seeds, e.g. ${windowSeeds.slice(0, 10).join(" ")}`);
  for (const [kind, seeds] of byKind) console.log(`  ${kind}: ${seeds.length} seeds, e.g. ${seeds.slice(0, 10).join(" ")}`);
  for (const [shape, s] of allShapes) console.log(`  shape ${shape}: ${s.violations} violations in ${s.seeds.length} seeds, e.g. ${s.seeds.slice(0, 10).join(" ")}`);
  return failed > 0 ? 1 : 0;
}

/** `all`, `ci`, or fault kinds, comma-separated; `ci,storeOutages`: the CI set and one more kind (as sim.test.ts runs them). */
function parseFaults(spec: string): FaultFlags {
  if (spec === "all") return { ...ALL_FAULTS };
  const flags = Object.fromEntries(Object.keys(ALL_FAULTS).map((k) => [k, false])) as unknown as FaultFlags;
  for (const name of spec.split(",")) {
    if (name === "ci") {
      Object.assign(flags, CI_FAULTS);
      continue;
    }
    if (!(name in flags)) throw new Error(`unknown fault ${name}; one of ci, ${Object.keys(ALL_FAULTS).join(", ")}`);
    (flags as unknown as Record<string, boolean>)[name] = true;
  }
  return flags;
}
