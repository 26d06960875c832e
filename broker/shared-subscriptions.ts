import { RETAIN_AS_PUBLISHED, type SubscriptionWord, wordId } from "../core/subscription-word.js";
import type { Session } from "./session.js";
import { SharedGroup } from "./shared.js";
import type { Message } from "./types.js";

/** What the shared subscriptions of a node need from the broker. */
export interface SharedHost {
  onDeliveryDenied(session: Session, msg: Message): void;
  /** In a cluster: sends `msg` to `node` for one member of its group `key`. */
  forwardShared(node: string, msg: Message, key: string): void;
}

/** Groups whose turn a node remembers; beyond, it starts over (balance holds within a few messages again). */
const MAX_TURNS = 100_000;

/**
 * The shared subscription groups of one node (decision 026), by `$share/{ShareName}/{filter}`, and the choice of
 * who gets a message: a member here (SharedGroup.pick) or, in a cluster, another node with members, in turn.
 */
export class SharedSubscriptions {
  private readonly groups = new Map<string, SharedGroup>();
  /** In a cluster: per group, whose turn it is among the nodes with members (this one included). */
  private readonly turns = new Map<string, number>();

  constructor(private readonly host: SharedHost) {}

  get(key: string): SharedGroup | undefined {
    return this.groups.get(key);
  }

  /** Adds or updates a member. `created`: the group is new (its trie entry is the caller's); `joined`: the member is. */
  join(key: string, session: Session, word: SubscriptionWord): { created: SharedGroup | null; joined: boolean } {
    let group = this.groups.get(key);
    let created: SharedGroup | null = null;
    if (group === undefined) {
      group = created = new SharedGroup(key);
      this.groups.set(key, group);
    }
    return { created, joined: group.set(session, word) };
  }

  /** Removes a member. `left`: it was one; `emptied`: the group is gone (its trie entry is the caller's). */
  leave(key: string, clientId: string): { left: boolean; emptied: boolean } {
    const group = this.groups.get(key);
    if (group === undefined || !group.remove(clientId)) return { left: false, emptied: false };
    if (group.size > 0) return { left: true, emptied: false };
    this.groups.delete(key);
    this.turns.delete(key);
    return { left: true, emptied: true };
  }

  /**
   * One member of group `key` gets `msg`: a member here or one of `nodes` (other nodes with members), taken in
   * turn per group when `rotate`, else a member here first. `except`: a member that is leaving. False: none.
   */
  offer(key: string, msg: Message, except: Session | null, nodes: readonly string[], rotate: boolean): boolean {
    const group = this.groups.get(key);
    const here = group !== undefined && group.size > (except !== null && group.has(except) ? 1 : 0) ? 1 : 0;
    const choices = here + nodes.length;
    if (choices === 0) return false;
    let turn = 0;
    if (rotate && choices > 1) {
      turn = (this.turns.get(key) ?? 0) % choices;
      if (this.turns.size >= MAX_TURNS && !this.turns.has(key)) this.turns.clear();
      this.turns.set(key, turn + 1);
    }
    if (turn < here) return this.deliver(group as SharedGroup, msg, except);
    this.host.forwardShared(nodes[turn - here] as string, msg, key);
    return true;
  }

  /**
   * To one member of `group` (SharedGroup.pick), at min(its QoS, the member's granted QoS), with the member's
   * Subscription Identifier. False when the group has no member left.
   */
  deliver(group: SharedGroup, msg: Message, except: Session | null): boolean {
    const member = group.pick(except);
    if (member === null) return false;
    const session = member.session;
    if (!session.mayReceive(msg.topic, group.key)) {
      this.host.onDeliveryDenied(session, msg);
      return true;
    }
    const id = wordId(member.word);
    const retain = (member.word & RETAIN_AS_PUBLISHED) !== 0 && msg.retain;
    session.deliver(msg, SharedGroup.qosFor(member, msg.qos), retain, id === 0 ? undefined : [id], group.key);
    return true;
  }
}
