/** Summary of a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time. */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTimeRow {
  name: string;
  /** Where the function is: file (shortened) and 1-based line. */
  location: string;
  selfMs: number;
  /** Share of all sampled time (idle included), %. */
  pct: number;
  /** Share of the non-idle sampled time, %. */
  busyPct: number;
}

function shorten(url: string, root: string | null): string {
  let u = url.replace(/^file:\/\//, "");
  if (root !== null && u.startsWith(root)) u = u.slice(root.length).replace(/^\//, "");
  const nm = u.lastIndexOf("node_modules/");
  if (nm >= 0) u = u.slice(nm);
  return u;
}

/**
 * Self time per function (same name, file and line merged), highest first. Time of a sample is its
 * `timeDeltas` entry (the gap to the previous sample), so a profile with an uneven sampling rate still adds up.
 */
export function selfTimes(profile: CpuProfile, root: string | null = null): { rows: SelfTimeRow[]; totalMs: number; idleMs: number } {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    for (let i = 0; i < samples.length; i++) {
      const id = samples[i] as number;
      // timeDeltas[i] is the time before sample i; attribute the gap after it to sample i.
      const dt = deltas[i + 1] ?? 0;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
    }
  } else {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
    for (const n of profile.nodes) selfUs.set(n.id, hits > 0 ? ((n.hitCount ?? 0) / hits) * total : 0);
  }
  const merged = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    totalUs += us;
    const f = node.callFrame;
    const name = f.functionName === "" ? "(anonymous)" : f.functionName;
    if (name === "(idle)") idleUs += us;
    const location = f.url === "" ? "" : `${shorten(f.url, root)}:${f.lineNumber + 1}`;
    const key = `${name}\u0000${location}`;
    const m = merged.get(key);
    if (m === undefined) merged.set(key, { name, location, us });
    else m.us += us;
  }
  const busyUs = totalUs - idleUs;
  const rows = [...merged.values()]
    .sort((a, b) => b.us - a.us)
    .map((m) => ({
      name: m.name,
      location: m.location,
      selfMs: m.us / 1000,
      pct: totalUs > 0 ? (m.us / totalUs) * 100 : 0,
      busyPct: busyUs > 0 && m.name !== "(idle)" ? (m.us / busyUs) * 100 : 0,
    }));
  return { rows, totalMs: totalUs / 1000, idleMs: idleUs / 1000 };
}

/**
 * The source file of each line of an unminified esbuild bundle, from the `// path/to/file.ts` comment esbuild
 * writes before every module. Returns a lookup from a 1-based bundle line to that path (null before the first).
 */
export function bundleSourceMap(bundle: string): (line: number) => string | null {
  const starts: { line: number; path: string }[] = [];
  const lines = bundle.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ ((?:[\w@.-]+\/)*[\w@.-]+\.(?:ts|mts|cts|js|mjs|cjs|json))$/.exec(lines[i] as string);
    if (m !== null) starts.push({ line: i + 1, path: m[1] as string });
  }
  return (line: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found: string | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = starts[mid] as { line: number; path: string };
      if (s.line <= line) {
        found = s.path;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}
