#!/usr/bin/env node
// Cross-node benchmark (`node bench/cross-node.mjs [--rate 500] [--seconds 6] [--rounds 2] [--out file.json]`):
// bundles bench/cross-node.ts with esbuild (Node 20 runs no .ts) and runs it. Needs dist/ (npm run build),
// redis-server and the fauxqs devDependency. See docs/benchmarks.md, "Cross-node".
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cacheDir = join(root, "node_modules", ".cache", "mqgate-bench-cluster");
mkdirSync(cacheDir, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { "cross-node": "bench/cross-node.ts" },
  outdir: cacheDir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
});
const { main } = await import(pathToFileURL(join(cacheDir, "cross-node.mjs")).href);
process.exit(await main(process.argv.slice(2)));
