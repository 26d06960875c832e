/**
 * Where a callgrind dump's instructions went, by function (`node bench/instr-count.mjs --top N`). callgrind names
 * the broker's C++ and libc functions itself, but V8's compiled JavaScript is code it has no symbols for: it shows as
 * bare addresses. Node started with `--perf-basic-prof` writes `/tmp/perf-<pid>.map` (start, size and name of each
 * piece of generated code), and an address inside one of those ranges is that function.
 */

/** One line of a perf map: code from `start` for `size` bytes is `name`. */
export interface PerfMapEntry {
  start: number;
  size: number;
  name: string;
}

/** Parses `/tmp/perf-<pid>.map` ("<hex start> <hex size> <name>" per line), sorted by start. */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const out: PerfMapEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/i.exec(line);
    if (m !== null) out.push({ start: parseInt(m[1] as string, 16), size: parseInt(m[2] as string, 16), name: m[3] as string });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The entry whose range holds `address`, or undefined. */
function lookup(map: readonly PerfMapEntry[], address: number): PerfMapEntry | undefined {
  let lo = 0;
  let hi = map.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = map[mid] as PerfMapEntry;
    if (address < e.start) hi = mid - 1;
    else if (address >= e.start + e.size) lo = mid + 1;
    else return e;
  }
  return undefined;
}

/**
 * Instructions executed in each function itself (not in what it called), from a callgrind dump with the single
 * event `Ir`. Functions named by an address (`0x…`) are named from `map` when it holds the address, else
 * "(unknown code)".
 *
 * The format: `fn=(id) name` starts a function's lines (later ones give the id alone); a cost line is
 * "<position> <Ir>"; a `calls=` line is followed by one cost line that is the call's inclusive cost, not the
 * function's own.
 */
export function selfCostByFunction(dump: string, map: readonly PerfMapEntry[] = []): Map<string, number> {
  const names = new Map<string, string>();
  const cost = new Map<string, number>();
  let fn = "";
  let callCost = false;
  const named = (spec: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (m === null) return spec;
    if (m[2] !== undefined) names.set(m[1] as string, m[2]);
    return names.get(m[1] as string) ?? spec;
  };
  for (const line of dump.split("\n")) {
    if (line.startsWith("fn=")) {
      const name = named(line.slice(3));
      fn = name.startsWith("0x") ? (lookup(map, parseInt(name.split("'")[0] as string, 16))?.name ?? "(unknown code)") : name;
    } else if (line.startsWith("cfn=")) named(line.slice(4));
    else if (line.startsWith("calls=")) callCost = true;
    else if (/^[0-9+\-*]/.test(line)) {
      if (callCost) {
        callCost = false;
        continue;
      }
      const ir = Number(line.trim().split(/\s+/)[1] ?? 0);
      if (ir > 0) cost.set(fn, (cost.get(fn) ?? 0) + ir);
    }
  }
  return cost;
}

/** The `n` costliest functions as lines of "instructions per message  name". */
export function topLines(cost: ReadonlyMap<string, number>, messages: number, n: number): string[] {
  return [...cost]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ir]) => `${(ir / messages).toFixed(0).padStart(7)}  ${name.length > 140 ? `${name.slice(0, 137)}...` : name}`);
}
