import type { SubscriptionWord } from "./subscription-word.js";

/**
 * A session's subscriptions: topic filter -> subscription word, in the order they were made, with Map's semantics
 * (a replaced filter keeps its place). Most devices of a fleet have one subscription (their own topic): it is kept in
 * two fields, and a Map is created only for the second (decision 029), saving a Map's hash table per session.
 */
export class SubscriptionMap implements ReadonlyMap<string, SubscriptionWord> {
  /** The only entry while `many` is null (`oneFilter` null: none). */
  private oneFilter: string | null = null;
  private oneWord: SubscriptionWord = 0;
  private many: Map<string, SubscriptionWord> | null = null;

  get size(): number {
    return this.many !== null ? this.many.size : this.oneFilter === null ? 0 : 1;
  }

  get(filter: string): SubscriptionWord | undefined {
    if (this.many !== null) return this.many.get(filter);
    return filter === this.oneFilter ? this.oneWord : undefined;
  }

  has(filter: string): boolean {
    return this.many !== null ? this.many.has(filter) : filter === this.oneFilter;
  }

  set(filter: string, word: SubscriptionWord): this {
    if (this.many !== null) {
      this.many.set(filter, word);
    } else if (this.oneFilter === null || this.oneFilter === filter) {
      this.oneFilter = filter;
      this.oneWord = word;
    } else {
      this.many = new Map([[this.oneFilter, this.oneWord], [filter, word]]);
      this.oneFilter = null;
    }
    return this;
  }

  delete(filter: string): boolean {
    if (this.many !== null) return this.many.delete(filter);
    if (filter !== this.oneFilter) return false;
    this.oneFilter = null;
    return true;
  }

  clear(): void {
    this.oneFilter = null;
    // Cleared, not only dropped: an iteration in progress ends, as it would over a Map.
    this.many?.clear();
    this.many = null;
  }

  forEach(visit: (word: SubscriptionWord, filter: string, map: ReadonlyMap<string, SubscriptionWord>) => void, thisArg?: unknown): void {
    for (const [filter, word] of this.entries()) visit.call(thisArg, word, filter, this);
  }

  *entries(): MapIterator<[string, SubscriptionWord]> {
    if (this.many !== null) yield* this.many.entries();
    else if (this.oneFilter !== null) yield [this.oneFilter, this.oneWord];
  }

  *keys(): MapIterator<string> {
    for (const [filter] of this.entries()) yield filter;
  }

  *values(): MapIterator<SubscriptionWord> {
    for (const [, word] of this.entries()) yield word;
  }

  [Symbol.iterator](): MapIterator<[string, SubscriptionWord]> {
    return this.entries();
  }
}
