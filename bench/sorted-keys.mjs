#!/usr/bin/env node
// The embedded store's ordered key sets, chunked against one sorted array (`node bench/sorted-keys.mjs
// [--sizes 20000,100000,300000]`): bundles bench/sorted-keys.ts (bench/bundle.mjs) and runs it. Decision 062.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-sorted", { "sorted-keys": "bench/sorted-keys.ts" });
const { main } = await import(pathToFileURL(join(dir, "sorted-keys.mjs")).href);
process.exit(await main(process.argv.slice(2)));
