import type { EventEmitter } from "node:events";
import type { QoS } from "mqtt-packet";
import type { ClientPolicy } from "../core/auth/types.js";
import type { Store } from "../core/store/types.js";
import { type SubscriptionWord, wordQos } from "../core/subscription-word.js";
import type { BrokerEvents } from "./broker-types.js";
import type { Connection } from "./connection.js";
import { applySubscriptionChanges, reviseSubscriptions, type SubscriptionEditor } from "./policy-subscriptions.js";
import type { RecheckHost } from "./recheck.js";
import type { RetainedMessages } from "./retained-messages.js";
import type { Session } from "./session.js";
import type { SubscriptionIndex } from "./subscription-index.js";
import type { DropReason, Message } from "./types.js";

/** What changing subscriptions needs from the broker core. */
export interface SubscriptionParts {
  readonly index: SubscriptionIndex;
  readonly store: Pick<Store, "updateSubscriptions">;
  readonly retained: Pick<RetainedMessages, "deliver">;
  readonly events: Pick<EventEmitter<BrokerEvents>, "emit">;
  /** Drop accounting (the broker). */
  readonly host: { onDrop(session: Session | null, msg: Message, reason: DropReason): void };
}

/**
 * The subscriptions of the sessions held here, as SUBSCRIBE, UNSUBSCRIBE, the REST gateway and a new policy change
 * them: the index and the session follow, the store records them (fenced by the session's epoch), retained
 * messages go to a new subscription, and each change is an event ("session.subscribed", "session.unsubscribed",
 * "subscribe.refused").
 */
export class Subscriptions implements SubscriptionEditor, RecheckHost {
  readonly index: SubscriptionIndex;

  constructor(private readonly parts: SubscriptionParts) {
    this.index = parts.index;
  }

  /**
   * Adds or replaces a subscription (`word`: the granted QoS, with MQTT 5 options: core/subscription-word.ts);
   * `requested` and `source` are for events.
   */
  subscribe(session: Session, filter: string, word: SubscriptionWord, requested: QoS = wordQos(word), source: "mqtt" | "rest" | "policy" = "mqtt"): void {
    this.index.add(session, filter, word);
    this.parts.events.emit("session.subscribed", session.clientId, filter, wordQos(word), requested, source);
  }

  unsubscribe(session: Session, filter: string, source: "mqtt" | "rest" | "policy" = "mqtt"): boolean {
    if (!session.removeSubscription(filter)) return false;
    this.index.remove(filter, session.clientId);
    this.parts.events.emit("session.unsubscribed", session.clientId, filter, source);
    return true;
  }

  /** Records subscription changes in the store (fenced by the session's epoch). Resolves false on failure. */
  async persist(session: Session, add: Record<string, SubscriptionWord>, remove: string[]): Promise<boolean> {
    if (session.epoch === 0) return true;
    try {
      return await this.parts.store.updateSubscriptions(session.clientId, session.epoch, add, remove);
    } catch (err) {
      this.parts.events.emit("store.error", "updateSubscriptions", err as Error, 1);
      return false;
    }
  }

  /**
   * Sends the retained messages matching a new subscription, RETAIN=1 [MQTT-3.3.1-6] [MQTT-3.3.1-8]: read from the
   * store's index page by page (another node, or the REST gateway, may have set them) once this node's own pending
   * writes landed, and streamed under the slow-consumer bound (broker/retained.ts).
   */
  deliverRetained(session: Session, filter: string, grantedQos: QoS): void {
    this.parts.retained.deliver(session, filter, grantedQos);
  }

  /** A filter of a SUBSCRIBE from `conn` was refused (reported as "subscribe.refused"). */
  refusedFor(conn: Connection, filter: string, reason: string, requested: QoS): void {
    this.parts.events.emit("subscribe.refused", conn.clientId ?? "", filter, reason, requested);
  }

  /** SubscriptionEditor: a filter added from outside a SUBSCRIBE was refused. */
  subscribeRefused(clientId: string, filter: string, reason: string, requested: QoS): void {
    this.parts.events.emit("subscribe.refused", clientId, filter, reason, requested);
  }

  onDrop(session: Session, msg: Message, reason: DropReason): void {
    this.parts.host.onDrop(session, msg, reason);
  }

  /**
   * `policy` governs the connection from now on: the identity of a live client changed (a user or role in the store,
   * issue 15), or it re-authenticated (MQTT 5, broker/handlers/reauth5.ts); at CONNECT, before the session is
   * attached, it only sets the policy (adoptDecision). The attached session's subscriptions follow the new policy
   * (reviseSubscriptions, broker/policy-subscriptions.ts); resolves to the filters it removed.
   */
  revisePolicy(conn: Connection, policy: ClientPolicy): Promise<string[]> {
    conn.usePolicy(policy);
    const session = conn.session;
    if (session === null || session.link !== conn) return Promise.resolve([]);
    return reviseSubscriptions(this, session, policy);
  }

  /** Subscriptions of a session held here changed through the REST gateway (applySubscriptionChanges). */
  applyRemote(session: Session, add: Record<string, QoS>, remove: string[], deliverRetained: boolean): void {
    applySubscriptionChanges(this, session, add, remove, deliverRetained);
  }
}
