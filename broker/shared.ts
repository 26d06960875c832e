import { wordQos, type SubscriptionWord } from "../core/subscription-word.js";
import type { Session } from "./session.js";

/**
 * MQTT 5 shared subscriptions (4.8.2) on one node: `$share/{ShareName}/{filter}`. The sessions subscribed with the
 * same share name and filter form a group; each message matching the filter goes to one member of the group,
 * taken in turn, a connected member that keeps up before one that does not, an offline member (a persistent
 * session, which queues it) last. The broker's trie holds one entry per group; this class holds the members.
 */

/** `$share/{ShareName}/{filter}` split, or null for any other filter. */
export function parseShared(filter: string): { share: string; filter: string } | null {
  if (!filter.startsWith("$share/")) return null;
  const slash = filter.indexOf("/", 7);
  if (slash < 0) return { share: filter.slice(7), filter: "" };
  return { share: filter.slice(7, slash), filter: filter.slice(slash + 1) };
}

/**
 * Why a shared subscription filter is invalid, or null: a Share Name of at least one character without "/", "+"
 * or "#" [MQTT-4.8.2-1] [MQTT-4.8.2-2], followed by a topic filter (checked by the caller).
 */
export function sharedFilterError(share: string, filter: string): string | null {
  if (share.length === 0) return "a shared subscription needs a share name";
  if (share.includes("+") || share.includes("#")) return "a share name may not contain wildcards";
  if (filter.length === 0) return "a shared subscription needs a topic filter after the share name";
  return null;
}

interface Member {
  readonly session: Session;
  word: SubscriptionWord;
}

export class SharedGroup {
  private readonly members: Member[] = [];
  private next = 0;

  constructor(
    /** The full filter, `$share/{ShareName}/{filter}`: the key of the group. */
    readonly key: string,
  ) {}

  get size(): number {
    return this.members.length;
  }

  /** Adds or updates a member; true when it is new. */
  set(session: Session, word: SubscriptionWord): boolean {
    const member = this.members.find((m) => m.session.clientId === session.clientId);
    if (member !== undefined) {
      member.word = word;
      return false;
    }
    this.members.push({ session, word });
    return true;
  }

  has(session: Session): boolean {
    return this.members.some((m) => m.session === session);
  }

  remove(clientId: string): boolean {
    const i = this.members.findIndex((m) => m.session.clientId === clientId);
    if (i < 0) return false;
    this.members.splice(i, 1);
    if (this.next > i) this.next--;
    return true;
  }

  /**
   * The member the next message goes to, in turn: the first from the rotation point that is connected and not
   * congested, else the first connected one, else the first one; `except` (a leaving member) is skipped. Null when
   * the group has no other member.
   */
  pick(except: Session | null = null): Member | null {
    const n = this.members.length;
    let connected: Member | null = null;
    let any: Member | null = null;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const m = this.members[i] as Member;
      if (m.session === except) continue;
      const link = m.session.link;
      if (link !== null && !link.congested) {
        this.next = (i + 1) % n;
        return m;
      }
      if (link !== null) connected ??= m;
      any ??= m;
    }
    const chosen = connected ?? any;
    if (chosen !== null) this.next = (this.members.indexOf(chosen) + 1) % n;
    return chosen;
  }

  /** The QoS a member gets a message of `qos` at. */
  static qosFor(member: Member, qos: number): 0 | 1 | 2 {
    const granted = wordQos(member.word);
    return (granted < qos ? granted : qos) as 0 | 1 | 2;
  }
}
