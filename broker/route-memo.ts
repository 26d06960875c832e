import type { Subscription } from "./subscription-index.js";

/**
 * A memo remembers at most this many matched subscriptions. A topic that matches more is walked every time: the
 * memo only remembers that it did, so the walks after the first do not pass through it.
 */
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
 * (never replays it: the version changed) until its publisher's next publish, until its client goes (the session
 * drops its memo on detach), or until the idle sweep finds it unused for a whole pass (Session.trimIdle).
 */
export class RouteMemo {
  /** The topic remembered; "" when nothing is (a topic name is never empty [MQTT-4.7.3-1]). */
  private topic = "";
  /** The index's version the entries were read at. */
  private version = -1;
  /** Entries remembered, or TOO_MANY: the topic matched more than MEMO_MAX at this version (none are kept). */
  private count = 0;
  /** Replayed or filled since the idle sweep's last visit (`usedSinceLastSweep`). */
  private used = false;
  private first: Subscription | null = null;
  /** The entries after the first, once a topic matched two or more; kept for the next recording. */
  private rest: (Subscription | null)[] | null = null;

  /** Whether the memo knows what `topic` matches in the index at `version` (see `replay`). */
  holds(topic: string, version: number): boolean {
    return topic === this.topic && version === this.version;
  }

  /**
   * Calls `visit` with each remembered subscription, in the order the index matched them. False, visiting none,
   * when the topic matched more than MEMO_MAX: the caller walks the index itself.
   */
  replay(visit: (sub: Subscription) => void): boolean {
    this.used = true;
    const n = this.count;
    if (n === TOO_MANY) return false;
    if (n === 0) return true;
    visit(this.first as Subscription);
    const rest = this.rest as (Subscription | null)[];
    for (let i = 1; i < n; i++) visit(rest[i - 1] as Subscription);
    return true;
  }

  /** Starts remembering what `topic` matches at `version` (the entries follow through `keep`). */
  begin(topic: string, version: number): void {
    this.used = true;
    this.topic = topic;
    this.version = version;
    this.release(0);
  }

  /** The next subscription the index matched for the topic being remembered; past MEMO_MAX, the memo gives up. */
  keep(sub: Subscription): void {
    const n = this.count;
    if (n === TOO_MANY) return;
    if (n === MEMO_MAX) {
      this.release(TOO_MANY);
      return;
    }
    if (n === 0) this.first = sub;
    else (this.rest ??= [])[n - 1] = sub;
    this.count = n + 1;
  }

  /** Whether the memo was replayed or filled since the last call (the idle sweep's visit, Session.trimIdle). */
  usedSinceLastSweep(): boolean {
    const used = this.used;
    this.used = false;
    return used;
  }

  /** Remembers nothing (a walk that did not finish). */
  forget(): void {
    this.begin("", -1);
  }

  private release(count: number): void {
    this.count = count;
    this.first = null;
    this.rest?.fill(null);
  }
}

/** `RouteMemo.count` of a topic that matched more than MEMO_MAX subscriptions. */
const TOO_MANY = -1;
