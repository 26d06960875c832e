/**
 * Maps a stack trace's positions in dist/*.mjs back to the sources (decision 058; scripts/lib/stack-map.ts). Reads the
 * trace, or whole log lines, on stdin and prints them with each position it can map replaced.
 *
 *   node dist/stack.mjs < trace.txt                       # maps beside this script (dist/broker.mjs.map …)
 *   docker exec -i <container> node dist/stack.mjs < trace.txt      # in the broker's image, with its own map
 *   node dist/stack.mjs --map path/to/broker.mjs.map < trace.txt     # another build's map (the same version's)
 *
 * Exit code: 0, also when nothing was mapped; 2 on a usage error or a file that is not a source map.
 */
import { parseArgs } from "node:util";
import { bundleOfMap, loadMap, type MapFinder, mapsBeside, mapStack, ownDir } from "./lib/stack-map.js";

const USAGE = `usage: node dist/stack.mjs [--map FILE.mjs.map] < trace.txt
  --map FILE   the source map to use for FILE's bundle (default: the maps beside this script)`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({ options: { map: { type: "string" }, help: { type: "boolean", short: "h" } } }).values;
  } catch (err) {
    process.stderr.write(`stack: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let find: MapFinder = mapsBeside(ownDir(import.meta.url));
  if (values.map !== undefined) {
    const path = values.map;
    let given;
    try {
      given = loadMap(path);
    } catch (err) {
      process.stderr.write(`stack: ${(err as Error).message}\n`);
      return 2;
    }
    if (given === null) {
      process.stderr.write(`stack: ${path}: no such file\n`);
      return 2;
    }
    const beside = find;
    const bundle = bundleOfMap(path);
    find = (name) => (name === bundle ? given : beside(name));
  }
  const text = await readStdin();
  let mapped: string;
  try {
    mapped = mapStack(text, find);
  } catch (err) {
    process.stderr.write(`stack: ${(err as Error).message}\n`);
    return 2;
  }
  process.stdout.write(mapped);
  return 0;
}

process.exitCode = await main();
