#!/usr/bin/env node
// Entry point of the benchmark (`npm run bench`, `node bench/run.mjs --full`). The benchmark is TypeScript
// (bench/*.ts); this bundles it with esbuild into node_modules/.cache/mqgate-bench/ (bench/bundle.mjs) and
// hands over to bench/runner.ts. See docs/benchmarks.md.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle, root } from "./bundle.mjs";

const cacheDir = await bundle("mqgate-bench", { runner: "bench/runner.ts", loadgen: "bench/loadgen.ts" }, { sourcemap: "inline" });
const { main } = await import(pathToFileURL(join(cacheDir, "runner.mjs")).href);
const code = await main({ root, loadgen: join(cacheDir, "loadgen.mjs"), cacheDir, argv: process.argv.slice(2) });
process.exit(code);
