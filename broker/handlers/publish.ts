import { isUtf8 } from "node:buffer";
import type { MessageProperties } from "../../core/message-properties.js";
import { orderKeyOfRoot } from "../../core/order-key.js";
import type { Publish5Packet } from "../codec5.js";
import { Disconnect5, RECEIVE_MAXIMUM } from "../link5.js";
import { propertiesLength } from "../properties.js";
import { messageProperties } from "./publish5.js";
import { AckType } from "../codec.js";
import type { Connection } from "../connection.js";
import { LimitExceeded, ProtocolError } from "../errors.js";
import { requirePacketId } from "./packet-id.js";
import { keepPacket } from "../lent-packets.js";
import type { StoreOpResult } from "../../core/store/types.js";
import type { ResultTarget } from "../journal.js";

/**
 * PUBLISH from a client: validate, authorize, route, acknowledge.
 * QoS 1: PUBACK after routing [MQTT-4.3.2-2]. QoS 2: routed once, on first receipt; the packet id is kept
 * until PUBREL so a re-sent PUBLISH is not delivered twice [MQTT-4.3.3-2]. A persistent session stores the packet
 * id only once the routing's writes and forwards landed, and PUBREC waits for it; in a cluster the message's root
 * is recorded with the packet id before it is routed at all.
 *
 * A QoS 1/2 publish the broker cannot accept without losing part of what its acknowledgement vouches for (the
 * events buffer is full during an SQS outage) is not handled: the connection is closed before routing, so the
 * client sends it again after reconnecting (3.1.1 has no negative PUBACK; decision 009).
 */
export function handlePublish(conn: Connection, packet: Publish5Packet): void {
  const broker = conn.broker;
  const v5 = conn.v5;
  let topic = packet.topic;
  let props: MessageProperties | undefined;
  if (v5 !== null) {
    // MQTT 5: the Topic Alias resolved, the message's own properties kept (decision 024).
    topic = v5.resolveTopic(topic, packet.props?.topicAlias);
    props = packet.props === undefined ? undefined : messageProperties(packet.props, broker.topicLimits);
  }
  const invalid = conn.topicNameError(topic);
  if (invalid !== null) {
    if (v5 !== null) throw new Disconnect5(0x90, `invalid topic name: ${invalid}`, "MQTT-3.3.2-2");
    throw new ProtocolError(`invalid topic name: ${invalid}`, "MQTT-3.3.2-2");
  }
  const qos = packet.qos;
  const payload = packet.payload as Buffer;
  if (qos === 0) {
    if (packet.dup) throw new ProtocolError("DUP set on a QoS 0 PUBLISH", "MQTT-3.3.1-2");
    if (props?.payloadFormatIndicator === 1 && !isUtf8(payload)) return;
    // Store writes it causes (a retained message) count towards what this client may have waiting for the store.
    const wrote = broker.journal.writes;
    broker.publisher.fromClient(conn, topic, payload, 0, packet.retain, props);
    conn.countWhileDurable(wrote, payload.length);
    return;
  }
  const packetId = requirePacketId(packet.messageId, "PUBLISH");
  const ackType = qos === 1 ? AckType.Puback : AckType.Pubrec;
  if (v5 !== null) {
    const repeated = qos === 2 && conn.session?.hasInboundQos2(packetId) === true;
    // More unacknowledged QoS 1/2 publishes than the Receive Maximum the server gave [MQTT-3.3.4-9].
    if (!repeated && conn.unacknowledgedInbound >= RECEIVE_MAXIMUM) {
      throw new Disconnect5(0x93, `more than ${RECEIVE_MAXIMUM} QoS 1 and 2 publishes unacknowledged`, "MQTT-3.3.4-9");
    }
    // The server checks a payload said to be UTF-8 and refuses one that is not (3.3.2.3.2): 0x99, not routed.
    if (!repeated && props?.payloadFormatIndicator === 1 && !isUtf8(payload)) {
      conn.writeAck(ackType, packetId, 0x99);
      return;
    }
  }
  // The event a publish causes carries its MQTT 5 properties too: they count with the payload.
  const eventBytes = payload.length + (packet.props === undefined ? 0 : propertiesLength(packet.props));
  if (!broker.publisher.admits(conn, topic, eventBytes) && !(qos === 2 && conn.session?.hasInboundQos2(packetId) === true)) {
    broker.stats.limitHits["events-backlog"]++;
    // MQTT 5 has a negative acknowledgement for it: 0x97, and the client may send it again later.
    if (v5 !== null) {
      if (qos === 2) forgetRoot(conn, packetId);
      conn.writeAck(ackType, packetId, 0x97);
      return;
    }
    throw new LimitExceeded("events-backlog", `QoS ${qos} publish refused: the events buffer is full (events.maxBufferedEvents / maxBufferedBytes)`);
  }
  // The acknowledgement waits until every store write this message caused is durable.
  const mark = broker.journal.writes;
  if (qos === 1) {
    // A re-send of one its previous node had not acknowledged keeps that copy's order key (decision 045).
    const session = conn.session;
    const kept = session === null ? undefined : session.resentKey(packetId, packet.dup);
    const allowed = broker.publisher.fromClient(conn, topic, payload, 1, packet.retain, props, kept);
    const order = kept ?? session?.publishCount ?? 0;
    conn.ackWhenDurable(AckType.Puback, packetId, mark, payload.length, allowed || v5 === null ? 0 : 0x87, order);
    return;
  }
  if (v5 !== null && conn.session?.hasInboundQos2(packetId) !== true && (topic.startsWith("$SYS") || !(conn.policy?.canPublish(topic) ?? false))) {
    // Refused at PUBREC (0x87): the exchange ends there, no packet id is kept (4.3.3).
    broker.publisher.fromClient(conn, topic, payload, 2, packet.retain, props);
    conn.writeAck(AckType.Pubrec, packetId, 0x87);
    return;
  }
  const session = conn.session as NonNullable<Connection["session"]>;
  // Received before, but the claim's snapshot does not show its routing finished: routed again under its root.
  const pending = session.inboundRoot(packetId);
  if (!session.hasInboundQos2(packetId) || pending !== undefined) {
    const durable = session.persistent && session.epoch > 0;
    // In a cluster the message's root is recorded with its packet id before the routing: a copy the client re-sends
    // to another node (take-over, crash, pause) is routed again under the same root, and each subscriber's store
    // keeps one copy (decision 025). The record is applied first and the PUBLISH handled again once it is (the
    // connection's later packets wait), so no copy exists under a root that a newer claim's snapshot lacks.
    // The root carries the message's order key (decision 038), so a copy routed again under it on another node keeps
    // its place among the publisher's messages instead of taking that node's newer claim's key.
    const root = pending ?? (durable ? broker.publisher.qos2Root(session) : null);
    if (root !== null && pending === undefined) {
      // Handled again once the record is applied: a packet the decoder lent is copied (broker/lent-packets.ts).
      const record: RootRecord = { conn, session, packet: keepPacket(packet), root };
      broker.journal.write({ op: "inbound2.add", clientId: session.clientId, epoch: session.epoch, packetId, root }, ROOT_RECORDED, record);
      conn.suspend();
      return;
    }
    const order = root === null ? undefined : orderKeyOfRoot(root);
    broker.journal.withDedupId(root, () => broker.publisher.fromClient(conn, topic, payload, 2, packet.retain, props, order));
    session.receivedInboundQos2(packetId);
    if (durable) {
      // Routed: stored after what routing wrote and sent landed. A marker recorded as routed without its forwards
      // would answer the PUBLISH re-sent to another node after a crash with PUBREC, routing nothing (decision 020).
      broker.journal.writeLate({ op: "inbound2.add", clientId: session.clientId, epoch: session.epoch, packetId });
    }
  }
  conn.ackWhenDurable(AckType.Pubrec, packetId, mark, payload.length);
}

