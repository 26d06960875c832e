#!/usr/bin/env node
// Instructions per message of a broker's user space, counted by valgrind's callgrind (`node bench/instr-count.mjs
// [--target mosquitto|<broker.mjs>] [--devices 50] [--warm 20000] [--messages 2000]`): a CPU figure that does not move
// with the machine. See bench/instr-count.ts and docs/benchmarks.md, "Instructions per message".
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle, root } from "./bundle.mjs";

const dir = await bundle("mqgate-bench-instr-count", { "instr-count": "bench/instr-count.ts" });
const { main } = await import(pathToFileURL(join(dir, "instr-count.mjs")).href);
process.exit(await main(process.argv.slice(2), root));
