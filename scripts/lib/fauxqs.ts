import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ListQueuesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { createSqsClient, EMULATOR_CREDENTIALS } from "../../core/communicator/sqs-client.js";

/**
 * A fauxqs 1.9.2 (SQS emulator) child process on a free port (never 8080), for a test file or a local cluster.
 *
 * fauxqs' CLI takes its settings from the environment (FAUXQS_PORT, FAUXQS_HOST, FAUXQS_DEFAULT_REGION) and
 * always logs as JSON on stdout. It is started with FAUXQS_PORT=0, so the OS picks the port and there is no race
 * for it; the port is read from the "Server listening at" line. It listens on 0.0.0.0.
 */
export interface Fauxqs {
  /** `http://127.0.0.1:<port>`: give it to every SQS client (see core/communicator/sqs-client.ts). */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  /** A new SQS client for this emulator. */
  client(): SQSClient;
  /** SIGTERM, then wait for the process to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** fauxqs' CLI, found by Node's module resolution (works from the sources and from a dist/ bundle). */
function fauxqsBin(): string {
  try {
    // The package exports only its app module (dist/app.js); the CLI sits next to it.
    return join(dirname(fileURLToPath(import.meta.resolve("fauxqs"))), "cli.js");
  } catch {
    return "";
  }
}
const BIN = fauxqsBin();
const READY_TIMEOUT_MS = 15_000;
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Spawns fauxqs and resolves with its port once it logged it; rejects if it exits or stays silent. */
function spawnFauxqs(region: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  if (BIN === "" || !existsSync(BIN)) throw new Error("fauxqs (the SQS emulator) is not installed: run npm install");
  const child = spawn(process.execPath, [BIN], {
    env: { ...process.env, FAUXQS_PORT: "0", FAUXQS_DEFAULT_REGION: region },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  child.once("exit", () => live.delete(child));
  let tail = "";
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-4_000); // the request log is read and thrown away
  };
  child.stderr?.on("data", keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fauxqs did not start within ${READY_TIMEOUT_MS} ms: ${tail.trim()}`));
    }, READY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      keep(chunk);
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(tail);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stdout?.on("data", keep);
      child.off("exit", onExit);
      resolve({ child, port: Number(m[1]), output: () => tail });
    };
    const onExit = (): void => {
      clearTimeout(timer);
      reject(new Error(`fauxqs exited before listening: ${tail.trim()}`));
    };
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

/** Starts a private fauxqs and waits until it answers ListQueues. */
export async function startFauxqs(opts: { region?: string } = {}): Promise<Fauxqs> {
  const region = opts.region ?? "us-east-1";
  let started = await spawnFauxqs(region);
  for (let i = 0; i < 3 && started.port === 8080; i++) {
    started.child.kill("SIGKILL"); // the OS picks ephemeral ports, never 8080 in practice; keep the promise anyway
    started = await spawnFauxqs(region);
  }
  const { child, port, output } = started;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = (): SQSClient => createSqsClient({ endpoint, region, credentials: EMULATOR_CREDENTIALS, maxAttempts: 1 });
  const probe = client();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await probe.send(new ListQueuesCommand({}));
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill("SIGKILL");
        throw new Error(`fauxqs on port ${port} does not answer ListQueues: ${String(err)}; ${output().trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.destroy();
  return {
    endpoint,
    port,
    region,
    client,
    async stop() {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 5_000))) {
        child.kill("SIGKILL");
        await waitExit(child, 5_000);
      }
    },
  };
}
