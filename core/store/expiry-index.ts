/**
 * The memory store's expiry index: client id -> time its session is due for an expiry check, with a binary
 * min-heap over (due, id) to find the due ones without a scan. The same contract as the Redis sorted set
 * `mqg:expiry`: `set` overwrites an id's due time, and the heap holds at most one live entry per id (an entry
 * whose time no longer matches is rescheduled or dropped when it reaches the top).
 */
export class ExpiryIndex {
  private readonly due = new Map<string, number>();
  private readonly heap: { at: number; id: string }[] = [];

  get size(): number {
    return this.due.size;
  }

  /** Sets (or moves) the due time of `id`; `lowerOnly` keeps an earlier time already set (Redis `ZADD LT`). */
  set(id: string, at: number, lowerOnly = false): void {
    const current = this.due.get(id);
    if (current !== undefined && lowerOnly && current <= at) return;
    this.due.set(id, at);
    // An id already in the heap keeps its entry: popped early, it is pushed again at its current time.
    if (current === undefined || at < current) this.push({ at, id });
  }

  delete(id: string): void {
    this.due.delete(id);
  }

  /** Ids whose due time is <= now, at most `limit`, earliest first; they stay in the index until set or deleted. */
  takeDue(now: number, limit: number): string[] {
    const ids: string[] = [];
    const later: { at: number; id: string }[] = [];
    while (ids.length < limit && this.heap.length > 0) {
      const top = this.heap[0] as { at: number; id: string };
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

  private push(e: { at: number; id: string }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i] as typeof e, h[p] as typeof e)) break;
      [h[i], h[p]] = [h[p] as typeof e, h[i] as typeof e];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as { at: number; id: string };
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l] as typeof last, h[m] as typeof last)) m = l;
      if (r < h.length && less(h[r] as typeof last, h[m] as typeof last)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as typeof last, h[i] as typeof last];
      i = m;
    }
  }
}

function less(a: { at: number; id: string }, b: { at: number; id: string }): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}
