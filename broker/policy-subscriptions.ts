import type { QoS } from "mqtt-packet";
import type { ClientPolicy } from "../core/auth/types.js";
import { type SubscriptionWord, withQos, wordQos } from "../core/subscription-word.js";
import type { Session } from "./session.js";
import type { SubscriptionIndex } from "./subscription-index.js";
import type { DropReason, Message } from "./types.js";

/** What changing a session's subscriptions from outside its SUBSCRIBE packets needs from the broker. */
export interface SubscriptionEditor {
  readonly index: Pick<SubscriptionIndex, "add" | "remove">;
  /** Subscriptions.unsubscribe: session, index and a "session.unsubscribed" event. */
  unsubscribe(session: Session, filter: string, source: "policy"): boolean;
  persist(session: Session, add: Record<string, SubscriptionWord>, remove: string[]): Promise<boolean>;
  deliverRetained(session: Session, filter: string, grantedQos: QoS): void;
  onDrop(session: Session, msg: Message, reason: DropReason): void;
  subscribeRefused(clientId: string, filter: string, reason: string, requested: QoS): void;
}

/**
 * Subscriptions.revisePolicy, for a session attached to the connection: subscriptions `policy` no longer allows are
 * removed (index, session, store; event source "policy"), those it grants at a lower QoS are lowered, and every
 * kept one gets its delivery guard from the new policy; queued and in-flight messages it refuses are dropped.
 * Resolves to the removed filters once the store has them (or the write failed: reported as "store.error").
 */
export async function reviseSubscriptions(editor: SubscriptionEditor, session: Session, policy: ClientPolicy): Promise<string[]> {
  session.usePolicy(policy);
  const removed: string[] = [];
  const lowered: Record<string, SubscriptionWord> = {};
  for (const [filter, word] of [...session.subscriptions]) {
    const granted = policy.canSubscribe(filter, wordQos(word));
    if (granted === null) {
      editor.unsubscribe(session, filter, "policy");
      removed.push(filter);
      continue;
    }
    if (granted !== wordQos(word)) lowered[filter] = withQos(word, granted);
    editor.index.add(session, filter, withQos(word, granted));
  }
  if (removed.length > 0 || Object.keys(lowered).length > 0) await editor.persist(session, lowered, removed);
  // Messages already queued or in flight on topics the new rules refuse are not delivered (as on resume).
  for (const msg of session.discardOutgoing((topic) => policy.canSubscribe(topic, 0) !== null)) editor.onDrop(session, msg, "not-authorized");
  return removed;
}

/**
 * Subscriptions.applyRemote (Broker.applyRemoteSubscriptions), for a session held here: the index follows, and
 * retained messages are sent if it is attached. The node that holds the client checks each added filter against
 * the client's own rules (the gateway checked them too; this covers a gateway that could not): a refused filter is
 * not added and is removed from the store, a lower granted QoS replaces the requested one.
 */
export function applySubscriptionChanges(editor: SubscriptionEditor, session: Session, add: Record<string, QoS>, remove: string[], deliverRetained: boolean): void {
  const clientId = session.clientId;
  for (const filter of remove) {
    if (session.removeSubscription(filter)) editor.index.remove(filter, clientId);
  }
  const policy = session.link !== null ? session.clientPolicy : null;
  const refused: string[] = [];
  const lowered: Record<string, QoS> = {};
  for (const [filter, requested] of Object.entries(add)) {
    let qos = requested;
    if (policy !== null) {
      const granted = policy.canSubscribe(filter, requested);
      if (granted === null) {
        if (session.removeSubscription(filter)) editor.index.remove(filter, clientId);
        refused.push(filter);
        editor.subscribeRefused(clientId, filter, "not authorized", requested);
        continue;
      }
      if (granted !== requested) lowered[filter] = qos = granted;
    }
    editor.index.add(session, filter, qos);
    if (deliverRetained && session.link !== null) editor.deliverRetained(session, filter, qos);
  }
  if (refused.length > 0 || Object.keys(lowered).length > 0) void editor.persist(session, lowered, refused);
}
