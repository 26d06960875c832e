/**
 * The exact (wildcard-free) routes of the route table as a set of (64-bit filter tag, node slot) pairs in three
 * typed arrays: open addressing with linear probing and backward-shift deletion, so no string and no object per
 * route (decision 043). 10 bytes per slot, at most 3/4 full: 13–27 bytes per route, outside the JavaScript heap.
 * The same tag may be present once per node. Slots are small integers the caller maps to node ids; 0 is "empty".
 */
export class ExactRoutes {
  private hi: Int32Array;
  private lo: Int32Array;
  private node: Uint16Array;
  private mask: number;
  private used = 0;

  constructor(private readonly minCapacity = 1024) {
    this.hi = new Int32Array(minCapacity);
    this.lo = new Int32Array(minCapacity);
    this.node = new Uint16Array(minCapacity);
    this.mask = minCapacity - 1;
  }

  /** Number of (tag, node) pairs. */
  get size(): number {
    return this.used;
  }

  /** Bytes held by the arrays. */
  get bytes(): number {
    return this.node.length * 10;
  }

  /** Adds the pair; false when it is present already. */
  add(hi: number, lo: number, node: number): boolean {
    if (node <= 0 || node > 0xffff) throw new RangeError(`node slot ${node} out of range`);
    let i = lo & this.mask;
    for (;;) {
      const n = this.node[i]!;
      if (n === 0) break;
      if (n === node && this.hi[i] === hi && this.lo[i] === lo) return false;
      i = (i + 1) & this.mask;
    }
    if (4 * (this.used + 1) > 3 * this.node.length) {
      this.resize(this.node.length * 2);
      return this.add(hi, lo, node);
    }
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.node[i] = node;
    this.used++;
    return true;
  }

  /** Removes the pair; false when it was not present. */
  remove(hi: number, lo: number, node: number): boolean {
    let i = lo & this.mask;
    for (;;) {
      const n = this.node[i]!;
      if (n === 0) return false;
      if (n === node && this.hi[i] === hi && this.lo[i] === lo) break;
      i = (i + 1) & this.mask;
    }
    this.vacate(i);
    this.used--;
    if (this.node.length > this.minCapacity && 8 * this.used < this.node.length) this.resize(this.node.length / 2);
    return true;
  }

  /** Calls `visit` with the node slot of every pair with this tag. */
  match(hi: number, lo: number, visit: (node: number) => void): void {
    if (this.used === 0) return;
    for (let i = lo & this.mask; ; i = (i + 1) & this.mask) {
      const n = this.node[i]!;
      if (n === 0) return;
      if (this.lo[i] === lo && this.hi[i] === hi) visit(n);
    }
  }

  /** Removes every pair of `node`; returns how many. */
  removeNode(node: number): number {
    const before = this.used;
    this.rebuild(this.node.length, node);
    const removed = before - this.used;
    let capacity = this.node.length;
    while (capacity > this.minCapacity && 8 * this.used < capacity) capacity /= 2;
    if (capacity !== this.node.length) this.resize(capacity);
    return removed;
  }

  /** Empties slot `i` and moves later entries of its probe run back so every entry stays reachable. */
  private vacate(i: number): void {
    const mask = this.mask;
    let hole = i;
    for (let j = (i + 1) & mask; this.node[j] !== 0; j = (j + 1) & mask) {
      const home = this.lo[j]! & mask;
      // The entry at j may fill the hole when its home is not inside the (cyclic) range (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      this.hi[hole] = this.hi[j]!;
      this.lo[hole] = this.lo[j]!;
      this.node[hole] = this.node[j]!;
      hole = j;
    }
    this.node[hole] = 0;
  }

  private resize(capacity: number): void {
    this.rebuild(capacity, 0);
  }

  /** Re-inserts every pair into arrays of `capacity` slots, leaving out the pairs of node slot `drop` (0: none). */
  private rebuild(capacity: number, drop: number): void {
    const { hi, lo, node } = this;
    this.hi = new Int32Array(capacity);
    this.lo = new Int32Array(capacity);
    this.node = new Uint16Array(capacity);
    this.mask = capacity - 1;
    this.used = 0;
    for (let j = 0; j < node.length; j++) {
      const n = node[j]!;
      if (n === 0 || n === drop) continue;
      let i = lo[j]! & this.mask;
      while (this.node[i] !== 0) i = (i + 1) & this.mask;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.node[i] = n;
      this.used++;
    }
  }
}
