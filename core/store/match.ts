import { hasWildcard, topicMatches } from "../topic/index.js";
import { compareUtf8 } from "./codec.js";
import type { StoredMessage } from "./types.js";

/**
 * The literal start every topic matched by `filter` shares, or null when the filter has no wildcard (it then
 * matches exactly one topic). `a/b/+/c` -> `a/b/`; `a/b/#` -> `a/b` (it matches `a/b` itself); `+/x` -> ``.
 * Stores fetch the retained topics with this prefix (one ordered range) and test each with `topicMatches`.
 */
export function retainedPrefix(filter: string): string | null {
  if (!hasWildcard(filter)) return null;
  const levels = filter.split("/");
  const k = levels.findIndex((l) => l === "+" || l === "#");
  if (k <= 0) return "";
  const literal = levels.slice(0, k).join("/");
  return levels[k] === "#" ? literal : `${literal}/`;
}

/** Keeps the candidates that `filter` matches (MQTT rules, $-rule included), ordered by topic. */
export function filterRetained(filter: string, candidates: StoredMessage[]): StoredMessage[] {
  return candidates.filter((m) => topicMatches(filter, m.topic)).sort((a, b) => compareUtf8(a.topic, b.topic));
}
