// Bundles TypeScript entry points of the benchmark with esbuild into node_modules/.cache/<name>/ (Node 20 runs
// no .ts) and returns the directory; shared by bench/run.mjs and bench/cross-node.mjs.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** `entries`: output name -> source path (relative to the root). Returns the output directory. */
export async function bundle(name, entries, opts = {}) {
  const outdir = join(root, "node_modules", ".cache", name);
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
