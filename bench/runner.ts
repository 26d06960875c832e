/**
 * The benchmark runner: builds mqgate, starts every target as its own process on free ports (fresh for every
 * measurement), runs one load generator process per measurement, interleaves the targets across repetitions,
 * and reports medians and ratios (terminal, bench/results/*.json, docs/benchmarks.md, docs/benchmarks-ratios.svg).
 * One measurement is taken in bench/measurement.ts; --cpu-prof's build and summary are in bench/profiling.ts.
 *
 * Entry: bench/run.mjs (bundles bench/*.ts with esbuild, then calls `main`).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describeMachine } from "./machine.js";
import { better, describeRun, fileLimitFor, measureOnce, summaryLine, waitForQuiet } from "./measurement.js";
import { buildProfilingBroker, printProfile } from "./profiling.js";
import { anomalyLines, type BenchResults, type RunRecord, renderConsole, renderMarkdown, renderSvg } from "./report.js";
import { type CliOptions, parseArgs, USAGE } from "./cli.js";
import { PRESETS, plan, type PlanOptions, type PlannedRun, type Preset, SCENARIO_IDS } from "./scenarios.js";
import { killAll, mosquittoAvailable, redisAvailable, TARGET_IDS, type TargetOptions } from "./targets.js";
import type { MeasurementResult } from "./types.js";

export { type CliOptions, parseArgs, USAGE } from "./cli.js";

const GENERATED_START = "<!-- bench:generated:start — written by `node bench/run.mjs --full`; edit the text outside these markers -->";
const GENERATED_END = "<!-- bench:generated:end -->";

/** Replaces the generated part of docs/benchmarks.md (or creates the file with only that part). */
export function spliceGenerated(doc: string | null, generated: string): string {
  const block = `${GENERATED_START}\n\n${generated}\n\n${GENERATED_END}`;
  if (doc === null) return `# Benchmarks\n\n${block}\n`;
  const a = doc.indexOf("<!-- bench:generated:start");
  const b = doc.indexOf(GENERATED_END);
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${block}\n`;
  return doc.slice(0, a) + block + doc.slice(b + GENERATED_END.length);
}

function publishDocs(root: string, results: BenchResults): void {
  const docPath = join(root, "docs", "benchmarks.md");
  const current = existsSync(docPath) ? readFileSync(docPath, "utf8") : null;
  writeFileSync(docPath, spliceGenerated(current, renderMarkdown(results)));
  writeFileSync(join(root, "docs", "benchmarks-ratios.svg"), renderSvg(results));
  console.log(`wrote ${relative(root, docPath)} (generated part) and docs/benchmarks-ratios.svg`);
}

function buildMqgate(root: string): void {
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs"), "--if-stale"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error("node scripts/build.mjs --if-stale failed");
}

export interface MainContext {
  root: string;
  /** The bundled load generator. */
  loadgen: string;
  /** Where bench keeps its build output. */
  cacheDir: string;
  argv: readonly string[];
}

export async function main(ctx: MainContext): Promise<number> {
  const { root } = ctx;
  let opts: CliOptions;
  try {
    opts = parseArgs(ctx.argv);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (opts.profileSummary !== null) {
    printProfile(opts.profileSummary, root);
    return 0;
  }
  if (opts.report !== null) {
    const results = JSON.parse(readFileSync(opts.report, "utf8")) as BenchResults;
    console.log(renderConsole(results));
    if (opts.writeDocs === true) publishDocs(root, results);
    return 0;
  }

  const preset: Preset = opts.full ? PRESETS.full : PRESETS.quick;
  const available = TARGET_IDS.filter((t) => {
    if (t === "mosquitto" && !mosquittoAvailable()) {
      console.log("bench: /usr/sbin/mosquitto not found, skipping the Mosquitto target");
      return false;
    }
    if (t === "mqgate-baseline") {
      if (opts.baseline === null) return false;
      if (!existsSync(opts.baseline)) {
        console.log(`bench: baseline ${opts.baseline} not found, skipping the mqgate-baseline target`);
        return false;
      }
      return true;
    }
    if (t === "aedes" && opts.protocol === 5) {
      if (opts.targets === null || opts.targets.includes("aedes")) console.log("bench: Aedes speaks MQTT 3.1.1 only, skipping the Aedes target (--protocol 5)");
      return false;
    }
    if (t === "mqgate-redis" && !redisAvailable()) {
      console.log("bench: redis-server not found, skipping the mqgate-redis target");
      return false;
    }
    return true;
  });
  const targets = opts.targets === null ? available : opts.targets.filter((t) => available.includes(t));
  if (targets.length === 0) {
    console.error("bench: no target to run");
    return 2;
  }
  const scenarios = opts.scenarios ?? [...SCENARIO_IDS];
  const qos = opts.qos ?? [0, 1, 2];
  const custom =
    opts.scenarios !== null || opts.targets !== null || opts.qos !== null || opts.reps !== null || opts.scale !== 1 || opts.connections !== null || opts.cpuProf || opts.baseline !== null || opts.mqgateFlags.length > 0 ||
    opts.devices !== 2000 || opts.deviceRate !== 5 || opts.fleetSeconds !== null || opts.protocol !== 4;
  const mode = custom ? "custom" : preset.name;
  const planOpts: PlanOptions = {
    preset,
    scenarios,
    qos,
    targets,
    redisEverywhere: opts.full || (opts.targets?.includes("mqgate-redis") ?? false),
    reps: opts.reps ?? preset.reps,
    scale: opts.scale,
    payloadSize: opts.payload,
    window: opts.window,
    ratePerSecond: opts.rate,
    idleConnections: opts.connections ?? preset.idleConnections,
    protocol: opts.protocol,
    // An explicit --qos list applies to the persistent scenario too.
    persistentQos: opts.qos ?? preset.persistentQos,
    devices: opts.devices,
    deviceRate: opts.deviceRate,
    fleetSeconds: opts.fleetSeconds,
  };
  const runs = plan(planOpts);
  if (runs.length === 0) {
    console.error("bench: nothing to run for this selection");
    return 2;
  }
  let fileLimit: number | null = null;
  try {
    const idle = scenarios.includes("idle") ? planOpts.idleConnections : 0;
    const fleet = scenarios.includes("fleet") ? planOpts.devices : 0;
    if (idle + fleet > 0) fileLimit = fileLimitFor(Math.max(idle, fleet), fleet > idle ? "--devices" : "--connections");
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }

  buildMqgate(root);
  const targetOpts: TargetOptions = {
    root,
    mqgateScript: join(root, "dist", "broker.mjs"),
    mqgateNodeFlags: [...opts.mqgateFlags],
    baselineScript: opts.baseline === null ? null : resolve(opts.baseline),
    baselineNodeFlags: [...opts.baselineFlags],
    baselineEnv: { ...opts.baselineEnv },
    fileLimit,
  };
  let profileDir: string | null = null;
  if (opts.cpuProf) {
    profileDir = join(root, "bench", "results", "profiles", new Date().toISOString().replace(/[:.]/g, "-"));
    mkdirSync(profileDir, { recursive: true });
    targetOpts.mqgateScript = join(ctx.cacheDir, "broker-unminified.mjs");
    await buildProfilingBroker(root, targetOpts.mqgateScript);
    targetOpts.mqgateNodeFlags = [...opts.mqgateFlags, "--cpu-prof", `--cpu-prof-dir=${profileDir}`, "--cpu-prof-interval=250"];
  }

  const command = `node bench/run.mjs${ctx.argv.length > 0 ? ` ${ctx.argv.join(" ")}` : ""}`;
  const startedAt = new Date().toISOString();
  const level = planOpts.protocol === 5 ? "MQTT 5" : "MQTT 3.1.1";
  console.log(`bench: ${mode} run, ${runs.length} measurements (${planOpts.reps} repetition(s); targets ${targets.join(", ")}; clients speak ${level}); each target is a fresh process per measurement`);
  const records: RunRecord[] = [];
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    console.error("\nbench: interrupted, stopping after the current measurement (Ctrl-C again to abort now)");
    process.once("SIGINT", () => {
      killAll();
      process.exit(130);
    });
  };
  process.once("SIGINT", onSigint);
  const started = Date.now();
  for (let i = 0; i < runs.length && !interrupted; i++) {
    const run = runs[i] as PlannedRun;
    const prefix = `[${String(i + 1).padStart(String(runs.length).length)}/${runs.length}] rep ${run.rep + 1} ${describeRun(run)}`;
    const maxAttempts = opts.attempts ?? 1;
    const quietWaitMs = (opts.quietWait ?? (opts.full ? 5 : 0)) * 1000;
    let result: MeasurementResult | null = null;
    let attempts = 0;
    while (attempts < maxAttempts && !interrupted) {
      attempts++;
      if (quietWaitMs > 0) {
        const { waitedMs, load } = await waitForQuiet(opts.maxBackground, quietWaitMs);
        if (waitedMs >= 1000) console.log(`${prefix}: waited ${(waitedMs / 1000).toFixed(0)} s for other processes (now ${load.toFixed(2)} cores)`);
      }
      const attempt = await measureOnce(run, planOpts, targetOpts, ctx.loadgen, fileLimit);
      if (result === null || better(attempt, result)) result = attempt;
      const bg = attempt.backgroundCores;
      if (!(bg > opts.maxBackground) || attempts >= maxAttempts) break;
      console.log(`${prefix}: other processes kept ${bg.toFixed(2)} cores busy (> ${opts.maxBackground}), measuring again`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    if (result === null) break;
    records.push({ scenario: run.scenario, qos: run.qos, rep: run.rep, target: run.target, attempts, result });
    const d = result.delivery;
    const bad = d !== null && d.lost + d.duplicates + d.reordered + d.unexpected > 0;
    if (!result.ok) console.log(`${prefix}: FAILED ${result.error ?? ""}`);
    else console.log(`${prefix}: ${summaryLine(result)}`);
    if (bad && d !== null) {
      console.log(`!!!!! ${prefix}: LOST ${d.lost}, DUPLICATED ${d.duplicates}, REORDERED ${d.reordered}, UNEXPECTED ${d.unexpected} (of ${d.expected} expected) !!!!!`);
    }
  }
  process.off("SIGINT", onSigint);

  const results: BenchResults = {
    format: 1,
    command,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: describeMachine(root),
    settings: {
      mode,
      reps: planOpts.reps,
      scale: planOpts.scale,
      payloadSize: planOpts.payloadSize,
      window: planOpts.window,
      ratePerSecond: planOpts.ratePerSecond,
      idleConnections: planOpts.idleConnections,
      protocol: planOpts.protocol,
      targets: [...targets],
      scenarios: [...scenarios],
      qos: [...qos],
      redisEverywhere: planOpts.redisEverywhere,
      counts: {
        fanIn: preset.fanIn,
        fanOut: preset.fanOut,
        persistent: preset.persistent,
        latency: preset.latency,
        fleet: { devices: planOpts.devices, ratePerDevice: planOpts.deviceRate, warmupMs: preset.fleet.warmupMs, durationMs: (planOpts.fleetSeconds ?? preset.fleet.durationMs / 1000) * 1000 },
        storeRows: "fan-in and fan-in-persistent at QoS 1",
      },
    },
    runs: records,
  };
  const outPath = opts.out ?? join(root, "bench", "results", `latest-${mode}.json`);
  mkdirSync(join(outPath, ".."), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(results, null, 1)}\n`);
  console.log(`\n${renderConsole(results)}`);
  console.log(`\nbench: ${records.length} measurements in ${Math.round((Date.now() - started) / 1000)} s; results in ${relative(root, outPath)}`);

  const anomalies = anomalyLines(records);
  if (anomalies.length > 0) {
    console.log(`\n!!!!! ${anomalies.length} run(s) lost, duplicated or reordered messages, or failed:`);
    for (const l of anomalies) console.log(`!!!!! ${l}`);
  }
  const writeDocs = opts.writeDocs ?? (mode === "full" && !interrupted);
  if (writeDocs) publishDocs(root, results);
  if (profileDir !== null) {
    for (const f of readdirSync(profileDir).filter((n) => n.endsWith(".cpuprofile"))) printProfile(join(profileDir, f), root);
  }
  return anomalies.length > 0 || interrupted ? 1 : 0;
}
