import { compareUtf8 } from "./codec.js";
import type { CursorSeal } from "./cursor.js";
import { InvalidStoreInput } from "./errors.js";
import { candidateSources, SCAN_BYTES, SCAN_CALLS_PER_PAGE, type Source } from "./retained-index.js";
import type { Page, RetainedRecord, StoredMessage } from "./types.js";
import { checkLimit, checkText } from "./validate.js";

/** A retained record without its update time (what matchRetained answers); the MQTT 5 part kept when present. */
export function withoutUpdateTime(r: RetainedRecord): StoredMessage {
  const m: StoredMessage = { topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain };
  if (r.props !== undefined) m.props = r.props;
  if (r.publishedAt !== undefined) m.publishedAt = r.publishedAt;
  return m;
}

/** Every retained message matching `filter`, walked page by page through `scan` (bounded calls; for small results), in topic order. */
export async function matchAllRetained(filter: string, scan: (filter: string, opts: { cursor: string | null; limit: number }) => Promise<Page<RetainedRecord>>): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<RetainedRecord> = await scan(filter, { cursor, limit: 1000 });
    for (const r of page.items) all.push(withoutUpdateTime(r));
    cursor = page.cursor;
  } while (cursor !== null);
  return all.sort((a, b) => compareUtf8(a.topic, b.topic));
}

/** What one bounded backend call of a walk returns (one Lua script on Redis). */
export interface ScanStep {
  /** The range walked (chosen by the first call, index into `sources`). */
  source: number;
  /** The last entry examined, to resume after; null once the range is exhausted. */
  next: string | null;
  items: RetainedRecord[];
}

/** Walks at most SCAN_BUDGET entries of `sources[source]` (the smallest one when null) after `after`. */
export type ScanCall = (sources: readonly Source[], source: number | null, after: string | null, limit: number) => Promise<ScanStep>;

/**
 * The page loop of `Store.scanRetained`, shared by every store: a filter without wildcards is one exact lookup;
 * otherwise up to SCAN_CALLS_PER_PAGE bounded calls, then a sealed cursor (source and last entry, bound to the filter).
 */
export async function scanRetainedPages(
  filter: string,
  opts: { cursor?: string | null; limit: number },
  seal: CursorSeal,
  exact: (topic: string) => Promise<RetainedRecord | null>,
  call: ScanCall,
): Promise<Page<RetainedRecord>> {
  checkText(filter, "filter");
  checkLimit(opts.limit);
  const sources = candidateSources(filter);
  let source: number | null = null;
  let after: string | null = null;
  if (opts.cursor !== null && opts.cursor !== undefined) {
    const plain = seal.open(opts.cursor, `scan\n${filter}`);
    const nl = plain.indexOf("\n");
    source = Number(plain.slice(0, nl));
    after = plain.slice(nl + 1);
    if (sources === null || nl < 0 || !Number.isInteger(source) || source < 0 || source >= sources.length) throw new InvalidStoreInput("invalid cursor");
  }
  if (sources === null) {
    const m = await exact(filter);
    return { items: m === null ? [] : [m], cursor: null };
  }
  const items: RetainedRecord[] = [];
  let bytes = 0;
  for (let i = 0; i < SCAN_CALLS_PER_PAGE && items.length < opts.limit && bytes < SCAN_BYTES; i++) {
    const step = await call(sources, source, after, opts.limit - items.length);
    source = step.source;
    after = step.next;
    for (const m of step.items) {
      items.push(m);
      bytes += m.payload.length;
    }
    if (after === null) return { items, cursor: null };
  }
  return { items, cursor: seal.seal(`${source as number}\n${after as string}`, `scan\n${filter}`) };
}

/** listRetained cursors: the last topic listed, sealed (it may lie outside what a REST caller may read). */
export function sealListCursor(seal: CursorSeal, topic: string): string {
  return seal.seal(topic, "list");
}

export function openListCursor(seal: CursorSeal, cursor: string | null | undefined): string | null {
  return cursor === null || cursor === undefined ? null : seal.open(cursor, "list");
}
