interface Entry {
  at: number;
  id: string;
}

/** Stale heap entries tolerated beyond the live ones before a rebuild. */
const COMPACT_SLACK = 64;

/**
 * An expiry index of the memory store: id -> due time, with a binary min-heap over (due, id) to find the due ones
 * without a scan. Sessions (client id -> time its session is due for an expiry check, like the Redis sorted set
 * `mqg:expiry`) and retained messages (topic -> when it expires, like `mqg:{r}:expiry`) each have one. `set`
 * overwrites an id's due time, and the heap holds at most one live entry per id (an entry whose time no longer
 * matches is rescheduled or dropped when it reaches the top). Entries left behind by deletes and earlier times are
 * dropped by a rebuild once they outnumber the live ones, so the heap stays within twice the index (plus a few).
 */
export class ExpiryIndex {
  private readonly due = new Map<string, number>();
  private readonly heap: Entry[] = [];

  get size(): number {
    return this.due.size;
  }

  /** Sets (or moves) the due time of `id`; `lowerOnly` keeps an earlier time already set (Redis `ZADD LT`). */
  set(id: string, at: number, lowerOnly = false): void {
    const current = this.due.get(id);
    if (current !== undefined && lowerOnly && current <= at) return;
    this.due.set(id, at);
    // An id already in the heap keeps its entry: popped early, it is pushed again at its current time.
    if (current === undefined || at < current) {
      this.push({ at, id });
      if (this.heap.length > 2 * this.due.size + COMPACT_SLACK) this.rebuild();
    }
  }

  delete(id: string): void {
    this.due.delete(id);
  }

  /** Ids whose due time is <= now, at most `limit`, earliest first; they stay in the index until set or deleted. */
  takeDue(now: number, limit: number): string[] {
    const ids: string[] = [];
    const later: Entry[] = [];
    while (ids.length < limit && this.heap.length > 0) {
      const top = this.heap[0] as Entry;
      if (top.at > now) break;
      this.pop();
      const at = this.due.get(top.id);
      if (at === undefined || ids.includes(top.id)) continue;
      const entry = at === top.at ? top : { at, id: top.id };
      if (at > now) {
        this.push(entry);
        continue;
      }
      ids.push(top.id);
      later.push(entry);
    }
    // Entries stay in the heap until their id is set again or deleted (the caller does one or the other).
    for (const e of later) this.push(e);
    return ids;
  }

  /** The heap again from the live entries only (O(n), after at least n + COMPACT_SLACK pushes since the last). */
  private rebuild(): void {
    this.heap.length = 0;
    for (const [id, at] of this.due) this.heap.push({ at, id });
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i] as Entry, h[p] as Entry)) break;
      [h[i], h[p]] = [h[p] as Entry, h[i] as Entry];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Entry;
    if (h.length === 0) return;
    h[0] = last;
    this.siftDown(0);
  }

  private siftDown(from: number): void {
    const h = this.heap;
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l] as Entry, h[m] as Entry)) m = l;
      if (r < h.length && less(h[r] as Entry, h[m] as Entry)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Entry, h[i] as Entry];
      i = m;
    }
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}
