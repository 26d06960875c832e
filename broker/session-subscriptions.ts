import type { ClientPolicy, DeliveryGuard } from "../core/auth/types.js";
import { SubscriptionMap } from "../core/subscription-map.js";
import type { SubscriptionWord } from "../core/subscription-word.js";
import { SessionClaimState } from "./session-claim-state.js";
import { DeliveryGuards } from "./session-guards.js";

/**
 * A session's subscriptions and what its client may read through them: the policy it is held to and the delivery
 * guards that policy puts on them (broker/session-guards.ts, docs/auth.md "Exact authorization").
 *
 * The base of `Session` (broker/session.ts) above its claim state, not a part it holds: every session has
 * subscriptions, so a separate object would cost one more allocation and hop per session.
 */
export class SessionSubscriptions extends SessionClaimState {
  /** Filter -> subscription: QoS, and MQTT 5 options and identifier (core/subscription-word.ts). */
  readonly subscriptions = new SubscriptionMap();
  /** What the client may read, from the first policy it is given (`usePolicy`); null: its deliveries are not checked. */
  private guards: DeliveryGuards | null = null;

  /**
   * From now on deliveries are authorized against `policy`: the connecting client's, or null when this node does
   * not know it (the session is served by another node, or restored from the store). Call before the
   * subscriptions are (re)set, so they get their guards from it.
   */
  usePolicy(policy: ClientPolicy | null): void {
    if (policy !== null || this.guards !== null) (this.guards ??= new DeliveryGuards()).use(policy);
  }

  /** The client's policy, when this node knows it. */
  get clientPolicy(): ClientPolicy | null {
    return this.guards === null ? null : this.guards.policy;
  }

  /** Adds or replaces a subscription. Returns its delivery guard (null: deliveries through it are not checked). */
  setSubscription(filter: string, word: SubscriptionWord, guardFilter = filter): DeliveryGuard | null {
    this.subscriptions.set(filter, word);
    // A shared subscription's guard is of its topic filter, without the `$share/{ShareName}/` prefix.
    return this.guards === null ? null : this.guards.subscribed(filter, guardFilter);
  }

  removeSubscription(filter: string): boolean {
    this.guards?.unsubscribed(filter);
    return this.subscriptions.delete(filter);
  }

  clearSubscriptions(): void {
    this.guards?.clear();
    this.subscriptions.clear();
  }

  /**
   * May a message on `topic`, matched by this session's subscription `filter`, be delivered? Pure and
   * allocation-free: retained delivery calls it per message.
   */
  mayReceive(topic: string, filter: string): boolean {
    return this.guards === null || this.guards.mayReceive(topic, filter);
  }

  /** May a message on `topic` be delivered, whichever subscription matched it (routed from another node, stored)? */
  mayReceiveAny(topic: string): boolean {
    return this.guards === null || this.guards.mayReceiveAny(topic);
  }
}
