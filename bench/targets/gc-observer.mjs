// Preloaded into a Node.js broker under test (`node --import …/gc-observer.mjs`) when BENCH_GC_LOG is set: appends
// one line per garbage collection, `<start, epoch ms> <duration ms> <kind>` (kind 1 = minor/scavenge, 4 = major,
// 8 = incremental, 16 = weak callbacks), so the load generator can sum the pauses of its measured interval
// (bench/fleet.ts summarizeGcLog). A write per batch of entries, not per message: negligible next to the broker.
import { openSync, writeSync } from "node:fs";
import { PerformanceObserver, performance } from "node:perf_hooks";

const path = process.env.BENCH_GC_LOG;
if (path) {
  const fd = openSync(path, "a");
  const origin = performance.timeOrigin;
  const observer = new PerformanceObserver((list) => {
    let out = "";
    for (const e of list.getEntries()) out += `${(origin + e.startTime).toFixed(3)} ${e.duration.toFixed(3)} ${e.detail?.kind ?? 0}\n`;
    if (out !== "") writeSync(fd, out);
  });
  observer.observe({ entryTypes: ["gc"] });
}
