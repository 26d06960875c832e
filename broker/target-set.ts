/** Up to this many entries are found by a linear scan; past it a Map indexes them. */
const SCAN_LIMIT = 8;
/** Arrays that grew past this for one large fan-out are not kept for the next publish. */
const KEEP_CAPACITY = 1024;

/**
 * The sessions one publish matched, each with its target word (Broker.routeLocal), in the order first matched.
 *
 * A `Map` did this before, cleared after every publish; `Map.prototype.clear` allocates a new hash table each time
 * (~300 B of young-generation garbage per publish, decision 039's profile). Most publishes match a few sessions, so
 * the entries live in two arrays that `clear` keeps, found by a linear scan; a publish that matches more than
 * SCAN_LIMIT sessions also fills a Map index, kept and cleared between passes as the Map was before.
 */
export class TargetSet<K extends object> {
  private keys: (K | null)[] = [];
  private words: number[] = [];
  /** Made at the first pass with more than SCAN_LIMIT entries and kept (cleared) for the next ones. */
  private index: Map<K, number> | null = null;
  /** Whether this pass has gone past SCAN_LIMIT entries, and `index` holds them. */
  private indexed = false;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: K): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.words[i];
  }

  set(key: K, word: number): void {
    const i = this.find(key);
    if (i >= 0) {
      this.words[i] = word;
      return;
    }
    const n = this.count++;
    this.keys[n] = key;
    this.words[n] = word;
    if (this.indexed) (this.index as Map<K, number>).set(key, n);
    else if (this.count > SCAN_LIMIT) {
      const index = (this.index ??= new Map<K, number>());
      for (let j = 0; j < this.count; j++) index.set(this.keys[j] as K, j);
      this.indexed = true;
    }
  }

  /** The key of entry `i` (0 ≤ i < size), in the order first set. */
  keyAt(i: number): K {
    return this.keys[i] as K;
  }

  wordAt(i: number): number {
    return this.words[i] as number;
  }

  /** Empties the set; its sessions are no longer referenced. */
  clear(): void {
    if (this.count > KEEP_CAPACITY) {
      this.keys = [];
      this.words = [];
    } else {
      for (let i = 0; i < this.count; i++) this.keys[i] = null;
    }
    this.count = 0;
    if (this.indexed) {
      (this.index as Map<K, number>).clear();
      this.indexed = false;
    }
  }

  private find(key: K): number {
    if (this.indexed) return (this.index as Map<K, number>).get(key) ?? -1;
    const keys = this.keys;
    for (let i = 0; i < this.count; i++) if (keys[i] === key) return i;
    return -1;
  }
}
