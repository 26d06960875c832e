/**
 * The embedded store's ordered key sets (core/store/sorted.ts, decision 062): µs per insert and per delete at several
 * sizes, keys inserted and deleted in a scattered order, side by side with one sorted array (the design before
 * decision 062, kept here as the baseline). `node bench/sorted-keys.mjs [--sizes 20000,100000,300000]`; the one
 * array is measured up to 300,000 keys (at a million it takes minutes).
 */
import { compareUtf8 } from "../core/store/codec.js";
import { SortedKeys } from "../core/store/sorted.js";

/** One sorted array, shifted on every change: SortedKeys before decision 062. */
class OneArray {
  private readonly keys: string[] = [];
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareUtf8(this.keys[mid] as string, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  add(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] !== key) this.keys.splice(i, 0, key);
  }
  delete(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }
}

interface Row {
  impl: string;
  size: number;
  addUs: number;
  deleteUs: number;
}

function measure(impl: string, make: () => { add(k: string): void; delete(k: string): void }, size: number): Row {
  // Client ids of a fleet, visited in a scattered order (a stride coprime with the size).
  const keys = Array.from({ length: size }, (_, i) => `fleet-${(i * 7919) % size}`);
  const set = make();
  let t = performance.now();
  for (const k of keys) set.add(k);
  const add = performance.now() - t;
  t = performance.now();
  for (const k of keys) set.delete(k);
  const del = performance.now() - t;
  return { impl, size, addUs: (add * 1000) / size, deleteUs: (del * 1000) / size };
}

export async function main(argv: string[]): Promise<number> {
  const at = argv.indexOf("--sizes");
  const sizes = (at >= 0 ? (argv[at + 1] ?? "") : "20000,100000,300000").split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    process.stderr.write("--sizes takes positive integers, comma-separated\n");
    return 2;
  }
  const rows: Row[] = [];
  for (const size of sizes) {
    rows.push(measure("chunked (SortedKeys)", () => new SortedKeys(), size));
    if (size <= 300_000) rows.push(measure("one sorted array", () => new OneArray(), size));
  }
  process.stdout.write("| keys | implementation | µs per insert | µs per delete |\n| ---: | --- | ---: | ---: |\n");
  for (const r of rows) process.stdout.write(`| ${r.size.toLocaleString("en-US")} | ${r.impl} | ${r.addUs.toFixed(2)} | ${r.deleteUs.toFixed(2)} |\n`);
  return 0;
}
