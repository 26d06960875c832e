import { topicMatches } from "../topic/index.js";
import { CursorSeal } from "./cursor.js";
import { ExpiryIndex } from "./expiry-index.js";
import { copyMessage } from "./memory-state.js";
import {
  entryOfTopic, levelEntries, retainedDue, retainedSize, SCAN_BUDGET, SCAN_BYTES, SWEEP_ON_FULL, topicOfEntry, type Source,
} from "./retained-index.js";
import { matchAllRetained, openListCursor, scanRetainedPages, sealListCursor, type ScanStep } from "./retained-scan.js";
import { SortedKeys } from "./sorted.js";
import type { Page, RetainedRecord, RetainedStats, StoredMessage, StoreOpResult } from "./types.js";

/** listRetained pages hold at most this many messages (like the Redis store's, whatever `limit` asks). */
const LIST_MAX = SCAN_BUDGET;

interface Entry {
  rec: RetainedRecord;
  size: number;
}

function copyRecord(r: RetainedRecord): RetainedRecord {
  return { ...copyMessage(r), updatedAt: r.updatedAt };
}

/**
 * The memory store's retained messages and their index: the same ordered sets, bounds and page walk as the Redis
 * scripts (retained-index.ts), so the contract suite sees one behaviour. Messages that can expire are also in an
 * expiry index (topic -> due time), the `mqg:{r}:expiry` of the Redis store.
 */
export class MemoryRetained {
  private readonly messages = new Map<string, Entry>();
  private readonly topics = new SortedKeys();
  private readonly levels = new SortedKeys();
  private readonly expiry = new ExpiryIndex();
  private readonly seal = CursorSeal.random();
  private bytes = 0;

  /** Refused for a limit, it first sweeps up to SWEEP_ON_FULL messages expired at `now` and checks again. */
  set(msg: StoredMessage, maxRetained: number, maxBytes: number | undefined, now: number): StoreOpResult {
    const size = retainedSize(msg.topic, msg.payload);
    if (!this.fits(msg.topic, size, maxRetained, maxBytes) && (this.sweep(now, SWEEP_ON_FULL) === 0 || !this.fits(msg.topic, size, maxRetained, maxBytes))) {
      return { ok: false, reason: "full" };
    }
    const old = this.messages.get(msg.topic);
    this.messages.set(msg.topic, { rec: { ...copyMessage(msg), updatedAt: now }, size });
    this.bytes += size - (old?.size ?? 0);
    if (old === undefined) {
      this.topics.add(msg.topic);
      for (const e of levelEntries(msg.topic)) this.levels.add(e);
    }
    const due = retainedDue(msg);
    if (due === undefined) this.expiry.delete(msg.topic);
    else this.expiry.set(msg.topic, due);
    return { ok: true };
  }

  delete(topic: string): StoreOpResult {
    const old = this.messages.get(topic);
    if (old === undefined) return { ok: true };
    this.messages.delete(topic);
    this.bytes -= old.size;
    this.topics.delete(topic);
    for (const e of levelEntries(topic)) this.levels.delete(e);
    this.expiry.delete(topic);
    return { ok: true };
  }

  /**
   * Deletes the messages expired at `now`, looking at no more than `limit` due index entries, earliest first; how
   * many it deleted. An entry whose message is gone or was replaced by one that expires later (or never) is moved
   * or dropped instead.
   */
  sweep(now: number, limit: number): number {
    let removed = 0;
    for (const topic of this.expiry.takeDue(now, limit)) {
      const e = this.messages.get(topic);
      const due = e === undefined ? undefined : retainedDue(e.rec);
      if (due === undefined) {
        this.expiry.delete(topic);
      } else if (due > now) {
        this.expiry.set(topic, due);
      } else {
        this.delete(topic);
        removed++;
      }
    }
    return removed;
  }

  /** Whether `topic` may hold a message of `size` bytes within the limits. */
  private fits(topic: string, size: number, maxRetained: number, maxBytes: number | undefined): boolean {
    const old = this.messages.get(topic);
    const oldSize = old?.size ?? 0;
    if (old === undefined && this.messages.size >= maxRetained) return false;
    return maxBytes === undefined || size <= oldSize || this.bytes - oldSize + size <= maxBytes;
  }

  get(topic: string): RetainedRecord | null {
    const e = this.messages.get(topic);
    return e === undefined ? null : copyRecord(e.rec);
  }

  stats(): RetainedStats {
    return { count: this.messages.size, bytes: this.bytes };
  }

  list(cursor: string | null | undefined, limit: number): Page<RetainedRecord> {
    const n = Math.min(limit, LIST_MAX);
    const topics = this.topics.after(openListCursor(this.seal, cursor), n + 1);
    const items = topics.slice(0, n).map((t) => this.get(t) as RetainedRecord);
    return { items, cursor: topics.length > n ? sealListCursor(this.seal, topics[n - 1] as string) : null };
  }

  scan(filter: string, opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    return scanRetainedPages(filter, opts, this.seal, async (t) => this.get(t), async (sources, source, after, limit) => this.step(filter, sources, source, after, limit));
  }

  /** Every match at once (small sets; the broker and REST walk pages instead). */
  matchAll(filter: string): Promise<StoredMessage[]> {
    return matchAllRetained(filter, (f, opts) => this.scan(f, opts));
  }

  private setOf(s: Source): SortedKeys {
    return s.kind === "t" ? this.topics : this.levels;
  }

  private step(filter: string, sources: readonly Source[], source: number | null, after: string | null, limit: number): ScanStep {
    let chosen = source ?? 0;
    if (source === null) {
      let best = Infinity;
      sources.forEach((s, i) => {
        const n = this.setOf(s).countPrefix(s.prefix);
        if (n < best) [best, chosen] = [n, i];
      });
    }
    const src = sources[chosen] as Source;
    const entries = this.setOf(src).range(src.prefix, after, SCAN_BUDGET);
    const items: RetainedRecord[] = [];
    let bytes = 0;
    for (const entry of entries) {
      const topic = topicOfEntry(src, entry);
      if (!topicMatches(filter, topic)) continue;
      const m = this.get(topic) as RetainedRecord;
      items.push(m);
      bytes += m.payload.length;
      if (items.length === limit || bytes >= SCAN_BYTES) return { source: chosen, next: entryOfTopic(src, topic), items };
    }
    return { source: chosen, next: entries.length < SCAN_BUDGET ? null : (entries[entries.length - 1] as string), items };
  }
}
