#!/usr/bin/env node
// Reconnect-storm benchmark (`node bench/auth-storm.mjs [--devices 20000] [--addresses 200] [--mode spread|one|both]
// [--out file.json]`): bundles bench/auth-storm.ts (bench/bundle.mjs) and runs it. Needs dist/ (built here if
// stale). Run it under the shared lock on a shared machine: `flock /work/wt/bench.lock node bench/auth-storm.mjs`.
// See docs/benchmarks.md, "Reconnect storm".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-auth", { "auth-storm": "bench/auth-storm.ts" });
const { main } = await import(pathToFileURL(join(dir, "auth-storm.mjs")).href);
process.exit(await main(process.argv.slice(2), join(dir, "auth-storm.mjs")));
