/**
 * Maps a stack trace's positions in dist/*.mjs back to the sources (decision 058; scripts/lib/stack-map.ts). Reads the
 * trace, or whole log lines, on stdin and prints them with each position it can map replaced.
 *
 *   npm run --silent stack < trace.txt                          # a checkout built from the broker's commit
 *   docker run --rm -i <broker image> node dist/stack.mjs < trace.txt   # the image's own map, off the broker
 *   node dist/stack.mjs --map path/to/broker.mjs.map < trace.txt       # a map kept from the build
 *
 * Exit code: 0, also when nothing was mapped (a map beside this script that cannot be read is reported on stderr and
 * its positions left alone); 2 on a usage error, a --map that is missing or not a source map, or stdin on a terminal.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { bundleOfMap, loadMap, type MapFinder, mapsBeside, mapStack, ownDir } from "./lib/stack-map.js";

const USAGE = `usage: node dist/stack.mjs [--map FILE.mjs.map] < trace.txt
  --map FILE   the source map to use for FILE's bundle (default: the maps beside this script)`;

const OPTIONS = { map: { type: "string" }, help: { type: "boolean", short: "h" } } satisfies ParseArgsConfig["options"];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function usageError(message: string): number {
  process.stderr.write(`stack: ${message}\n${USAGE}\n`);
  return 2;
}

/** The finder for `--map` (its bundle from this map, the others from the maps beside this script), or an error. */
function withGivenMap(path: string, beside: MapFinder): MapFinder | string {
  const bundle = bundleOfMap(path);
  if (bundle === null) return `${path}: a bundle's map is named <bundle>.mjs.map`;
  let given: ReturnType<typeof loadMap>;
  try {
    given = loadMap(path);
  } catch (err) {
    return (err as Error).message;
  }
  if (given === null) return `${path}: no such file`;
  const map = given;
  return (name) => (name === bundle ? map : beside(name));
}

async function main(): Promise<number> {
  let values: { map?: string; help?: boolean };
  try {
    values = parseArgs({ options: OPTIONS }).values;
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const warn = (message: string) => process.stderr.write(`stack: ${message} (its positions are left as they are)\n`);
  let find: MapFinder = mapsBeside(ownDir(import.meta.url), warn);
  if (values.map !== undefined) {
    const given = withGivenMap(values.map, find);
    if (typeof given === "string") {
      process.stderr.write(`stack: ${given}\n`);
      return 2;
    }
    find = given;
  }
  if (process.stdin.isTTY === true) return usageError("reads the trace on stdin");
  process.stdout.write(mapStack(await readStdin(), find));
  return 0;
}

process.exitCode = await main();
