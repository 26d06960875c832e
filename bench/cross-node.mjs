#!/usr/bin/env node
// Cross-node benchmark (`node bench/cross-node.mjs [--rate 500] [--seconds 6] [--rounds 2] [--publishers 1] [--links on|off] [--persistent] [--out file.json]`):
// bundles bench/cross-node.ts (bench/bundle.mjs) and runs it. Needs dist/ (npm run build), redis-server and the
// fauxqs devDependency. See docs/benchmarks.md, "Cross-node".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-cluster", { "cross-node": "bench/cross-node.ts" });
const { main } = await import(pathToFileURL(join(dir, "cross-node.mjs")).href);
process.exit(await main(process.argv.slice(2)));
