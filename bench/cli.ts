/** The benchmark's command line: options, their checks and the usage text (bench/runner.ts runs them). */
import { parseDeviceRate, parseDevices, parseFleetSeconds } from "./fleet.js";
import { SCENARIO_IDS, type ScenarioId } from "./scenarios.js";
import { TARGET_IDS, type TargetId } from "./targets.js";
import type { QoS } from "./types.js";
import type { Protocol } from "./wire.js";

export interface CliOptions {
  help: boolean;
  full: boolean;
  scenarios: ScenarioId[] | null;
  targets: TargetId[] | null;
  qos: QoS[] | null;
  reps: number | null;
  scale: number;
  connections: number | null;
  rate: number;
  window: number;
  payload: number;
  /** MQTT protocol level of the load generator's clients: 4 (3.1.1) or 5. */
  protocol: Protocol;
  cpuProf: boolean;
  /** Measure again when other processes kept more than this many cores busy (at most `attempts` times). */
  maxBackground: number;
  attempts: number | null;
  /** Before each measurement, wait up to this long for the machine to be quiet (seconds; null = preset). */
  quietWait: number | null;
  /** true / false when given, null for the default (full matrix of a --full run). */
  writeDocs: boolean | null;
  report: string | null;
  profileSummary: string | null;
  out: string | null;
  /** A broker bundle to run as the target mqgate-baseline (A/B against an earlier build). */
  baseline: string | null;
  /** Extra node flags for both mqgate targets (e.g. --trace-gc), split on spaces. */
  mqgateFlags: string[];
  /** Node flags for mqgate-baseline only, after --mqgate-flags (A/B of flags: --baseline dist/broker.mjs). */
  baselineFlags: string[];
  /**
   * Environment for mqgate-baseline only (`--baseline-env "K=V ..."`): an A/B of the process environment on the same
   * build (e.g. `MALLOC_ARENA_MAX=`). An empty value removes the variable from what the broker would otherwise get.
   */
  baselineEnv: Record<string, string>;
  /** The fleet scenario: devices, msg/s per device, measured seconds (null = the preset's 5 s quick, 30 s full). */
  devices: number;
  deviceRate: number;
  fleetSeconds: number | null;
}

export const USAGE = `Usage: node bench/run.mjs [options]      (npm run bench = the quick comparison)

  --full                 the full benchmark: 5 repetitions, more messages, 10,000 idle connections,
                         mqgate-redis in every scenario; rewrites docs/benchmarks.md and the SVG chart
  --scenario LIST        ${SCENARIO_IDS.join(",")}   (default: all)
  --target LIST          ${TARGET_IDS.join(",")}   (default: all available;
                         the quick run uses mqgate-redis only for the store figure unless named here)
  --qos LIST             0,1,2 (default: all)
  --reps N               repetitions (quick 1, full 5)
  --scale F              multiply the message counts of the throughput scenarios (default 1)
  --connections N        idle connections (quick 2000, full 10000)
  --rate N               latency scenario publish rate, msg/s (default 1000)
  --devices N            fleet scenario: devices (default 2000; each needs an open file in the load
                         generator and in the broker: 'ulimit -n' is raised up to the hard limit)
  --device-rate R        fleet scenario: QoS 1 msg/s per device, fractions allowed (default 5)
  --fleet-seconds S      fleet scenario: measured seconds (quick 5, full 30), after a warm-up of at least
                         two publishes per device
  --window N             messages a publisher may have outstanding (default 100)
  --payload N            payload bytes (default 64, at least 16)
  --protocol 4|5         MQTT protocol level of the load generator's clients: 4 = 3.1.1 (default), 5 = MQTT 5
                         (PUBLISH with an empty property block; Aedes, 3.1.1 only, is skipped)
  --max-background C     a measurement during which other processes kept more than C CPU cores busy
                         is taken again when --attempts allows (default 0.5), keeping the quietest
  --attempts N           at most N attempts per measurement (default 1)
  --quiet-wait S         before each measurement, wait up to S seconds for other processes to use at
                         most --max-background cores (quick 0, full 5)
  --cpu-prof             run mqgate from an unminified bundle under node --cpu-prof and print the top
                         self-time functions and source files of each profile (bench/results/profiles/)
  --write-docs / --no-docs   rewrite (or not) docs/benchmarks.md's generated part and docs/benchmarks-ratios.svg
  --out FILE             results JSON (default bench/results/latest-<quick|full|custom>.json)
  --report FILE          no measurement: print and (with --write-docs) publish a saved results JSON
  --profile-summary FILE no measurement: top self-time functions of a .cpuprofile
  --baseline FILE        also run FILE (a broker bundle, e.g. dist/broker.mjs built from an earlier commit)
                         with the memory store as the target mqgate-baseline, interleaved with the others:
                         an A/B comparison of two builds on the same machine in the same run
  --mqgate-flags "F ..."  extra node flags for the mqgate targets (e.g. "--trace-gc"; their output is
                         discarded unless a run fails, so mostly for flags that write files)
  --baseline-flags "F ..."  node flags for mqgate-baseline only: with --baseline dist/broker.mjs, an A/B of
                         node flags (e.g. "--max-semi-space-size=1") on the same build
  --baseline-env "K=V ..."  environment for mqgate-baseline only, over what the broker ships with (an empty
                         value removes the variable: "MALLOC_ARENA_MAX=" runs it with glibc's own arenas)
`;

