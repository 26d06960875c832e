import { type SubscriptionWord, withQos, wordQos } from "../core/subscription-word.js";
import type { QoS } from "mqtt-packet";
import type { ClientPolicy } from "../core/auth/types.js";
import type { Session } from "./session.js";
import type { DropReason, Message } from "./types.js";

/** What a re-check changes subscriptions through (broker/subscriptions.ts), with drop accounting. */
export interface RecheckHost {
  subscribe(session: Session, filter: string, word: SubscriptionWord, requested: QoS, source: "policy"): void;
  unsubscribe(session: Session, filter: string, source: "policy"): boolean;
  persist(session: Session, add: Record<string, SubscriptionWord>, remove: string[]): Promise<boolean>;
  onDrop(session: Session, msg: Message, reason: DropReason): void;
}

/**
 * A resume under the client's current rules (they may have changed since the subscriptions were made, or this is
 * a restart with a new ACL; docs/security.md, "Sessions and identities"): a restored subscription the policy
 * refuses is removed, one it grants at a lower QoS is downgraded, durably, and both are reported (source
 * "policy"); queued and in-flight messages the client may no longer read (its rules refuse the topic as a filter)
 * are dropped, counted as not-authorized. Runs before the session is attached, so nothing slips through.
 */
export function recheckResumedSession(host: RecheckHost, session: Session, policy: ClientPolicy): void {
  const removed: string[] = [];
  const downgraded: Record<string, SubscriptionWord> = {};
  for (const [filter, word] of session.subscriptions) {
    const granted = ask(policy, filter, wordQos(word));
    if (granted === null) removed.push(filter);
    else if (granted < wordQos(word)) downgraded[filter] = withQos(word, granted);
  }
  for (const filter of removed) host.unsubscribe(session, filter, "policy");
  for (const [filter, word] of Object.entries(downgraded)) {
    host.subscribe(session, filter, word, wordQos(session.subscriptions.get(filter) ?? word), "policy");
  }
  if (removed.length > 0 || Object.keys(downgraded).length > 0) void host.persist(session, downgraded, removed);
  const dropped = session.discardOutgoing((topic) => ask(policy, topic, 0) !== null);
  for (const msg of dropped) host.onDrop(session, msg, "not-authorized");
}

/** The policy's answer; an authorizer that throws refuses. */
function ask(policy: ClientPolicy, filter: string, qos: QoS): QoS | null {
  try {
    return policy.canSubscribe(filter, qos);
  } catch {
    return null;
  }
}
