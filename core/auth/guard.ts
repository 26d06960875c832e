/**
 * Delivery guards (docs/auth.md, "Exact authorization"): a client's subscribe-deny patterns, checked against the
 * topic of each message delivered through a subscription that overlaps them. Built at grant time (CONNECT or
 * SUBSCRIBE); `refuses` walks precompiled lists and allocates nothing.
 */
import { topicMatchesPattern } from "../topic/covers.js";
import type { DeliveryGuard } from "./types.js";

const NO_TOPICS: ReadonlySet<string> = new Set();

function hasWildcard(s: string): boolean {
  return s.includes("+") || s.includes("#");
}

class TopicDenyGuard implements DeliveryGuard {
  constructor(
    private readonly all: boolean,
    private readonly exact: ReadonlySet<string>,
    private readonly wild: readonly string[],
  ) {}

  refuses(topic: string): boolean {
    if (this.all || this.exact.has(topic)) return true;
    const wild = this.wild;
    for (let i = 0; i < wild.length; i++) if (topicMatchesPattern(wild[i]!, topic)) return true;
    return false;
  }
}

/** Refuses every topic: a deny pattern whose %c / %u value was unsafe (fail closed). */
export const DENY_EVERYTHING: DeliveryGuard = new TopicDenyGuard(true, NO_TOPICS, []);

/** A guard refusing the topics matched by any of `patterns` (valid topic filters), or null when there are none. */
export function denyGuard(patterns: Iterable<string>): DeliveryGuard | null {
  const exact = new Set<string>();
  const wild = new Set<string>();
  for (const p of patterns) (hasWildcard(p) ? wild : exact).add(p);
  if (exact.size === 0 && wild.size === 0) return null;
  return new TopicDenyGuard(false, exact.size === 0 ? NO_TOPICS : exact, [...wild]);
}
