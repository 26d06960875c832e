#!/usr/bin/env node
// Entry point of the simulation (`npm run sim -- --seeds 1000`): bundles test/sim/cli.ts with esbuild (Node 20
// runs no .ts), like bench/run.mjs, and runs it. See docs/decisions/023-simulation.md.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundle } from "../../bench/bundle.mjs";

const dir = await bundle("mqgate-sim", { cli: "test/sim/cli.ts" }, { sourcemap: "inline" });
const { main } = await import(pathToFileURL(join(dir, "cli.mjs")).href);
process.exit(await main(process.argv.slice(2)));
