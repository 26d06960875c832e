// Counts glibc's malloc arenas besides the main one, after six worker threads have each allocated a few megabytes of
// ArrayBuffer backing stores (malloc'd by the thread that creates them), and prints the count. A non-main arena is
// a heap glibc maps at a 64 MiB boundary: 64 MiB reserved, its used part read-write and the rest inaccessible.
// test/unit/node-flags.test.ts runs it with and without MALLOC_ARENA_MAX (decision 055).
import { readFileSync } from "node:fs";
import { isMainThread, parentPort, Worker } from "node:worker_threads";

const WORKERS = 6;
const HEAP = 64n << 20n;

function arenaHeaps() {
  const maps = readFileSync("/proc/self/maps", "utf8").trim().split("\n").map((line) => {
    const [range, perm, , , , path] = line.split(/\s+/);
    const [from, to] = range.split("-").map((x) => BigInt(`0x${x}`));
    return { from, to, perm, path };
  });
  let heaps = 0;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    if (m.path || m.perm !== "rw-p" || m.from % HEAP !== 0n) continue;
    const next = maps[i + 1];
    const end = next !== undefined && !next.path && next.from === m.to && next.perm === "---p" ? next.to : m.to;
    if (end - m.from === HEAP) heaps++;
  }
  return heaps;
}

if (isMainThread) {
  let ready = 0;
  const workers = [];
  for (let w = 0; w < WORKERS; w++) {
    const worker = new Worker(new URL(import.meta.url));
    workers.push(worker);
    worker.on("message", () => {
      if (++ready < WORKERS) return;
      process.stdout.write(String(arenaHeaps()));
      for (const x of workers) x.postMessage("done");
    });
  }
} else {
  const keep = [];
  for (let i = 0; i < 2000; i++) keep.push(new ArrayBuffer(2048));
  parentPort.once("message", () => parentPort.close());
  parentPort.postMessage(keep.length);
}
