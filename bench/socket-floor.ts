/**
 * What one more plain TCP socket costs a Node.js process that does nothing else with it (issue 17): the floor under
 * mqgate's memory per device, and under any broker built on `net` (Aedes). Starts bench/targets/bare-sockets.mjs
 * (accept, read, keep), opens 20 warm-up sockets, reads its heap and RSS after full GCs as bench/conn-memory.ts
 * reads the broker's (bench/probed-child.ts), opens N more, reads them again, and prints the difference per socket
 * as JSON. Counts bytes, not time; run it alone. `--handles`: the server keeps libuv's handles with no net.Socket
 * around them, as mqgate's plain TCP listener does since decision 053.
 */
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { freePort } from "../scripts/lib/ports.js";
import { ProbedChild } from "./probed-child.js";

const WARMUP = 20;

export interface SocketFloorResult {
  sockets: number;
  handles: boolean;
  nodeFlags: string[];
  heapPerSocket: number;
  rssPerSocket: number;
  rssBefore: number;
  rssAfter: number;
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1" }, () => resolve(s));
    s.once("error", reject);
  });
}

async function openMany(port: number, n: number, into: Socket[]): Promise<void> {
  for (let i = 0; i < n; i += 200) into.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => open(port)))));
}

/** Heap and RSS after full GCs, once the server holds at least `expect` sockets (its accepts may trail ours). */
async function settledReading(server: ProbedChild, expect: number): Promise<{ heap: number; rss: number }> {
  for (;;) {
    const r = await server.settled();
    if (Number(/ sockets (\d+)/.exec(server.lastProbeLine())?.[1] ?? -1) >= expect) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function measureSocketFloor(root: string, sockets: number, nodeFlags: string[], handles = false): Promise<SocketFloorResult> {
  const port = await freePort();
  const args = ["--expose-gc", ...nodeFlags, join(root, "bench/targets/bare-sockets.mjs"), String(port), ...(handles ? ["handles"] : [])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const server = new ProbedChild(child);
  const open_: Socket[] = [];
  try {
    await server.until("listening line", () => server.output().includes("listening"));
    await openMany(port, WARMUP, open_);
    const before = await settledReading(server, WARMUP);
    await openMany(port, sockets, open_);
    const after = await settledReading(server, WARMUP + sockets);
    return {
      sockets,
      handles,
      nodeFlags,
      heapPerSocket: Math.round((after.heap - before.heap) / sockets),
      rssPerSocket: Math.round((after.rss - before.rss) / sockets),
      rssBefore: before.rss,
      rssAfter: after.rss,
    };
  } finally {
    for (const s of open_) s.destroy();
    child.kill("SIGKILL");
  }
}

/** `node bench/socket-floor.mjs [--sockets 2000] [--handles] [--max-semi-space-size=N]`: prints the figures as JSON. */
export async function main(argv: string[], root: string): Promise<number> {
  const at = argv.indexOf("--sockets");
  const sockets = at >= 0 ? Number(argv[at + 1]) : 2000;
  const flags = argv.filter((a) => a.startsWith("--max-semi-space-size"));
  const handles = argv.includes("--handles");
  process.stdout.write(`${JSON.stringify(await measureSocketFloor(root, sockets, flags, handles), null, 2)}\n`);
  return 0;
}
