/**
 * The brokers under test, each started as its own process on a free loopback port (never 1883, 6379 or 8080),
 * fresh for every measurement, and stopped after it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { brokerNodeFlags, withBrokerEnv } from "../broker/node-flags.js";
import { freePort } from "../scripts/lib/ports.js";
import { BenchClient } from "./client.js";
import type { SideProcess } from "./types.js";

export const TARGET_IDS = ["mqgate-memory", "mqgate-baseline", "mqgate-redis", "aedes", "mosquitto"] as const;
export type TargetId = (typeof TARGET_IDS)[number];

export const MOSQUITTO_PATH = "/usr/sbin/mosquitto";
const REDIS_PATH = "redis-server";
const READY_TIMEOUT_MS = 15_000;

export interface TargetOptions {
  root: string;
  /** The broker bundle mqgate runs (dist/broker.mjs, or an unminified copy when profiling). */
  mqgateScript: string;
  /** Extra node flags for mqgate (e.g. --cpu-prof). */
  mqgateNodeFlags: string[];
  /**
   * Another mqgate broker bundle (`--baseline FILE`, e.g. dist/broker.mjs built from an earlier commit), run with the
   * memory store as the target mqgate-baseline: an A/B comparison interleaved like every other target.
   */
  baselineScript: string | null;
  /** Node flags for mqgate-baseline only (after `mqgateNodeFlags`). */
  baselineNodeFlags?: string[];
  /** Environment for mqgate-baseline only, over the broker's own (broker/node-flags.ts); "" removes a variable. */
  baselineEnv?: Record<string, string>;
  /** Raise the child's open-files limit to this many (through `ulimit -n` in a shell), or null to inherit. */
  fileLimit: number | null;
  /**
   * A Node.js broker (mqgate, Aedes) appends its GC pauses to this file (bench/targets/gc-observer.mjs, preloaded
   * with --import), or null for none.
   */
  gcLog?: string | null;
  /**
   * Start mqgate with its metrics listener (and so its instrumented store, as deployed brokers run with EMF on), so
   * the runner can read its drop counters after the measurement. The fleet scenario sets it.
   */
  metrics?: boolean;
  /**
   * mqgate's per-session bounds as the bench's Mosquitto has them (`max_inflight_messages 100`, and a queue that
   * does not drop: 100,000 here), instead of mqgate's defaults (32 in flight, 1,000 queued). The fleet sets it: its
   * one backend subscriber takes every device's messages, and with the defaults a load generator that falls a few
   * milliseconds behind makes mqgate drop (queue-full) where the bench's Mosquitto never would.
   */
  mosquittoLimits?: boolean;
}

/** Node flags and environment that make a Node.js broker log its GC pauses to `opts.gcLog`. */
function gcObserver(opts: TargetOptions): { flags: string[]; env: Record<string, string> } {
  if (opts.gcLog === undefined || opts.gcLog === null) return { flags: [], env: {} };
  const preload = pathToFileURL(join(opts.root, "bench", "targets", "gc-observer.mjs")).href;
  return { flags: ["--import", preload], env: { BENCH_GC_LOG: opts.gcLog } };
}

export interface RunningTarget {
  id: TargetId;
  port: number;
  pid: number;
  /** mqgate's metrics endpoint (its drop counters), null for the other brokers. */
  metricsPort: number | null;
  side: SideProcess[];
  /** Stops the broker (SIGTERM, then SIGKILL after 10 s) and its side processes. */
  stop(): Promise<void>;
  /** Last lines the processes wrote, for error reports. */
  output(): string;
}

const live = new Set<ChildProcess>();

/** Kills every process this module started that is still running (runner exit, Ctrl-C). */
export function killAll(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO_PATH);
}

