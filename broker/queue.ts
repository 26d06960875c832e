/**
 * A bounded FIFO on a growable ring buffer: O(1) push/shift without Array#shift's copying.
 * The bound is enforced by the caller (it decides the drop policy).
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 8) {
    this.items = new Array<T | undefined>(initialCapacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Keeps only the items for which `keep` returns true, in order. */
  filter(keep: (item: T) => boolean): void {
    const kept: T[] = [];
    for (let i = 0; i < this.count; i++) {
      const item = this.items[(this.head + i) % this.items.length] as T;
      if (keep(item)) kept.push(item);
    }
    this.clear();
    for (const item of kept) this.push(item);
  }

  clear(): void {
    this.items = new Array<T | undefined>(8);
    this.head = 0;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) % this.items.length] as T;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
