import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

/**
 * A redis-server child process on a free loopback port (never 6379). Without persistence by default; with
 * `persistent: true` it writes an append-only file (fsync on every write) in a private temporary directory, so
 * a killed and restarted server comes back with everything it acknowledged.
 */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGTERM, then wait for the process to exit (and remove the data directory of a persistent server). */
  stop(): Promise<void>;
  /** SIGKILL at once (a crash); `restart` brings it back on the same port (empty, unless persistent). */
  kill(): void;
  /** SIGKILL, then wait until the process is gone (nothing more can reach it). */
  crash(): Promise<void>;
  /** Kills the server if it still runs, waits for the exit, and starts it again on the same port and data dir. */
  restart(): Promise<void>;
}

export interface RedisServerOptions {
  /** AOF with `appendfsync always` in a temporary directory: data survives `kill()` + `restart()`. */
  persistent?: boolean;
}

const READY_TIMEOUT_MS = 10_000;
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function checkInstalled(): void {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error("redis-server is not installed; the store tests need it: apt-get install redis-server");
  }
}

/** Sends PING over a raw socket; true on +PONG. */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => sock.write("PING\r\n"));
    sock.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
  });
}

/** Spawns redis-server on `port` and resolves once it answers PING; rejects if it exits first (port taken). */
async function spawnOn(port: number, dataDir: string | null): Promise<ChildProcess> {
  const persistence = dataDir === null ? ["--appendonly", "no", "--dir", tmpdir()] : ["--appendonly", "yes", "--appendfsync", "always", "--dir", dataDir];
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--loglevel", "warning"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
  let exited = false;
  child.once("exit", () => {
    exited = true;
    live.delete(child);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server on port ${port} exited: ${output.trim()}`);
    if (await pingOnce(port)) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms: ${output.trim()}`);
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts a private redis-server for a test file. Throws (never skips) when redis-server is missing. */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  checkInstalled();
  const dataDir = opts.persistent === true ? mkdtempSync(join(tmpdir(), "mqgate-redis-")) : null;
  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await spawnOn(port, dataDir);
    } catch (err) {
      lastError = err; // most likely the port was taken between freePort() and the bind: try another
    }
  }
  if (child === undefined) {
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
    throw lastError;
  }
  let current: ChildProcess = child;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      current.kill("SIGTERM");
      await waitExit(current);
      if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
    },
    kill() {
      current.kill("SIGKILL");
    },
    async crash() {
      current.kill("SIGKILL");
      await waitExit(current);
    },
    async restart() {
      current.kill("SIGKILL");
      await waitExit(current);
      current = await spawnOn(port, dataDir);
    },
  };
}
