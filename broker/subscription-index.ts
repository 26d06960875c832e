import type { QoS } from "mqtt-packet";
import type { DeliveryGuard } from "../core/auth/types.js";
import { NO_LOCAL, RETAIN_AS_PUBLISHED, type SubscriptionWord, wordId, wordQos } from "../core/subscription-word.js";
import { SubscriptionTrie } from "../core/topic/index.js";
import type { RemoteRoutes } from "./broker-types.js";
import type { Session } from "./session.js";
import { parseShared, type SharedGroup } from "./shared.js";
import { SharedSubscriptions } from "./shared-subscriptions.js";
import type { Message } from "./types.js";

/** One entry of the trie: a session's subscription, or a shared subscription group's. */
export interface Subscription {
  /** The subscriber; null for a shared subscription group's entry (`group` set), which has members instead. */
  readonly session: Session | null;
  /** The group of a shared subscription entry (one trie entry per group), or null. */
  readonly group: SharedGroup | null;
  readonly qos: QoS;
  /** MQTT 5 No Local and Retain As Published bits (core/subscription-word.ts); 0 for 3.1.1. */
  readonly options: number;
  /** MQTT 5 Subscription Identifier; 0 for none. */
  readonly id: number;
  /** The deny patterns this filter overlaps (checked per delivered message), or null: nothing to check. */
  readonly guard: DeliveryGuard | null;
}

/** `Subscription.options` bit of a shared subscription group's entry (not part of any stored word). */
export const SHARED = 16;

/** What the index reports to its owner. */
export interface SubscriptionIndexHost {
  /** A shared subscription member's guard withheld a message (counted). */
  onDeliveryDenied(session: Session, msg: Message): void;
}

/**
 * The local subscription index: the subscriptions of the sessions this node holds, in one in-memory trie
 * (`core/topic`), and the shared subscription groups with members here (decision 026). In a cluster it tells the
 * route table when a filter gains its first local subscriber or loses its last (decision 017). The sessions' own
 * maps are theirs: `add` records in both (the session keeps the word and its delivery guard), `remove` only here.
 */
export class SubscriptionIndex {
  private readonly trie = new SubscriptionTrie<Subscription>();
  private routes: RemoteRoutes | null = null;
  /** Shared subscription groups of this node (decision 026). */
  readonly shared: SharedSubscriptions;

  constructor(host: SubscriptionIndexHost) {
    this.shared = new SharedSubscriptions({
      onDeliveryDenied: (session, msg) => host.onDeliveryDenied(session, msg),
      forwardShared: (node, msg, key) => this.routes?.forwardShared(node, msg, key),
    });
  }

  /** The cluster's route table (once, before any subscription is added). */
  useRoutes(routes: RemoteRoutes): void {
    this.routes = routes;
  }

  get size(): number {
    return this.trie.size;
  }

  /** Changes with every subscription added, replaced or removed (a RouteMemo holds while it is the same). */
  get version(): number {
    return this.trie.version;
  }

  /** Calls `visit` for every entry whose filter matches `topic`. */
  match(topic: string, visit: (sub: Subscription) => void): void {
    this.trie.match(topic, visit);
  }

  /** Records a subscription in the session and the trie, with its delivery guard from the session's policy. */
  add(session: Session, filter: string, word: SubscriptionWord): void {
    const shared = parseShared(filter);
    if (shared !== null) {
      // One trie entry per group, on the group's filter; the guard is the member's, on that filter too.
      session.setSubscription(filter, word, shared.filter);
      const { created, joined } = this.shared.join(filter, session, word);
      if (created !== null) this.trie.add(shared.filter, `\u0000${filter}`, { session: null, group: created, qos: 0, options: SHARED, id: 0, guard: null });
      // A node with a member has the group's route (`$share/…` as the filter, decision 026).
      if (joined) this.routes?.added(filter);
      return;
    }
    const guard = session.setSubscription(filter, word);
    const sub: Subscription = { session, group: null, qos: wordQos(word), options: word & (NO_LOCAL | RETAIN_AS_PUBLISHED), id: wordId(word), guard };
    if (this.trie.add(filter, session.clientId, sub)) this.routes?.added(filter);
  }

  /** Removes a subscription from the trie (the session's map is the caller's). */
  remove(filter: string, clientId: string): void {
    const shared = parseShared(filter);
    if (shared !== null) {
      const { left, emptied } = this.shared.leave(filter, clientId);
      if (left) this.routes?.removed(filter);
      if (emptied) this.trie.remove(shared.filter, `\u0000${filter}`);
      return;
    }
    if (this.trie.remove(filter, clientId)) this.routes?.removed(filter);
  }

  /** Makes the trie and the session's map match the subscriptions the store holds. */
  sync(session: Session, stored: Record<string, SubscriptionWord>): void {
    for (const filter of session.subscriptions.keys()) {
      if (!(filter in stored)) {
        session.removeSubscription(filter);
        this.remove(filter, session.clientId);
      }
    }
    for (const [filter, word] of Object.entries(stored)) this.add(session, filter, word);
  }

  /** Removes every subscription of a session that ends or leaves this node, from the trie and the session. */
  removeAll(session: Session): void {
    for (const filter of session.subscriptions.keys()) this.remove(filter, session.clientId);
    session.clearSubscriptions();
  }
}
