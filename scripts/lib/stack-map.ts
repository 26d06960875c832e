/**
 * Maps positions in a stack trace from a bundle in dist/ back to the TypeScript sources, with the bundle's source map
 * (decision 058). The broker's image runs without `--enable-source-maps`: Node.js decodes a whole map when the bundle
 * loads, and for dist/broker.mjs that cost about 50 MB of every broker's memory. The bundles keep their names, so a
 * trace in a log already says which functions it went through; this says where in them.
 *
 * A log is not trusted text (a device chooses its client id and topics, which the broker logs): the pattern below
 * has bounded repetitions and one way to match a path, so a long line costs time in proportion to its length.
 */
import { readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload, type SourceMapping } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A position in a bundle: an optional `file://`, directories each ending in `/`, a file `<name>.mjs`, then
 * `:line:column` (1-based, as V8 prints them). It starts where no path character precedes it, and matches inside
 * pino's JSON lines too, where the trace is one string.
 */
const POSITION = /(?<![\w.@+~/-])((?:file:\/\/)?\/?(?:[\w.@+~-]{1,255}\/){0,64})([\w.-]{1,255}\.mjs):(\d{1,9}):(\d{1,9})/g;

/** Finds the source map for a bundle's file name (`broker.mjs`), or null when there is none. */
export type MapFinder = (bundle: string) => SourceMap | null;

/**
 * A finder that reads `<dir>/<bundle>.map` once per bundle. A map that cannot be read or is not a source map leaves
 * that bundle's positions as they are, and is reported once to `warn`.
 */
export function mapsBeside(dir: string, warn: (message: string) => void = () => {}): MapFinder {
  const cache = new Map<string, SourceMap | null>();
  return (bundle) => {
    let map = cache.get(bundle);
    if (map === undefined) {
      try {
        map = loadMap(join(dir, `${bundle}.map`));
      } catch (err) {
        warn(`${bundle}.map: ${(err as Error).message}`);
        map = null;
      }
      cache.set(bundle, map);
    }
    return map;
  };
}

/** The source map in `path`, or null when the file does not exist. Throws on a file that is not a source map. */
export function loadMap(path: string): SourceMap | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  let payload: SourceMapPayload;
  try {
    payload = JSON.parse(text) as SourceMapPayload;
  } catch {
    throw new Error(`${path}: not a version 3 source map`);
  }
  if (payload === null || payload.version !== 3 || typeof payload.mappings !== "string" || !Array.isArray(payload.sources)) {
    throw new Error(`${path}: not a version 3 source map`);
  }
  return new SourceMap(payload);
}

/** A map's source path as a reader wants it: relative to the repository (`broker/session.ts`), not `../broker/…`. */
function sourcePath(source: string): string {
  let path = source;
  if (source.startsWith("file://")) {
    try {
      path = fileURLToPath(source);
    } catch {
      return source;
    }
  }
  return path.replace(/^(?:\.\.\/)+/, "").replace(/^\/(?:[^/]*\/)*?node_modules\//, "node_modules/");
}

/**
 * `text` with every bundle position that `find` has a map for replaced by its source position
 * (`broker/session.ts:120:7`). Positions without a map, or that the map does not cover, are left as they are.
 */
export function mapStack(text: string, find: MapFinder): string {
  return text.replace(POSITION, (whole, _prefix: string, bundle: string, line: string, column: string) => {
    const map = find(bundle);
    if (map === null) return whole;
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as Partial<SourceMapping>;
    // findEntry answers with the nearest mapping before the position, also from an earlier line: that is not this one.
    if (entry.generatedLine !== Number(line) - 1) return whole;
    if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return whole;
    return `${sourcePath(entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

/** The directory of the running bundle (dist/ in a checkout, /app/dist in the image): where its maps are. */
export function ownDir(moduleUrl: string): string {
  return dirname(fileURLToPath(moduleUrl));
}

/** The bundle a `--map` file is for (`broker.mjs.map` → `broker.mjs`), or null for a name that is not `<name>.mjs.map`. */
export function bundleOfMap(path: string): string | null {
  const name = basename(path);
  return name.endsWith(".mjs.map") ? name.slice(0, -".map".length) : null;
}