/**
 * A QoS 2 publish refused at PUBREC after its root record was applied (handled again by `afterRootRecord`, the events
 * buffer filled meanwhile): the exchange ends there (4.3.3), so the record goes too, or the store would keep the id
 * as received, and every later claim would count it against the Receive Maximum until the client reuses the id.
 */
function forgetRoot(conn: Connection, packetId: number): void {
  const session = conn.session;
  if (session === null || session.hasInboundQos2(packetId) || session.inboundRoot(packetId) === undefined) return;
  session.forgetInboundRoot(packetId);
  conn.broker.journal.write({ op: "inbound2.delete", clientId: session.clientId, epoch: session.epoch, packetId });
}

/** A QoS 2 publish whose root record (decision 025) is on its way to the store; its connection is suspended. */
interface RootRecord {
  conn: Connection;
  session: NonNullable<Connection["session"]>;
  packet: Publish5Packet;
  root: string;
}

/**
 * The store's answer to a root record. Handled after the journal handed out the batch's results, so the routing's
 * writes and sends belong to a batch of their own (the inbound marker after them, decision 020).
 */
const ROOT_RECORDED: ResultTarget<RootRecord> = {
  onStoreResult(record: RootRecord, result: StoreOpResult): void {
    process.nextTick(afterRootRecord, record, result);
  },
};

/**
 * Fenced: a newer claim owns the publisher's session (its client moved, and re-sends the PUBLISH there); this copy
 * is not routed and never acknowledged: the connection closes as taken over. A node reading a PUBLISH late (paused,
 * or its network held the bytes) after the client took its session elsewhere would otherwise route it under a root
 * the new owner never saw, next to the new owner's routing of the re-sent copy: two copies (decision 023, S13).
 * Applied (or refused for another reason, as before): routed under the root. The connection closed meanwhile: not
 * routed; the client re-sends it, and the claim's snapshot then carries the root.
 */
function afterRootRecord(record: RootRecord, result: StoreOpResult): void {
  const { conn, session, packet } = record;
  if (conn.isClosed || conn.session !== session) return;
  if (!result.ok && result.reason === "fenced") {
    conn.close("takeover");
    return;
  }
  session.routeInboundUnder(packet.messageId as number, record.root);
  try {
    handlePublish(conn, packet);
  } catch (err) {
    conn.close(err instanceof LimitExceeded ? "limit-exceeded" : "protocol-error", err as Error);
    return;
  }
  conn.resume();
}
