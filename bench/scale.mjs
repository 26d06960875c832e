#!/usr/bin/env node
// Routes, not sessions, at fleet scale (`node bench/scale.mjs [--sessions 100000] [--sample 20] [--concurrency 200]`;
// run it under `flock /work/wt/bench.lock`; not in CI): bundles bench/scale.ts and runs it. Needs dist/ (npm run
// build), redis-server and the fauxqs devDependency. See docs/benchmarks.md, "Routes, not sessions".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-scale", { scale: "bench/scale.ts" });
const { main } = await import(pathToFileURL(join(dir, "scale.mjs")).href);
process.exit(await main(process.argv.slice(2)));
