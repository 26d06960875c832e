import type { ISubscribePacket, QoS } from "mqtt-packet";
import { type SubscriptionWord, subscriptionWord } from "../../core/subscription-word.js";
import { validateTopicFilter } from "../../core/topic/index.js";
import type { Connection } from "../connection.js";
import { encodeSuback5, Reason } from "../codec5-control.js";
import { Disconnect5 } from "../link5.js";
import { parseShared, sharedFilterError } from "../shared.js";
import { ProtocolError } from "../errors.js";
import type { Properties } from "../properties.js";
import { checkFilterCount } from "./filter-count.js";
import { requirePacketId } from "./packet-id.js";

const FAILURE = 0x80;

/**
 * SUBSCRIBE: one SUBACK return code per filter, in order [MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.9.3-1]; an invalid,
 * refused or over-limit filter gets 0x80. A repeated filter replaces the subscription [MQTT-3.8.4-3]. Retained
 * messages are sent after the SUBACK for every granted filter, also for a replaced one [MQTT-3.3.1-6].
 *
 * A filter repeated within one packet is handled once, as its last occurrence (which replaces the earlier ones):
 * one trie update, one store write, one retained delivery, one event. Each earlier occurrence still gets its own
 * return code in its position, as if it had been granted and then replaced: its own QoS as the policy grants it,
 * or 0x80 when the last occurrence was refused. More than `limits.maxFiltersPerPacket` filters close the
 * connection before any is handled (decision 009).
 */
export function handleSubscribe(conn: Connection, packet: ISubscribePacket & { props?: Properties }): void {
  const packetId = requirePacketId(packet.messageId, "SUBSCRIBE");
  const subs = packet.subscriptions;
  if (subs.length === 0) throw new ProtocolError("SUBSCRIBE without topic filters", "MQTT-3.8.3-3");
  const broker = conn.broker;
  const v5 = conn.v5 !== null;
  // MQTT 5: one Subscription Identifier for every filter of the packet (3.8.2.1.2), kept with each subscription.
  const subId = v5 ? (packet.props?.subscriptionIdentifiers?.[0] ?? 0) : 0;
  checkFilterCount(conn, subs.length, "SUBSCRIBE");
  const session = conn.session as NonNullable<Connection["session"]>;
  const policy = conn.policy as NonNullable<Connection["policy"]>;
  const maxSubs = broker.config.limits.maxSubscriptionsPerSession;
  // Position of each filter's last occurrence: only that one is handled.
  const last = new Map<string, number>();
  for (let i = 0; i < subs.length; i++) last.set((subs[i] as ISubscribePacket["subscriptions"][number]).topic, i);
  const granted: number[] = new Array<number>(subs.length).fill(FAILURE);
  const added: { filter: string; qos: QoS; word: SubscriptionWord; retained: boolean }[] = [];
  for (const [filter, i] of last) {
    const sub = subs[i] as ISubscribePacket["subscriptions"][number];
    const qos = sub.qos;
    // MQTT 5 says why (3.9.3): 0x8F invalid, 0x87 not authorized, 0x97 quota, 0x9E shared subscriptions.
    const shared = parseShared(filter);
    const invalid = validateTopicFilter(filter, broker.topicLimits) ?? (shared === null ? null : sharedFilterError(shared.share, shared.filter));
    if (invalid !== null) {
      if (v5) granted[i] = Reason.TopicFilterInvalid;
      broker.subscriptions.refusedFor(conn, filter, `invalid filter: ${invalid}`, qos);
      continue;
    }
    // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
    if (shared !== null && v5 && sub.nl === true) throw new Disconnect5(Reason.ProtocolError, "No Local on a shared subscription", "MQTT-3.8.3-4");
    // A shared subscription is authorized (and guarded) as its topic filter.
    const allowed = policy.canSubscribe(shared?.filter ?? filter, qos);
    if (allowed === null) {
      if (v5) granted[i] = Reason.NotAuthorized;
      broker.subscriptions.refusedFor(conn, filter, "not authorized", qos);
      continue;
    }
    const existed = session.subscriptions.has(filter);
    if (!existed && session.subscriptions.size >= maxSubs) {
      if (v5) granted[i] = Reason.QuotaExceeded;
      broker.subscriptions.refusedFor(conn, filter, `more than ${maxSubs} subscriptions`, qos);
      continue;
    }
    // MQTT 5 subscription options (3.8.3.1): No Local and Retain As Published are kept with the subscription;
    // Retain Handling says now whether retained messages are sent: 0 always, 1 for a new subscription, 2 never.
    const word = v5 ? subscriptionWord(allowed, sub.nl === true, sub.rap === true, subId) : allowed;
    broker.subscriptions.subscribe(session, filter, word, qos);
    granted[i] = allowed;
    const rh = v5 ? (sub.rh ?? 0) : 0;
    // No retained messages for a shared subscription (4.8.2).
    added.push({ filter, qos: allowed, word, retained: shared === null && (rh === 0 || (rh === 1 && !existed)) });
  }
  if (last.size < subs.length) {
    // Earlier occurrences of a granted filter: granted at their own QoS, then replaced by the last one.
    for (let i = 0; i < subs.length; i++) {
      const { topic: filter, qos } = subs[i] as ISubscribePacket["subscriptions"][number];
      const at = last.get(filter) as number;
      if (at !== i && (granted[at] as number) < FAILURE) granted[i] = policy.canSubscribe(parseShared(filter)?.filter ?? filter, qos) ?? (v5 ? Reason.NotAuthorized : FAILURE);
    }
  }
  if (added.length === 0) {
    writeSuback(conn, packetId, granted);
    return;
  }
  // A persistent session's subscriptions are durable before SUBACK; if the store fails they are refused.
  const record: Record<string, SubscriptionWord> = {};
  for (const { filter, word } of added) record[filter] = word;
  conn.suspend();
  void broker.subscriptions.persist(session, record, []).then((ok) => {
    if (conn.isClosed || conn.session !== session) return;
    if (!ok) {
      for (const { filter } of added) broker.subscriptions.unsubscribe(session, filter);
      for (let i = 0; i < granted.length; i++) granted[i] = FAILURE;
    }
    // SUBACK carries the SUBSCRIBE's packet id [MQTT-3.8.4-2].
    writeSuback(conn, packetId, granted);
    if (ok) for (const { filter, qos, retained } of added) if (retained) broker.subscriptions.deliverRetained(session, filter, qos);
    conn.resume();
  });
}

/** SUBACK in the client's version: 3.1.1 return codes, or MQTT 5 reason codes (the same values for success and 0x80). */
function writeSuback(conn: Connection, packetId: number, granted: number[]): void {
  if (conn.v5 === null) conn.writePacket({ cmd: "suback", messageId: packetId, granted });
  else conn.write(encodeSuback5(packetId, granted));
}
