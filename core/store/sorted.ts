import { compareUtf8 } from "./codec.js";

/** Keys per chunk: a chunk that grows past twice this splits in two; neighbours that fit in one merge. */
const CHUNK = 512;

/** A place in the keys: chunk `c`, index `i` in it; `c === chunks.length` is the end. */
interface Pos {
  c: number;
  i: number;
}

/**
 * Strings kept in Redis ZRANGEBYLEX order (UTF-8 bytes), so the memory store pages exactly like the Redis one.
 *
 * The keys are held in sorted chunks of up to 2 × `chunkSize`, with each chunk's last key in `lasts`: a lookup is two
 * binary searches, and an insert or delete shifts one chunk (and, when a chunk splits, merges or empties, the
 * list of chunks), not the whole set. One sorted array shifted every key on each change: on average 20.8 µs per
 * insert and 71 µs per delete while growing to and shrinking from 300,000 keys, what a reconnect storm of a large
 * fleet or a million retained topics costs the embedded store (docs/decisions/062-chunked-sorted-keys.md).
 */
export class SortedKeys {
  private readonly chunks: string[][] = [];
  /** The last key of each chunk, for the binary search over chunks. */
  private readonly lasts: string[] = [];
  private count = 0;

  constructor(private readonly chunkSize = CHUNK) {
    if (!Number.isInteger(chunkSize) || chunkSize < 2) throw new RangeError("chunkSize must be an integer >= 2");
  }

  get size(): number {
    return this.count;
  }

  add(key: string): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.lasts.push(key);
      this.count++;
      return;
    }
    let { c, i } = this.lowerBound(key);
    if (c === this.chunks.length) {
      // After every key: the end of the last chunk.
      c--;
      i = (this.chunks[c] as string[]).length;
    }
    const chunk = this.chunks[c] as string[];
    if (chunk[i] === key) return;
    chunk.splice(i, 0, key);
    if (i === chunk.length - 1) this.lasts[c] = key;
    this.count++;
    if (chunk.length > 2 * this.chunkSize) {
      const tail = chunk.splice(this.chunkSize);
      this.chunks.splice(c + 1, 0, tail);
      this.lasts.splice(c, 0, chunk[chunk.length - 1] as string);
    }
  }

  delete(key: string): void {
    const { c, i } = this.lowerBound(key);
    const chunk = this.chunks[c];
    if (chunk === undefined || chunk[i] !== key) return;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) {
      this.chunks.splice(c, 1);
      this.lasts.splice(c, 1);
      return;
    }
    if (i === chunk.length) this.lasts[c] = chunk[i - 1] as string;
    // Keep chunks from thinning out under churn: a chunk merges with a neighbour when both fit in one.
    if (!this.mergeNext(c)) this.mergeNext(c - 1);
  }

  /** Moves chunk `c + 1` into chunk `c` when together they hold at most `chunkSize` keys; whether it did. */
  private mergeNext(c: number): boolean {
    const chunk = this.chunks[c];
    const next = this.chunks[c + 1];
    if (chunk === undefined || next === undefined || chunk.length + next.length > this.chunkSize) return false;
    chunk.push(...next);
    this.chunks.splice(c + 1, 1);
    this.lasts.splice(c, 1);
    return true;
  }

  /** Up to `count` (a positive integer) keys strictly after `after` (from the start when null), in order. */
  after(after: string | null, count: number): string[] {
    return this.range("", after, count);
  }

  /** Keys starting with `prefix`, in order. */
  withPrefix(prefix: string): string[] {
    return this.range(prefix, null, Number.POSITIVE_INFINITY);
  }

  /** Number of keys starting with `prefix` (all keys for ''): two binary searches, and the chunks between them. */
  countPrefix(prefix: string): number {
    if (prefix === "") return this.count;
    const from = this.lowerBound(prefix);
    const to = this.search((k) => compareUtf8(k, prefix) < 0 || k.startsWith(prefix));
    if (from.c === to.c) return to.i - from.i;
    let n = (this.chunks[from.c] as string[]).length - from.i + to.i;
    for (let c = from.c + 1; c < to.c; c++) n += (this.chunks[c] as string[]).length;
    return n;
  }

  /**
   * Up to `count` (a positive integer, or Infinity) keys starting with `prefix`, strictly after `after` (from the
   * first when null), in order. `after` is a key of the prefix (a page's cursor): from an `after` before the prefix
   * the walk stops at the first key outside it, as it always did.
   */
  range(prefix: string, after: string | null, count: number): string[] {
    const at = this.lowerBound(after ?? prefix);
    if (after !== null && this.keyAt(at) === after) this.advance(at);
    const out: string[] = [];
    for (; out.length < count && at.c < this.chunks.length; this.advance(at)) {
      const k = this.keyAt(at) as string;
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    return out;
  }

  /** The first key >= `key`. */
  private lowerBound(key: string): Pos {
    return this.search((k) => compareUtf8(k, key) < 0);
  }

  /**
   * The first key for which `before` is false; `before` must hold for a leading run of the keys in order and for
   * none after it.
   */
  private search(before: (k: string) => boolean): Pos {
    let lo = 0;
    let hi = this.lasts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.lasts[mid] as string)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.chunks.length) return { c: lo, i: 0 };
    const chunk = this.chunks[lo] as string[];
    let a = 0;
    let b = chunk.length - 1; // the last key is not before: the answer is at most b
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (before(chunk[mid] as string)) a = mid + 1;
      else b = mid;
    }
    return { c: lo, i: a };
  }

  private keyAt(at: Pos): string | undefined {
    return this.chunks[at.c]?.[at.i];
  }

  private advance(at: Pos): void {
    at.i++;
    if (at.i === (this.chunks[at.c] as string[]).length) {
      at.c++;
      at.i = 0;
    }
  }
}
