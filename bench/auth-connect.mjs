#!/usr/bin/env node
// CONNECTs per second per auth backend, cold and warm cache (`flock /work/wt/bench.lock node bench/auth-connect.mjs`):
// bundles bench/auth-connect.ts (bench/bundle.mjs) and runs it. Needs redis-server. See docs/benchmarks.md.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-auth", { "auth-connect": "bench/auth-connect.ts" });
const { main } = await import(pathToFileURL(join(dir, "auth-connect.mjs")).href);
process.exit(await main());
