#!/usr/bin/env node
// Store-path micro-benchmark (`node bench/store-path.mjs [--messages N] [--batch B] [--store redis|memory]`):
// bundles bench/store-path.ts (bench/bundle.mjs) and runs it. Needs redis-server. See docs/benchmarks.md.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-store", { "store-path": "bench/store-path.ts" });
const { main } = await import(pathToFileURL(join(dir, "store-path.mjs")).href);
process.exit(await main(process.argv.slice(2)));