/** "K=V K2=" → { K: "V", K2: "" }: names as the shell takes them, values without spaces. */
export function parseEnvList(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of text.split(" ").filter((f) => f !== "")) {
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`--baseline-env: '${item}' is not NAME=VALUE`);
    env[name] = item.slice(eq + 1);
  }
  return env;
}

function list<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const i of items) if (!allowed.includes(i as T)) throw new Error(`unknown ${what} '${i}' (one of ${allowed.join(", ")})`);
  if (items.length === 0) throw new Error(`empty ${what} list`);
  return items as T[];
}

function positiveInt(v: string, what: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${what} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    help: false,
    full: false,
    scenarios: null,
    targets: null,
    qos: null,
    reps: null,
    scale: 1,
    connections: null,
    rate: 1000,
    window: 100,
    payload: 64,
    protocol: 4,
    cpuProf: false,
    maxBackground: 0.5,
    attempts: null,
    quietWait: null,
    writeDocs: null,
    report: null,
    profileSummary: null,
    out: null,
    baseline: null,
    mqgateFlags: [],
    baselineFlags: [],
    baselineEnv: {},
    devices: 2000,
    deviceRate: 5,
    fleetSeconds: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "-h":
      case "--help":
        o.help = true;
        break;
      case "--full":
        o.full = true;
        break;
      case "--quick":
        o.full = false;
        break;
      case "--scenario":
      case "--scenarios":
        o.scenarios = list(value(), SCENARIO_IDS, "scenario");
        break;
      case "--target":
      case "--targets":
        o.targets = list(value(), TARGET_IDS, "target");
        break;
      case "--qos":
        o.qos = list(value(), ["0", "1", "2"] as const, "QoS").map(Number) as QoS[];
        break;
      case "--reps":
        o.reps = positiveInt(value(), "--reps");
        break;
      case "--scale": {
        const v = value();
        const n = Number(v);
        if (!(n > 0 && n <= 100)) throw new Error(`--scale must be a number in (0, 100], got '${v}'`);
        o.scale = n;
        break;
      }
      case "--connections":
        o.connections = positiveInt(value(), "--connections");
        break;
      case "--rate": {
        const v = value();
        if (!Number.isInteger(Number(v))) throw new Error(`--rate is the latency scenario's msg/s (an integer); the fleet's rate per device is --device-rate, got '${v}'`);
        o.rate = positiveInt(v, "--rate");
        break;
      }
      case "--devices":
        o.devices = parseDevices(value());
        break;
      case "--device-rate":
        o.deviceRate = parseDeviceRate(value());
        break;
      case "--fleet-seconds":
        o.fleetSeconds = parseFleetSeconds(value());
        break;
      case "--window":
        o.window = positiveInt(value(), "--window");
        if (o.window > 60_000) throw new Error("--window must be at most 60000 (packet ids are 16 bits)");
        break;
      case "--payload":
        o.payload = positiveInt(value(), "--payload", 16);
        break;
      case "--protocol": {
        const v = value();
        if (v !== "4" && v !== "5") throw new Error(`--protocol must be 4 (MQTT 3.1.1) or 5 (MQTT 5), got '${v}'`);
        o.protocol = v === "5" ? 5 : 4;
        break;
      }
      case "--max-background": {
        const v = value();
        const n = Number(v);
        if (!(n >= 0)) throw new Error(`--max-background must be a number ≥ 0, got '${v}'`);
        o.maxBackground = n;
        break;
      }
      case "--quiet-wait": {
        const v = value();
        const n = Number(v);
        if (!(n >= 0 && n <= 600)) throw new Error(`--quiet-wait must be a number of seconds in 0..600, got '${v}'`);
        o.quietWait = n;
        break;
      }
      case "--attempts":
        o.attempts = positiveInt(value(), "--attempts");
        break;
      case "--cpu-prof":
        o.cpuProf = true;
        break;
      case "--write-docs":
        o.writeDocs = true;
        break;
      case "--no-docs":
        o.writeDocs = false;
        break;
      case "--out":
        o.out = value();
        break;
      case "--report":
        o.report = value();
        break;
      case "--profile-summary":
        o.profileSummary = value();
        break;
      case "--baseline":
        o.baseline = value();
        break;
      case "--mqgate-flags":
        o.mqgateFlags = value().split(" ").filter((f) => f !== "");
        break;
      case "--baseline-flags":
        o.baselineFlags = value().split(" ").filter((f) => f !== "");
        break;
      case "--baseline-env":
        o.baselineEnv = parseEnvList(value());
        break;
      default:
        throw new Error(`unknown option '${arg}'`);
    }
  }
  return o;
}
