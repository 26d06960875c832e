import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generate } from "mqtt-packet";
import { brokerNodeFlags, withBrokerEnv } from "../broker/node-flags.js";
import { hashPbkdf2, PBKDF2_DEFAULTS } from "../core/auth/mosquitto-hash.js";
import { freePort } from "../scripts/lib/ports.js";
import { summarizeLatencies, type LatencySummary } from "./accounting.js";

/**
 * Reconnect storm: `devices` devices with valid credentials (random 32-byte tokens, hashed with
 * `npm run passwd -- --pbkdf2`'s default: PBKDF2-SHA512, 1,000 iterations) connect at once to one broker node,
 * as after the loss of the node they were on. A device whose CONNECT is refused (0x03) or whose socket is closed
 * (per-address limits) retries after 1 s plus up to 1 s of jitter, like a client with a reconnect period. The
 * figure: time from the start until every device holds a connection, and CONNACK latency percentiles.
 *
 * Modes: "spread" binds the devices to `addresses` source addresses of 127.0.0.0/8 (default limits apply, as
 * devices behind many NATs would meet them); "one" connects every device from 127.0.0.1 with the per-address
 * limits off (the authentication queue alone). The broker runs as `node dist/broker.mjs` in its own process.
 */

interface Args {
  devices: number;
  addresses: number;
  modes: ("spread" | "one")[];
  out: string | null;
  /** Extra `auth` settings for the broker (`--auth maxPendingAuth=5000`), written to a config file. */
  auth: Record<string, number>;
  /** Extra node flags for the broker (`--broker-flags "--max-semi-space-size=2"`), split on spaces. */
  brokerFlags: string[];
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const mode = get("mode") ?? "both";
  return {
    devices: Number(get("devices") ?? 20_000),
    addresses: Number(get("addresses") ?? 200),
    modes: mode === "both" ? ["spread", "one"] : [mode as "spread" | "one"],
    out: get("out") ?? null,
    auth: Object.fromEntries(
      argv.flatMap((a, i) => (a === "--auth" ? [argv[i + 1] ?? ""] : [])).map((kv) => {
        const [k = "", v = ""] = kv.split("=");
        return [k, Number(v)];
      }),
    ),
    brokerFlags: (get("broker-flags") ?? "").split(" ").filter((f) => f !== ""),
  };
}

export interface StormResult {
  mode: "spread" | "one";
  devices: number;
  addresses: number;
  /** ms from the start until the last device got CONNACK 0x00; null if not all connected in time. */
  allConnectedMs: number | null;
  connected: number;
  attempts: number;
  refused03: number;
  closedWithoutConnack: number;
  /** Socket errors seen by the devices, by code (e.g. EADDRNOTAVAIL: the load generator ran out of ports). */
  errors: Record<string, number>;
  /** Per successful attempt: socket opened -> CONNACK 0x00 (ms). */
  attemptLatency: LatencySummary;
  /** Per device: start of the storm -> connected (ms). */
  deviceLatency: LatencySummary;
  brokerMetrics: Record<string, number>;
}

const LIMIT_MS = 120_000;

/** `node -e` body that runs this bundle's main() in a child process (argv: bundle path, then the arguments). */
const WORKER_ENTRY = "import(require('node:url').pathToFileURL(process.argv[1]).href).then(async (m) => process.exit(await m.main(process.argv.slice(2), process.argv[1])))";

// ---- worker: the devices --------------------------------------------------------------------------------

interface WorkerSpec {
  port: number;
  /** Devices [from, to) of this worker. */
  from: number;
  to: number;
  addresses: number;
  mode: "spread" | "one";
  /** Epoch ms at which every worker starts its devices. */
  startAt: number;
  tokens: string[];
}

/** What one worker saw; the orchestrator merges the workers'. */
interface WorkerResult {
  attemptMs: number[];
  deviceMs: number[];
  attempts: number;
  refused03: number;
  closedWithoutConnack: number;
  errors: Record<string, number>;
}

function sourceAddress(i: number, spec: WorkerSpec): string {
  if (spec.mode === "one") return "127.0.0.1";
  const a = i % spec.addresses;
  return `127.10.${a >> 8}.${(a & 255) + 1}`;
}

