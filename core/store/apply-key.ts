import { DEDUP_WINDOW_MS } from "./keys.js";
import type { ApplyKey } from "./types.js";

/*
 * What a store remembers of keyed `apply` calls (types.ts ApplyKey, decision 030): per session and writer, the last
 * call's batch number, when it was applied and its results for that session's ops. One record per writer that wrote
 * the session; a writer's next call replaces its record.
 */

/** Writers a session keeps records of before the store looks for stale ones (a new writer's record triggers it). */
export const APPLIED_WRITERS_TRIM = 8;

/** A record older than this is stale (its writer has moved on or is gone) and goes when the session is trimmed. */
export const APPLIED_RECORD_MS = DEDUP_WINDOW_MS;

/**
 * The record's name for the `part`-th call of one session in a batch (0 for the first; Redis cuts a long batch of
 * one session into several calls, each with its own record).
 */
export function appliedField(key: ApplyKey, part: number): string {
  return part === 0 ? `w:${key.writer}` : `w:${key.writer}.${part}`;
}
