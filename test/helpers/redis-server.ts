import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";

/** A redis-server child process on a free loopback port (never 6379), with no persistence. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGTERM, then wait for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL at once (a crash); `restart` brings it back, empty, on the same port. */
  kill(): void;
  restart(): Promise<void>;
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

/** A port the OS considers free right now (bind port 0, read it, close). Another process may take it first. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => (port === 6379 || port === 0 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
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
async function spawnOn(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmpdir(), "--loglevel", "warning"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
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
export async function startRedisServer(): Promise<RedisServer> {
  checkInstalled();
  let child: ChildProcess | undefined;
  let port = 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await spawnOn(port);
    } catch (err) {
      lastError = err; // most likely the port was taken between freePort() and the bind: try another
    }
  }
  if (child === undefined) throw lastError;
  let current: ChildProcess = child;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      current.kill("SIGTERM");
      await waitExit(current);
    },
    kill() {
      current.kill("SIGKILL");
    },
    async restart() {
      current.kill("SIGKILL");
      await waitExit(current);
      current = await spawnOn(port);
    },
  };
}