export function redisAvailable(): boolean {
  const probe = spawnSync(REDIS_PATH, ["--version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

interface Child {
  proc: ChildProcess;
  tail: () => string;
  exited: Promise<number | null>;
}

function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, fileLimit: number | null): Child {
  const [file, argv] =
    fileLimit === null ? [cmd, args] : ["/bin/sh", ["-c", 'ulimit -n "$0" && exec "$@"', String(fileLimit), cmd, ...args]];
  const proc = spawn(file, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once("exit", (code) => {
      live.delete(proc);
      resolve(code);
    });
    proc.once("error", (err) => {
      live.delete(proc);
      tail += `\n${err.message}`;
      resolve(null);
    });
  });
  return { proc, tail: () => tail, exited };
}

async function stopProcess(child: Child, graceMs = 10_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Resolves once `probe()` succeeds; rejects when the process exits first or after the timeout. */
async function waitReady(child: Child, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} exited during startup:\n${child.tail()}`);
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready after ${READY_TIMEOUT_MS} ms:\n${child.tail()}`);
}

async function mqttProbe(port: number): Promise<boolean> {
  try {
    const c = await BenchClient.open({ host: "127.0.0.1", port, clientId: "bench-probe", clean: true, keepalive: 0, timeoutMs: 1000 });
    await c.close(1000);
    return true;
  } catch {
    return false;
  }
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.on("data", (chunk: Buffer) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
  });
}

/**
 * The settings every benchmarked mqgate runs with: MQTT on `port` of loopback only, no WebSocket, HTTP or $SYS,
 * warnings logged, and no per-address limits (every benchmark client connects from 127.0.0.1: the limits would
 * measure themselves).
 */
export function mqgateBenchEnv(port: number): Record<string, string> {
  return {
    MQGATE_HOST: "127.0.0.1",
    MQGATE_MQTT_PORT: String(port),
    MQGATE_WS_PORT: "off",
    MQGATE_HTTP_PORT: "off",
    MQGATE_SYS_INTERVAL: "0",
    MQGATE_LOG_LEVEL: "warn",
    MQGATE_MAX_CONNECTIONS_PER_ADDRESS: "0",
    MQGATE_CONNECTION_RATE_PER_ADDRESS: "0",
  };
}

