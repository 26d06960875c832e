import type { Subscription } from "./subscription-index.js";

/** A memo remembers at most this many matched subscriptions; a topic that matches more is walked every time. */
export const MEMO_MAX = 4;

/**
 * What one publisher's last topic matched in the subscription index (decision 057), replayed while the topic and
 * the index are unchanged. A device publishes to the same topic again and again; walking the trie for it looks the
 * device's own level up in a Map of every device's level, and in a fleet that Map and the nodes under it are
 * rarely in the CPU's cache. The decoder hands back the same string for a repeated topic (broker/decoder.ts
 * `sameTopic`), so the check is mostly one comparison of references, and the index's version tells whether any
 * subscription was added, replaced or removed since.
 *
 * The memo holds up to MEMO_MAX subscriptions of other sessions. After one of them is removed, the memo keeps it
 * (never replays it: the version changed) until its publisher's next publish or the end of its session.
 */
export class RouteMemo {
  /** The topic remembered; "" when nothing is (a topic name is never empty [MQTT-4.7.3-1]). */
  private topic = "";
  /** The index's version the entries were read at. */
  private version = -1;
  private count = 0;
  private first: Subscription | null = null;
  /** The entries after the first, once a topic matched two or more; kept for the next recording. */
  private rest: (Subscription | null)[] | null = null;

  /** Whether the memo holds what `topic` matches in the index at `version`. */
  holds(topic: string, version: number): boolean {
    return topic === this.topic && version === this.version;
  }

  /** Calls `visit` with each remembered subscription, in the order the index matched them. */
  replay(visit: (sub: Subscription) => void): void {
    const n = this.count;
    if (n === 0) return;
    visit(this.first as Subscription);
    const rest = this.rest as (Subscription | null)[];
    for (let i = 1; i < n; i++) visit(rest[i - 1] as Subscription);
  }

  /** Starts remembering what `topic` matches at `version` (the entries follow through `keep`). */
  begin(topic: string, version: number): void {
    this.topic = topic;
    this.version = version;
    this.count = 0;
    this.first = null;
    this.rest?.fill(null);
  }

  /** The next subscription the index matched for the topic being remembered; past MEMO_MAX, the memo gives up. */
  keep(sub: Subscription): void {
    const n = this.count;
    if (this.topic === "") return;
    if (n === MEMO_MAX) {
      this.forget();
      return;
    }
    if (n === 0) this.first = sub;
    else (this.rest ??= [])[n - 1] = sub;
    this.count = n + 1;
  }

  /** Remembers nothing (and holds no subscription). */
  forget(): void {
    this.begin("", -1);
  }
}
