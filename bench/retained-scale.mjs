#!/usr/bin/env node
// Retained messages at fleet scale (`node bench/retained-scale.mjs [--retained 1000000] [--rounds 20] [--out f.json]`;
// run it under `flock /work/wt/bench.lock`): bundles bench/retained-scale.ts and runs it. Needs dist/ (npm run build),
// redis-server and the fauxqs devDependency. See docs/benchmarks.md, "Retained messages at fleet scale".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-retained", { "retained-scale": "bench/retained-scale.ts" });
const { main } = await import(pathToFileURL(join(dir, "retained-scale.mjs")).href);
process.exit(await main(process.argv.slice(2)));
