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
 */

/** MiB per semi-space of V8's young generation (`--max-semi-space-size`). */
export const BROKER_SEMI_SPACE_MIB = 8;

/** The flag itself, for a given size (the default unless an operator chose another). */
export function semiSpaceFlag(mib: number = BROKER_SEMI_SPACE_MIB): string {
  return `--max-semi-space-size=${mib}`;
}

/**
 * The flags for a broker process started with `env`: none when its NODE_OPTIONS already sizes the young generation
 * (an operator's choice wins over the default: a command-line flag would override NODE_OPTIONS).
 */
export function brokerNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return /--max[-_]semi[-_]space[-_]size\b/.test(env["NODE_OPTIONS"] ?? "") ? [] : [semiSpaceFlag()];
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

/** `env` with the broker's process settings added where `env` has none of its own (an operator's choice wins). */
export function withBrokerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: String(BROKER_MALLOC_ARENAS), ...env };
}
