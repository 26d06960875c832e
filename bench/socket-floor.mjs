#!/usr/bin/env node
// What one more plain TCP socket costs a Node.js process that does nothing else (`node bench/socket-floor.mjs
// [--sockets 2000] [--handles] [--max-semi-space-size=N]`): the floor under mqgate's memory per device. Counts bytes, not time,
// but still run it alone. See docs/benchmarks.md, "Memory per connection (issue 17)".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle, root } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-socket-floor", { "socket-floor": "bench/socket-floor.ts" });
const { main } = await import(pathToFileURL(join(dir, "socket-floor.mjs")).href);
process.exit(await main(process.argv.slice(2), root));
