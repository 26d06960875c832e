import type { ISubscribePacket, QoS } from "mqtt-packet";
import { validateTopicFilter } from "../../core/topic/index.js";
import type { Connection } from "../connection.js";
import { ProtocolError } from "../errors.js";
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
export function handleSubscribe(conn: Connection, packet: ISubscribePacket): void {
  const packetId = requirePacketId(packet.messageId, "SUBSCRIBE");
  const subs = packet.subscriptions;
  if (subs.length === 0) throw new ProtocolError("SUBSCRIBE without topic filters", "MQTT-3.8.3-3");
  const broker = conn.broker;
  checkFilterCount(conn, subs.length, "SUBSCRIBE");
  const session = conn.session as NonNullable<Connection["session"]>;
  const policy = conn.policy as NonNullable<Connection["policy"]>;
  const maxSubs = broker.config.limits.maxSubscriptionsPerSession;
  // Position of each filter's last occurrence: only that one is handled.
  const last = new Map<string, number>();
  for (let i = 0; i < subs.length; i++) last.set((subs[i] as ISubscribePacket["subscriptions"][number]).topic, i);
  const granted: number[] = new Array<number>(subs.length).fill(FAILURE);
  const added: { filter: string; qos: QoS }[] = [];
  for (const [filter, i] of last) {
    const qos = (subs[i] as ISubscribePacket["subscriptions"][number]).qos;
    const invalid = validateTopicFilter(filter, broker.topicLimits);
    if (invalid !== null) {
      broker.onSubscribeRefused(conn, filter, `invalid filter: ${invalid}`, qos);
      continue;
    }
    const allowed = policy.canSubscribe(filter, qos);
    if (allowed === null) {
      broker.onSubscribeRefused(conn, filter, "not authorized", qos);
      continue;
    }
    if (!session.subscriptions.has(filter) && session.subscriptions.size >= maxSubs) {
      broker.onSubscribeRefused(conn, filter, `more than ${maxSubs} subscriptions`, qos);
      continue;
    }
    broker.subscribe(session, filter, allowed, qos);
    granted[i] = allowed;
    added.push({ filter, qos: allowed });
  }
  if (last.size < subs.length) {
    // Earlier occurrences of a granted filter: granted at their own QoS, then replaced by the last one.
    for (let i = 0; i < subs.length; i++) {
      const { topic: filter, qos } = subs[i] as ISubscribePacket["subscriptions"][number];
      const at = last.get(filter) as number;
      if (at !== i && granted[at] !== FAILURE) granted[i] = policy.canSubscribe(filter, qos) ?? FAILURE;
    }
  }
  if (added.length === 0) {
    conn.writePacket({ cmd: "suback", messageId: packetId, granted });
    return;
  }
  // A persistent session's subscriptions are durable before SUBACK; if the store fails they are refused.
  const record: Record<string, QoS> = {};
  for (const { filter, qos } of added) record[filter] = qos;
  conn.suspend();
  void broker.persistSubscriptions(session, record, []).then((ok) => {
    if (conn.isClosed || conn.session !== session) return;
    if (!ok) {
      for (const { filter } of added) broker.unsubscribe(session, filter);
      for (let i = 0; i < granted.length; i++) granted[i] = FAILURE;
    }
    // SUBACK carries the SUBSCRIBE's packet id [MQTT-3.8.4-2].
    conn.writePacket({ cmd: "suback", messageId: packetId, granted });
    if (ok) for (const { filter, qos } of added) broker.deliverRetained(session, filter, qos);
    conn.resume();
  });
}
