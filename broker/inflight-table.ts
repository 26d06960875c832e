/** Up to this many entries live in two arrays, found by a linear scan; past it a Map holds them. */
const SMALL_LIMIT = 16;
/** Capacity of the arrays at the first entry (grown by doubling up to SMALL_LIMIT). */
const FIRST_CAPACITY = 2;

/**
 * A session's outgoing messages in flight, by packet id, in the order they were added (Session.inflight).
 *
 * A `Map` did this before. With one message in flight at a time (a device acknowledging each delivery before the
 * next) every PUBACK emptied it, and `Map.prototype.delete` on a table that falls below a quarter full allocates a
 * smaller table (~150 B of young-generation garbage per message). Most sessions have a few messages in flight, so
 * up to SMALL_LIMIT entries sit in two arrays that are never reallocated once grown; a session with more in flight
 * moves them into a Map (as before) until it is empty again.
 *
 * Unlike a Map, `values()` and `entries()` iterate over a copy: the callers delete the entry they are visiting.
 */
export class InflightTable<V> {
  private ids: number[] | null = null;
  private vals: (V | undefined)[] | null = null;
  private count = 0;
  /** Holds every entry while more than SMALL_LIMIT were in flight, until the table is empty again; else null. */
  private map: Map<number, V> | null = null;

  get size(): number {
    return this.map === null ? this.count : this.map.size;
  }

  get(id: number): V | undefined {
    if (this.map !== null) return this.map.get(id);
    const i = this.indexOf(id);
    return i < 0 ? undefined : (this.vals as V[])[i];
  }

  has(id: number): boolean {
    return this.map !== null ? this.map.has(id) : this.indexOf(id) >= 0;
  }

  /** Adds an entry at the end, or replaces the value of `id` where it stands. */
  set(id: number, value: V): this {
    if (this.map !== null) {
      this.map.set(id, value);
      return this;
    }
    const i = this.indexOf(id);
    if (i >= 0) {
      (this.vals as V[])[i] = value;
      return this;
    }
    if (this.count === SMALL_LIMIT) {
      const map = new Map<number, V>();
      for (let j = 0; j < this.count; j++) map.set((this.ids as number[])[j] as number, (this.vals as V[])[j] as V);
      map.set(id, value);
      this.map = map;
      this.ids = this.vals = null;
      this.count = 0;
      return this;
    }
    let ids = this.ids;
    let vals = this.vals;
    if (ids === null || vals === null || this.count === ids.length) {
      const capacity = ids === null ? FIRST_CAPACITY : ids.length * 2;
      const moreIds = new Array<number>(capacity);
      const moreVals = new Array<V | undefined>(capacity);
      for (let j = 0; j < this.count; j++) {
        moreIds[j] = (ids as number[])[j] as number;
        moreVals[j] = (vals as V[])[j];
      }
      ids = this.ids = moreIds;
      vals = this.vals = moreVals;
    }
    ids[this.count] = id;
    vals[this.count] = value;
    this.count++;
    return this;
  }

  /** Removes `id`; the entries after it keep their order. True when it was there. */
  delete(id: number): boolean {
    const map = this.map;
    if (map !== null) {
      const deleted = map.delete(id);
      // Back to the arrays once empty: a burst does not leave the session on the Map.
      if (map.size === 0) this.map = null;
      return deleted;
    }
    const i = this.indexOf(id);
    if (i < 0) return false;
    const ids = this.ids as number[];
    const vals = this.vals as (V | undefined)[];
    const last = --this.count;
    for (let j = i; j < last; j++) {
      ids[j] = ids[j + 1] as number;
      vals[j] = vals[j + 1];
    }
    vals[last] = undefined;
    return true;
  }

  /** The values in insertion order (a copy). */
  values(): V[] {
    if (this.map !== null) return [...this.map.values()];
    return (this.vals ?? []).slice(0, this.count) as V[];
  }

  /** The entries in insertion order, as [packet id, value] (a copy). */
  entries(): [number, V][] {
    if (this.map !== null) return [...this.map.entries()];
    const out: [number, V][] = [];
    for (let j = 0; j < this.count; j++) out.push([(this.ids as number[])[j] as number, (this.vals as V[])[j] as V]);
    return out;
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries()[Symbol.iterator]();
  }

  private indexOf(id: number): number {
    const ids = this.ids;
    if (ids === null) return -1;
    for (let j = 0; j < this.count; j++) if (ids[j] === id) return j;
    return -1;
  }
}
