import { compareUtf8 } from "./codec.js";

/**
 * Strings kept in Redis ZRANGEBYLEX order (UTF-8 bytes), so the memory store pages exactly like the Redis one.
 * Binary search; insert and delete shift the array, which is fine for the embedded store's sizes.
 */
export class SortedKeys {
  private readonly keys: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Index of the first key >= `key`. */
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

  /** Up to `count` keys strictly after `after` (from the start when null), in order. */
  after(after: string | null, count: number): string[] {
    let i = 0;
    if (after !== null) {
      i = this.lowerBound(after);
      if (this.keys[i] === after) i++;
    }
    return this.keys.slice(i, i + count);
  }

  /** Keys starting with `prefix`, in order. */
  withPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.keys.length; i++) {
      const k = this.keys[i] as string;
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    return out;
  }

  /** Number of keys starting with `prefix` (all keys for ''). Two binary searches. */
  countPrefix(prefix: string): number {
    if (prefix === "") return this.keys.length;
    return this.prefixEnd(prefix) - this.lowerBound(prefix);
  }

  /** Up to `count` keys starting with `prefix`, strictly after `after` (from the first when null), in order. */
  range(prefix: string, after: string | null, count: number): string[] {
    let i = this.lowerBound(after ?? prefix);
    if (after !== null && this.keys[i] === after) i++;
    const out: string[] = [];
    for (; i < this.keys.length && out.length < count; i++) {
      const k = this.keys[i] as string;
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    return out;
  }

  /** Index of the first key after the keys starting with `prefix`. */
  private prefixEnd(prefix: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid] as string;
      if (compareUtf8(k, prefix) < 0 || k.startsWith(prefix)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
