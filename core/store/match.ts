import { hasWildcard } from "../topic/index.js";

/**
 * The literal start every topic matched by `filter` shares, or null when the filter has no wildcard (it then
 * matches exactly one topic). `a/b/+/c` -> `a/b/`; `a/b/#` -> `a/b` (it matches `a/b` itself); `+/x` -> ``.
 * One of the candidate ranges of the retained index (retained-index.ts).
 */
export function retainedPrefix(filter: string): string | null {
  if (!hasWildcard(filter)) return null;
  const levels = filter.split("/");
  const k = levels.findIndex((l) => l === "+" || l === "#");
  if (k <= 0) return "";
  const literal = levels.slice(0, k).join("/");
  return levels[k] === "#" ? literal : `${literal}/`;
}
