import { InvalidStoreInput } from "../core/store/errors.js";
import type { Page, StoredMessage } from "../core/store/types.js";

/**
 * Pages over a full list of retained messages (matchRetained answers all matches at once), ordered by the UTF-8
 * bytes of the topic like the store's own pages. The cursor names the last topic returned (`m1.<base64url>`),
 * so a walk returns every message present throughout exactly once.
 */
export function pageOf(all: readonly StoredMessage[], cursor: string | null, limit: number): Page<StoredMessage> {
  const sorted = [...all].sort((a, b) => Buffer.compare(Buffer.from(a.topic), Buffer.from(b.topic)));
  let start = 0;
  if (cursor !== null) {
    if (!cursor.startsWith("m1.")) throw new InvalidStoreInput("malformed cursor");
    const after = Buffer.from(cursor.slice(3), "base64url");
    while (start < sorted.length && Buffer.compare(Buffer.from((sorted[start] as StoredMessage).topic), after) <= 0) start++;
  }
  const items = sorted.slice(start, start + limit);
  const last = items[items.length - 1];
  const more = start + limit < sorted.length;
  return { items, cursor: more && last !== undefined ? `m1.${Buffer.from(last.topic).toString("base64url")}` : null };
}
