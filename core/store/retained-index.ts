import { hasWildcard } from "../topic/index.js";
import { retainedPrefix } from "./match.js";
import type { StoredMessage } from "./types.js";

/*
 * The retained index, shared by every store (docs/store.md, "Retained index"). Two ordered sets of strings:
 *
 * - topics: every retained topic;
 * - levels: one entry `<i>:<word>/<topic>` per topic and level i in 1..INDEXED_LEVELS (level 0 is covered by topic
 *   prefixes). A word never contains '/', so the entries of one (level, word) are exactly those starting with
 *   `<i>:<word>/`: one ordered range.
 *
 * A lookup for a filter picks, among the ranges that must contain every match (the filter's literal prefix in
 * `topics`, each literal level i >= 1 in `levels`), the one with the fewest entries, and walks it in pages of at
 * most SCAN_BUDGET entries, keeping the topics the filter matches. The cost is the size of the smallest such range
 * (the matches plus the topics that share the filter's most selective literal level), never the retained set,
 * unless the filter has no literal level at all (`#`, `+/+`), which matches (nearly) everything anyway.
 */

/** Levels 1..INDEXED_LEVELS of a topic get an index entry (deeper literal levels still match, just not by index). */
export const INDEXED_LEVELS = 8;
/** Index entries one store call reads at most: a few milliseconds inside Redis (bench/retained-scale). */
export const SCAN_BUDGET = 256;
/**
 * Bytes of messages one store call returns at most (it stops after the message that crosses it), and one
 * `scanRetained` page holds at most (plus that one message): large payloads make short pages, not large replies.
 */
export const SCAN_BYTES = 1024 * 1024;
/** Store calls one `scanRetained` page makes at most before it answers (possibly with no items) and a cursor. */
export const SCAN_CALLS_PER_PAGE = 16;

/** Which ordered set a candidate range lives in. */
export type SourceKind = "t" | "i";

export interface Source {
  kind: SourceKind;
  /** Every entry of the range starts with this ('' = the whole set). */
  prefix: string;
}

/** Index entries of a topic in the levels set. */
export function levelEntries(topic: string): string[] {
  const levels = topic.split("/");
  const out: string[] = [];
  const n = Math.min(levels.length, INDEXED_LEVELS + 1);
  for (let i = 1; i < n; i++) out.push(`${i}:${levels[i] as string}/${topic}`);
  return out;
}

/** The topic an entry of `source` names. */
export function topicOfEntry(source: Source, entry: string): string {
  return source.kind === "t" ? entry : entry.slice(source.prefix.length);
}

/** The entry of `source` that names `topic` (to resume a walk after it). */
export function entryOfTopic(source: Source, topic: string): string {
  return source.kind === "t" ? topic : source.prefix + topic;
}

/**
 * The candidate ranges for a wildcard filter (null for a filter without wildcards: one exact lookup). The store
 * walks the smallest. The first is always the literal prefix in `topics` ('' = all topics).
 */
export function candidateSources(filter: string): Source[] | null {
  if (!hasWildcard(filter)) return null;
  const sources: Source[] = [{ kind: "t", prefix: retainedPrefix(filter) ?? "" }];
  const levels = filter.split("/");
  const n = Math.min(levels.length, INDEXED_LEVELS + 1);
  for (let i = 1; i < n; i++) {
    const w = levels[i] as string;
    if (w === "#") break;
    if (w !== "+") sources.push({ kind: "i", prefix: `${i}:${w}/` });
  }
  return sources;
}

/** Bytes a retained message counts against `maxRetainedBytes`: its topic and payload. */
export function retainedSize(topic: string, payload: Buffer): number {
  return Buffer.byteLength(topic) + payload.length;
}

/*
 * Retained expiry (docs/store.md, "Retained expiry"). A retained message with an MQTT 5 Message Expiry Interval is
 * discarded once it expires (MQTT 5.0 3.3.2.3.3), so it no longer counts against the limits. Every store indexes
 * such messages by due time (topic -> due), and `sweepRetained` removes the due ones: cost follows what expired.
 */

/** Due index entries one sweep call (one Lua script on Redis) looks at most, whatever `limit` asks. */
export const SWEEP_BUDGET = SCAN_BUDGET;
/** Due index entries a `retained.set` refused for a limit sweeps (then checks the limit again) before it refuses. */
export const SWEEP_ON_FULL = 32;

/**
 * When a stored retained message expires (epoch ms): publication time + Message Expiry Interval, the moment its
 * remaining interval reaches 0 (core/readable-properties.ts `hasExpired`); undefined when it never does.
 */
export function retainedDue(msg: StoredMessage): number | undefined {
  const interval = msg.props?.messageExpiryInterval;
  return interval === undefined || msg.publishedAt === undefined ? undefined : msg.publishedAt + interval * 1000;
}
