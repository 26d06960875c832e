// Bundles TypeScript entry points of the benchmark with esbuild into node_modules/.cache/<name>/ (Node 20 runs
// no .ts) and returns the directory; shared by bench/run.mjs and bench/cross-node.mjs.
import { createHash } from "node:crypto";
import { mkdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** `entries`: output name -> source path (relative to the root). Returns the output directory. */
export async function bundle(name, entries, opts = {}) {
  // A git worktree whose node_modules is a link to another checkout's keeps its bundles apart from that
  // checkout's (and from other worktrees'), so two trees benchmarking at once never run each other's code.
  const modules = join(root, "node_modules");
  const shared = realpathSync(modules) !== modules;
  const suffix = shared ? `-${createHash("sha1").update(root).digest("hex").slice(0, 8)}` : "";
  const outdir = join(modules, ".cache", `${name}${suffix}`);
  mkdirSync(outdir, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: entries,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    ...opts,
  });
  return outdir;
}