/** The environment without the caller's MQGATE_* settings, so only the benchmark's configuration applies. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MQGATE_")) env[k] = v;
  return { ...env, ...extra };
}

async function startRedis(opts: TargetOptions): Promise<{ child: Child; port: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "mqgate-bench-redis-"));
  const port = await freePort();
  const child = startProcess(
    REDIS_PATH,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning", "--maxclients", "1000"],
    process.env,
    opts.fileLimit,
  );
  try {
    await waitReady(child, "redis-server", () => redisPing(port));
  } catch (err) {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { child, port, dir };
}

async function startMqgate(id: TargetId, opts: TargetOptions): Promise<RunningTarget> {
  let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
  if (id === "mqgate-redis") redis = await startRedis(opts);
  const port = await freePort();
  const metricsPort = opts.metrics === true ? await freePort() : null;
  const gc = gcObserver(opts);
  // The broker's own process settings (broker/node-flags.ts), as its image starts it.
  const env = withBrokerEnv(cleanEnv({
    ...gc.env,
    ...mqgateBenchEnv(port),
    ...(metricsPort !== null ? { MQGATE_METRICS_PORT: String(metricsPort) } : {}),
    ...(opts.mosquittoLimits === true ? { MQGATE_MAX_INFLIGHT: "100", MQGATE_MAX_QUEUED: "100000" } : {}),
    MQGATE_DRAIN_MS: "5000",
    MQGATE_NODE_ID: `bench-${id}`,
    ...(redis !== null ? { MQGATE_REDIS_URL: `redis://127.0.0.1:${redis.port}` } : {}),
  }));
  if (id === "mqgate-baseline") {
    for (const [name, value] of Object.entries(opts.baselineEnv ?? {})) {
      if (value === "") delete env[name];
      else env[name] = value;
    }
  }
  const script = id === "mqgate-baseline" ? opts.baselineScript : opts.mqgateScript;
  if (script === null) throw new Error("mqgate-baseline needs --baseline FILE");
  // The flags the broker ships with (broker/node-flags.ts), then the run's own, which V8 lets override them.
  const own = id === "mqgate-baseline" ? [...opts.mqgateNodeFlags, ...(opts.baselineNodeFlags ?? [])] : opts.mqgateNodeFlags;
  const flags = [...brokerNodeFlags(env), ...own];
  const child = startProcess(process.execPath, [...gc.flags, ...flags, script], env, opts.fileLimit);
  const stopAll = async () => {
    await stopProcess(child);
    if (redis !== null) {
      await stopProcess(redis.child);
      rmSync(redis.dir, { recursive: true, force: true });
    }
  };
  try {
    await waitReady(child, id, () => mqttProbe(port));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return {
    id,
    port,
    pid: child.proc.pid as number,
    metricsPort,
    side: redis !== null ? [{ name: "redis-server", pid: redis.child.proc.pid as number }] : [],
    stop: stopAll,
    output: () => child.tail() + (redis !== null ? `\n[redis] ${redis.child.tail()}` : ""),
  };
}

async function startAedes(opts: TargetOptions): Promise<RunningTarget> {
  const port = await freePort();
  const script = join(opts.root, "bench", "targets", "aedes.mjs");
  const gc = gcObserver(opts);
  const child = startProcess(process.execPath, [...gc.flags, script], { ...process.env, ...gc.env, BENCH_PORT: String(port) }, opts.fileLimit);
  try {
    await waitReady(child, "aedes", () => mqttProbe(port));
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { id: "aedes", port, pid: child.proc.pid as number, metricsPort: null, side: [], stop: () => stopProcess(child), output: () => child.tail() };
}

/** The Mosquitto configuration the benchmark uses: defaults, except what a benchmark must control. */
export function mosquittoConfig(port: number): string {
  return [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence false",
    // mqgate and Aedes set TCP_NODELAY on client sockets; Mosquitto does not unless told to.
    "set_tcp_nodelay true",
    "sys_interval 0",
    "max_connections -1",
    // Mosquitto reads one packet per socket per loop iteration, so with 4 publishers it takes in 4 PUBLISHes
    // for every PUBACK of the subscriber: its count of unacknowledged messages runs ahead of reality (the
    // acknowledgements wait in its socket buffer) and, with the default limit of 1000, it drops messages the
    // subscriber would have acknowledged. No limit, so it is measured delivering everything like the others.
    "max_queued_messages 0",
    // The default of 20 is also Mosquitto's inbound limit for QoS 2 from MQTT 3.1.1 clients: beyond 20 in
    // flight it answers PUBREC and silently discards the message. The publishers keep up to 100 in flight.
    "max_inflight_messages 100",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "",
  ].join("\n");
}

async function startMosquitto(opts: TargetOptions): Promise<RunningTarget> {
  const dir = mkdtempSync(join(tmpdir(), "mqgate-bench-mosquitto-"));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, mosquittoConfig(port));
  const child = startProcess(MOSQUITTO_PATH, ["-c", conf], process.env, opts.fileLimit);
  const stop = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(child, "mosquitto", () => mqttProbe(port));
  } catch (err) {
    await stop();
    throw err;
  }
  return { id: "mosquitto", port, pid: child.proc.pid as number, metricsPort: null, side: [], stop, output: () => child.tail() };
}

export function startTarget(id: TargetId, opts: TargetOptions): Promise<RunningTarget> {
  switch (id) {
    case "mqgate-memory":
    case "mqgate-baseline":
    case "mqgate-redis":
      return startMqgate(id, opts);
    case "aedes":
      return startAedes(opts);
    case "mosquitto":
      return startMosquitto(opts);
  }
}
