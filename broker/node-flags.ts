import { existsSync } from "node:fs";

/**
 * The Node.js flags the broker process runs with (decision 051), in one place for everything that starts it: the
 * image (infra/broker.Dockerfile's NODE_OPTIONS), the deploy plan (infra/plan/broker.ts `brokerNodeOptions`),
 * `npm start` (package.json), the local cluster (scripts/lib/local-cluster.ts) and the benchmarks' mqgate target.
 * test/infra/dockerfile.test.ts and test/unit/node-flags.test.ts hold the literal copies to these values.
 *
 * The young generation is capped at 8 MiB per semi-space. V8 starts a full mark-compact whenever the old
 * generation's headroom below its limit is smaller than the young generation (one scavenge could promote all of
 * it). Node 24, which production runs, lets the young generation grow to 64 MiB per semi-space; a broker's headroom
 * there was 24–40 MB (2,000 and 18,900 devices), so it ran full collections every few seconds, with pauses of 3–18
 * ms, and so did 16 MiB (Node 20's own size) in some runs. At 8 MiB there were none, on Node 24 or 20, for about the
 * same CPU per message and less memory.
 *
 * V8's pool of helper threads has one thread, not Node's four (decision 056). The helpers compile optimized code and
 * take part in garbage collection; each keeps what it allocated in glibc's arena and a stack of its own. With one,
 * a broker ended a fleet 4 MiB smaller at 2,000 devices and 0.2 KiB per device smaller at 18,900, with the same CPU
 * per message and GC pauses. The image's tasks have half a vCPU: four helpers had no core to run on anyway.
 */

/** MiB per semi-space of V8's young generation (`--max-semi-space-size`). */
export const BROKER_SEMI_SPACE_MIB = 8;

/** The flag itself, for a given size (the default unless an operator chose another). */
export function semiSpaceFlag(mib: number = BROKER_SEMI_SPACE_MIB): string {
  return `--max-semi-space-size=${mib}`;
}

/** Threads in V8's pool of helpers (`--v8-pool-size`). */
export const BROKER_V8_POOL_SIZE = 1;

/** The pool's flag. */
export function poolSizeFlag(): string {
  return `--v8-pool-size=${BROKER_V8_POOL_SIZE}`;
}

/** NODE_OPTIONS for the broker with `semiSpaceMiB` per semi-space: the image's and the deploy plan's. */
export function brokerNodeOptionsValue(semiSpaceMiB: number = BROKER_SEMI_SPACE_MIB): string {
  return `${semiSpaceFlag(semiSpaceMiB)} ${poolSizeFlag()}`;
}

/**
 * The flags for a broker process started with `env`: each one unless its NODE_OPTIONS already sets that option (an
 * operator's choice wins over the default: a command-line flag would override NODE_OPTIONS).
 */
export function brokerNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const options = env["NODE_OPTIONS"] ?? "";
  const flags: string[] = [];
  if (!/--max[-_]semi[-_]space[-_]size\b/.test(options)) flags.push(semiSpaceFlag());
  if (!/--v8[-_]pool[-_]size\b/.test(options)) flags.push(poolSizeFlag());
  return flags;
}

/**
 * glibc's malloc arenas for the broker process (`MALLOC_ARENA_MAX`, decision 055). glibc reads it when the process
 * starts, so whatever starts the broker sets it: the image (infra/broker.Dockerfile), the local cluster and the
 * benchmarks. By default glibc gives each thread that allocates an arena of its own, up to eight per core. V8's
 * helper threads (its optimizing compiler, the garbage collector's workers) allocate megabytes in theirs while a
 * fleet connects, and glibc keeps those pages after they are freed: about 10 MiB of a broker's RSS at 2,000
 * devices. With two arenas the helpers share one. Musl ignores the variable; the broker's image is Debian's glibc.
 */
export const BROKER_MALLOC_ARENAS = 2;

/**
 * jemalloc in place of glibc's malloc (decision 059), preloaded (`LD_PRELOAD`) with this configuration
 * (`MALLOC_CONF`): freed pages go back to the system gradually, within about a second (`dirty_decay_ms`), by a
 * background thread of jemalloc's rather than on the broker's own allocations, without the lazy `MADV_FREE` stage
 * (which leaves them in RSS until the system runs short), and one arena for the process's few threads. glibc keeps
 * what it freed wherever something still lives above it: about 15 MiB of a broker's RSS (the parser's memory from
 * the start, a fleet's connect burst). With jemalloc a fleet of 2,000 devices ended 13–18 MiB smaller for the same
 * CPU per message.
 */
export const BROKER_JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1";

/** Where the image links Debian's libjemalloc2 for its own architecture (infra/broker.Dockerfile). */
export const IMAGE_JEMALLOC_PATH = "/usr/local/lib/libjemalloc.so.2";

/** Where Debian's libjemalloc2 puts the library on `arch` (Node's `process.arch`), or null for another architecture. */
export function debianJemallocPath(arch: string = process.arch): string | null {
  if (arch === "x64") return "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (arch === "arm64") return "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2";
  return null;
}

/** Debian's libjemalloc2 when this machine has it installed (where the local cluster and the benchmarks look). */
export function installedJemalloc(): string | null {
  const path = debianJemallocPath();
  return path !== null && existsSync(path) ? path : null;
}

/**
 * `env` with the broker's process settings added where `env` has none of its own (an operator's choice wins): two
 * glibc arenas, and jemalloc preloaded when `jemalloc` names the library (by default, when this machine has Debian's
 * libjemalloc2; null: glibc's malloc). An `LD_PRELOAD` of the caller's own, even an empty one, keeps ours out; when
 * it loads jemalloc itself, the broker's configuration still applies unless `MALLOC_CONF` is set too (jemalloc's own
 * defaults made an idle broker larger than glibc).
 */
export function withBrokerEnv(env: NodeJS.ProcessEnv, jemalloc: string | null = installedJemalloc()): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: String(BROKER_MALLOC_ARENAS), ...env };
  if (jemalloc !== null && env["LD_PRELOAD"] === undefined) out["LD_PRELOAD"] = jemalloc;
  if ((out["LD_PRELOAD"] ?? "").includes("libjemalloc") && env["MALLOC_CONF"] === undefined) out["MALLOC_CONF"] = BROKER_JEMALLOC_CONF;
  return out;
}
