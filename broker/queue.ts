/** The ring of every empty deque of capacity 0: never written to (a push grows the deque first). */
const NO_ITEMS: readonly undefined[] = Object.freeze([]);

/** Capacity of the first ring a deque of capacity 0 allocates. */
const FIRST_CAPACITY = 8;

/**
 * A bounded FIFO on a growable ring buffer: O(1) push/shift without Array#shift's copying.
 * The bound is enforced by the caller (it decides the drop policy). With an initial capacity of 0 the ring is
 * allocated by the first push and released by `clear`, so an empty deque is one small object (decision 029).
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(private readonly initialCapacity = 8) {
    this.items = initialCapacity === 0 ? (NO_ITEMS as undefined[]) : new Array<T | undefined>(initialCapacity);
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

  /** Whether `test` is true for one of the items. */
  some(test: (item: T) => boolean): boolean {
    for (let i = 0; i < this.count; i++) if (test(this.items[(this.head + i) % this.items.length] as T)) return true;
    return false;
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
    this.items = this.initialCapacity === 0 ? (NO_ITEMS as undefined[]) : new Array<T | undefined>(this.initialCapacity);
    this.head = 0;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) % this.items.length] as T;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length === 0 ? FIRST_CAPACITY : this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
