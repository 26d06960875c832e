#!/usr/bin/env node
// Entry point of the benchmark (`npm run bench`, `node bench/run.mjs --full`). The benchmark is TypeScript
// (bench/*.ts); this bundles it with esbuild into node_modules/.cache/mqgate-bench/ (Node 20 runs no .ts) and
// hands over to bench/runner.ts. See docs/benchmarks.md.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = join(root, "node_modules", ".cache", "mqgate-bench");
mkdirSync(cacheDir, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: { runner: "bench/runner.ts", loadgen: "bench/loadgen.ts" },
  outdir: cacheDir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "inline",
  logLevel: "warning",
});

const { main } = await import(pathToFileURL(join(cacheDir, "runner.mjs")).href);
const code = await main({ root, loadgen: join(cacheDir, "loadgen.mjs"), cacheDir, argv: process.argv.slice(2) });
process.exit(code);