async function runDevices(spec: WorkerSpec): Promise<WorkerResult> {
  const attemptMs: number[] = [];
  const deviceMs: number[] = [];
  let attempts = 0;
  let refused03 = 0;
  let closedWithoutConnack = 0;
  const errors: Record<string, number> = {};
  let connected = 0;
  const count = spec.to - spec.from;
  await new Promise((r) => setTimeout(r, Math.max(0, spec.startAt - Date.now())));
  // Times are relative to the common start, on the wall clock shared with the other workers.
  const start = spec.startAt - performance.timeOrigin;
  const sockets: Socket[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));

  const attempt = (i: number): void => {
    attempts++;
    const opened = performance.now();
    let answered = false;
    const s = connect({ port: spec.port, host: "127.0.0.1", localAddress: sourceAddress(i, spec) });
    s.setNoDelay(true);
    s.on("connect", () => {
      s.write(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: `dev-${i}`, username: `dev-${i}`, password: Buffer.from(spec.tokens[i]!) }));
    });
    s.on("data", (d: Buffer) => {
      if (answered || d[0] !== 0x20) return;
      answered = true;
      if (d[3] === 0) {
        const now = performance.now();
        attemptMs.push(now - opened);
        deviceMs.push(now - start);
        sockets[i] = s;
        if (++connected === count) finish();
      } else {
        if (d[3] === 3) refused03++;
        s.destroy();
      }
    });
    s.on("error", (err: NodeJS.ErrnoException) => {
      const code = err.code ?? "other";
      errors[code] = (errors[code] ?? 0) + 1;
    });
    s.on("close", () => {
      if (sockets[i] === s) return; // connected devices stay (until the end)
      if (!answered) closedWithoutConnack++;
      if (performance.now() - start < LIMIT_MS) setTimeout(attempt, 1000 + Math.random() * 1000, i);
    });
  };
  for (let i = spec.from; i < spec.to; i++) {
    attempt(i);
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const timer = setTimeout(finish, LIMIT_MS);
  await done;
  clearTimeout(timer);
  for (const s of sockets) s?.destroy();
  return { attemptMs, deviceMs, attempts, refused03, closedWithoutConnack, errors };
}

/** Devices per worker process: each holds one descriptor per device, under the per-process limit. */
const DEVICES_PER_WORKER = 10_000;

// ---- orchestration --------------------------------------------------------------------------------------

function brokerFiles(devices: number): number {
  return devices + 100;
}

