#!/usr/bin/env node
// Memory per connected device, issue 17 (`node bench/conn-memory.mjs [--connections 2000] [--persistent]`): bundles
// bench/conn-memory.ts (bench/bundle.mjs) and runs it against this checkout's dist/broker.mjs (npm run build first).
// Counts bytes, not time, but still run it alone. See docs/benchmarks.md, "Memory per connection (issue 17)".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle, root } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-conn-memory", { "conn-memory": "bench/conn-memory.ts" });
const { main } = await import(pathToFileURL(join(dir, "conn-memory.mjs")).href);
process.exit(await main(process.argv.slice(2), root));
