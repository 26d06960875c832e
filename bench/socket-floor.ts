/**
 * What one more plain TCP socket costs a Node.js process that does nothing else with it (issue 17): the floor under
 * mqgate's memory per device, and under any broker built on `net` (Aedes). Starts bench/targets/bare-sockets.mjs
 * (accept, read, keep), opens 20 warm-up sockets, reads its heap and RSS after two full GCs, opens N more, reads them
 * again, and prints the difference per socket as JSON. Counts bytes, not time; run it alone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { freePort } from "../scripts/lib/ports.js";

const WARMUP = 20;

interface Reading {
  sockets: number;
  heap: number;
  heapTotal: number;
  rss: number;
}

export interface SocketFloorResult {
  sockets: number;
  nodeFlags: string[];
  heapPerSocket: number;
  rssPerSocket: number;
  rssBefore: number;
  rssAfter: number;
}

function reading(child: ChildProcess): Promise<Reading> {
  return new Promise((resolve, reject) => {
    let out = "";
    const onExit = (code: number | null): void => reject(new Error(`bare socket server exited with ${code}`));
    const onData = (d: Buffer): void => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line === undefined) return;
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
      resolve(JSON.parse(line) as Reading);
    };
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
    child.kill("SIGUSR2");
  });
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

/** Settles, then reads: the server has seen every socket and the reading reflects them. */
async function settledReading(child: ChildProcess, expect: number): Promise<Reading> {
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const r = await reading(child);
    if (r.sockets >= expect) return r;
  }
}

export async function measureSocketFloor(root: string, sockets: number, nodeFlags: string[]): Promise<SocketFloorResult> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--expose-gc", ...nodeFlags, join(root, "bench/targets/bare-sockets.mjs"), String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  const open_: Socket[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`bare socket server exited with ${code}`)));
    });
    await openMany(port, WARMUP, open_);
    const before = await settledReading(child, WARMUP);
    await openMany(port, sockets, open_);
    const after = await settledReading(child, WARMUP + sockets);
    return {
      sockets,
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

/** `node bench/socket-floor.mjs [--sockets 2000] [--max-semi-space-size=N]`: prints the figures as JSON. */
export async function main(argv: string[], root: string): Promise<number> {
  const at = argv.indexOf("--sockets");
  const sockets = at >= 0 ? Number(argv[at + 1]) : 2000;
  const flags = argv.filter((a) => a.startsWith("--max-semi-space-size"));
  process.stdout.write(`${JSON.stringify(await measureSocketFloor(root, sockets, flags), null, 2)}\n`);
  return 0;
}
