import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * For bench/scale.ts and bench/conn-memory.ts only, when MQGATE_DEBUG_HEAP=1: on SIGUSR2 the process runs a full
 * garbage collection and prints `mqgate heap <used bytes> total <heapTotal> external <bytes> rss <bytes>` on stderr.
 * Off by default (no signal handler, no exposed gc).
 */
export function installHeapProbe(env: NodeJS.ProcessEnv = process.env): void {
  if (env.MQGATE_DEBUG_HEAP !== "1") return;
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  process.on("SIGUSR2", () => {
    gc();
    gc();
    const m = process.memoryUsage();
    process.stderr.write(`mqgate heap ${m.heapUsed} total ${m.heapTotal} external ${m.external} rss ${m.rss}\n`);
  });
}