/** Runs `node args` with `ulimit -n` raised (the broker and the devices each hold one descriptor per device). */
function spawnWithFiles(files: number, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn("/bin/sh", ["-c", 'ulimit -n "$0" && exec "$@"', String(files), process.execPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
}

async function scrape(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^(mqgate_(?:auth_[a-z_]+|connections_refused_total|process_resident_memory_bytes|nodejs_heap_size_total_bytes)(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function waitPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`broker exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((r) => {
      const s = connect({ port, host: "127.0.0.1" }, () => (s.destroy(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("broker did not listen within 30 s");
}

async function runMode(mode: "spread" | "one", args: Args, dir: string, tokensFile: string, self: string): Promise<StormResult> {
  const port = await freePort();
  const metricsPort = await freePort();
  const files = brokerFiles(args.devices);
  const env: NodeJS.ProcessEnv = withBrokerEnv({ PATH: process.env.PATH });
  Object.assign(env, {
    MQGATE_MQTT_PORT: String(port), MQGATE_HOST: "127.0.0.1", MQGATE_WS_PORT: "off", MQGATE_HTTP_PORT: "off",
    MQGATE_METRICS_PORT: String(metricsPort), MQGATE_SYS_INTERVAL: "0", MQGATE_LOG_LEVEL: "warn",
    MQGATE_AUTH_MODE: "acl", MQGATE_ACL_FILE: join(dir, "acl.yaml"), MQGATE_NODE_ID: `storm-${mode}`,
    ...(mode === "one" ? { MQGATE_MAX_CONNECTIONS_PER_ADDRESS: "0", MQGATE_CONNECTION_RATE_PER_ADDRESS: "0" } : {}),
  });
  if (Object.keys(args.auth).length > 0) {
    const file = join(dir, "mqgate.json");
    writeFileSync(file, JSON.stringify({ auth: args.auth }));
    env.MQGATE_CONFIG = file;
  }
  const broker = spawnWithFiles(files, [...brokerNodeFlags(env), ...args.brokerFlags, resolve("dist/broker.mjs")], env);
  let brokerOut = "";
  // Both pipes are read: a broker blocked on a full stdout pipe (its log) would stall the storm.
  const keep = (d: Buffer) => (brokerOut = (brokerOut + d.toString()).slice(-4000));
  broker.stdout?.on("data", keep);
  broker.stderr?.on("data", keep);
  try {
    await waitPort(port, broker);
    const startAt = Date.now() + 2000;
    const runs: Promise<WorkerResult>[] = [];
    for (let from = 0; from < args.devices; from += DEVICES_PER_WORKER) {
      const outFile = join(dir, `worker-${mode}-${from}.json`);
      const spec = { port, from, to: Math.min(args.devices, from + DEVICES_PER_WORKER), addresses: args.addresses, mode, startAt, tokensFile, outFile };
      const worker = spawnWithFiles(Math.min(files, DEVICES_PER_WORKER + 4096), ["-e", WORKER_ENTRY, self, "--worker", JSON.stringify(spec)], { PATH: process.env.PATH });
      worker.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
      runs.push(
        new Promise((resolveRun, reject) =>
          worker.once("exit", (code) =>
            code === 0 ? resolveRun(JSON.parse(readFileSync(outFile, "utf8")) as WorkerResult) : reject(new Error(`device worker exited with ${code}`)),
          ),
        ),
      );
    }
    const parts = await Promise.all(runs);
    const deviceMs = parts.flatMap((p) => p.deviceMs);
    const sum = (f: (p: WorkerResult) => number) => parts.reduce((a, p) => a + f(p), 0);
    return {
      mode,
      devices: args.devices,
      addresses: mode === "one" ? 1 : args.addresses,
      allConnectedMs: deviceMs.length === args.devices ? deviceMs.reduce((a, b) => Math.max(a, b), 0) : null,
      connected: deviceMs.length,
      attempts: sum((p) => p.attempts),
      refused03: sum((p) => p.refused03),
      closedWithoutConnack: sum((p) => p.closedWithoutConnack),
      errors: parts.reduce<Record<string, number>>((acc, p) => {
        for (const [k, n] of Object.entries(p.errors)) acc[k] = (acc[k] ?? 0) + n;
        return acc;
      }, {}),
      attemptLatency: summarizeLatencies(parts.flatMap((p) => p.attemptMs)),
      deviceLatency: summarizeLatencies(deviceMs),
      brokerMetrics: await scrape(metricsPort),
    };
  } catch (err) {
    process.stderr.write(`[broker] ${brokerOut}\n`);
    throw err;
  } finally {
    broker.kill("SIGTERM");
    await new Promise((r) => broker.once("exit", r));
  }
}

async function writeCredentials(dir: string, devices: number): Promise<string> {
  const tokens = Array.from({ length: devices }, () => randomBytes(32).toString("base64url"));
  const lines: string[] = new Array<string>(devices);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < devices) {
        const i = next++;
        lines[i] = `dev-${i}:${await hashPbkdf2(tokens[i]!)}`;
      }
    }),
  );
  writeFileSync(join(dir, "passwd"), `${lines.join("\n")}\n`);
  writeFileSync(join(dir, "acl.yaml"), 'passwordFile: passwd\nrules:\n  - users: ["*"]\n    allow: { publish: ["devices/%u/#"], subscribe: ["commands/%u/#"] }\n');
  const tokensFile = join(dir, "tokens.json");
  writeFileSync(tokensFile, JSON.stringify(tokens));
  console.error(`auth-storm: ${devices} PBKDF2 (${PBKDF2_DEFAULTS.iterations} iterations) credentials written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return tokensFile;
}

function fmt(r: StormResult): string {
  const a = r.attemptLatency;
  const d = r.deviceLatency;
  const all = r.allConnectedMs === null ? `NOT all connected (${r.connected}/${r.devices})` : `${(r.allConnectedMs / 1000).toFixed(1)} s`;
  return `${r.mode}: ${r.devices} devices from ${r.addresses} address(es): all connected in ${all}; attempts ${r.attempts}, 0x03 ${r.refused03}, closed without CONNACK ${r.closedWithoutConnack}, socket errors ${JSON.stringify(r.errors)}
  CONNACK latency per successful attempt (ms): p50 ${a.p50.toFixed(0)} p90 ${a.p90.toFixed(0)} p99 ${a.p99.toFixed(0)} max ${a.max.toFixed(0)}
  time to connected per device (ms):          p50 ${d.p50.toFixed(0)} p90 ${d.p90.toFixed(0)} p99 ${d.p99.toFixed(0)} max ${d.max.toFixed(0)}
  broker: ${JSON.stringify(r.brokerMetrics)}`;
}

export async function main(argv: string[], self: string): Promise<number> {
  const w = argv.indexOf("--worker");
  if (w !== -1) {
    // The result goes to a file: process.exit() right after writing to a pipe would cut the output short.
    const spec = JSON.parse(argv[w + 1]!) as Omit<WorkerSpec, "tokens"> & { tokensFile: string; outFile: string };
    const tokens = JSON.parse(readFileSync(spec.tokensFile, "utf8")) as string[];
    writeFileSync(spec.outFile, JSON.stringify(await runDevices({ ...spec, tokens })));
    return 0;
  }
  const args = parseArgs(argv);
  // The broker holds one descriptor per device plus its own (listeners, metrics, libuv, stdio: well under 100).
  const files = brokerFiles(args.devices);
  if (spawnSync("/bin/sh", ["-c", `ulimit -n ${files}`]).status !== 0) {
    const hard = spawnSync("/bin/sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).stdout.trim();
    console.error(`auth-storm: the broker needs 'ulimit -n ${files}' for ${args.devices} devices; the hard limit here is ${hard} and cannot be raised (needs CAP_SYS_RESOURCE). Use --devices ${Number(hard) - 100} or raise the hard limit.`);
    return 2;
  }
  const build = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { stdio: "inherit" });
  if (build.status !== 0) return 1;
  const dir = mkdtempSync(join(tmpdir(), "mqgate-auth-storm-"));
  try {
    const tokensFile = await writeCredentials(dir, args.devices);
    const results: StormResult[] = [];
    for (const mode of args.modes) {
      const r = await runMode(mode, args, dir, tokensFile, self);
      console.log(fmt(r));
      results.push(r);
    }
    if (args.out !== null) writeFileSync(args.out, `${JSON.stringify({ at: new Date().toISOString(), auth: args.auth, results }, null, 2)}\n`);
    return results.every((r) => r.allConnectedMs !== null && r.allConnectedMs <= 60_000) ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
