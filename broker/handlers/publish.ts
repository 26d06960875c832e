import type { IPublishPacket } from "mqtt-packet";
import { validateTopicName } from "../../core/topic/index.js";
import { AckType } from "../codec.js";
import type { Connection } from "../connection.js";
import { LimitExceeded, ProtocolError } from "../errors.js";
import { requirePacketId } from "./packet-id.js";

/**
 * PUBLISH from a client: validate, authorize, route, acknowledge.
 * QoS 1: PUBACK after routing [MQTT-4.3.2-2]. QoS 2: routed once, on first receipt; the packet id is kept
 * until PUBREL so a re-sent PUBLISH is not delivered twice [MQTT-4.3.3-2]. A persistent session stores the packet
 * id only once the routing's writes and forwards landed, and PUBREC waits for it.
 *
 * A QoS 1/2 publish the broker cannot accept without losing part of what its acknowledgement vouches for (the
 * events buffer is full during an SQS outage) is not handled: the connection is closed before routing, so the
 * client sends it again after reconnecting (3.1.1 has no negative PUBACK; decision 009).
 */
export function handlePublish(conn: Connection, packet: IPublishPacket): void {
  const broker = conn.broker;
  const topic = packet.topic;
  const invalid = validateTopicName(topic, broker.topicLimits);
  if (invalid !== null) throw new ProtocolError(`invalid topic name: ${invalid}`, "MQTT-3.3.2-2");
  const qos = packet.qos;
  const payload = packet.payload as Buffer;
  if (qos === 0) {
    if (packet.dup) throw new ProtocolError("DUP set on a QoS 0 PUBLISH", "MQTT-3.3.1-2");
    // Store writes it causes (a retained message) count towards what this client may have waiting for the store.
    const wrote = broker.journal.writes;
    broker.publishFromClient(conn, topic, payload, 0, packet.retain);
    conn.countWhileDurable(wrote, payload.length);
    return;
  }
  const packetId = requirePacketId(packet.messageId, "PUBLISH");
  if (!broker.admitsPublish(conn, topic, payload.length) && !(qos === 2 && conn.session?.inboundQos2.has(packetId) === true)) {
    broker.stats.limitHits["events-backlog"]++;
    throw new LimitExceeded("events-backlog", `QoS ${qos} publish refused: the events buffer is full (events.maxBufferedEvents / maxBufferedBytes)`);
  }
  // The acknowledgement waits until every store write this message caused is durable.
  const mark = broker.journal.writes;
  if (qos === 1) {
    broker.publishFromClient(conn, topic, payload, 1, packet.retain);
    conn.ackWhenDurable(AckType.Puback, packetId, mark, payload.length);
    return;
  }
  const session = conn.session as NonNullable<Connection["session"]>;
  const received = session.inboundQos2;
  // Received before, but the claim's snapshot does not show its routing finished: routed again under its root.
  const pending = session.inboundRoots.get(packetId);
  if (!received.has(packetId) || pending !== undefined) {
    const durable = session.persistent && session.epoch > 0;
    // In a cluster the message's root is recorded with its packet id before (in the batch of) the routing's
    // writes: a copy the client re-sends to another node (take-over, crash) is routed again under the same root,
    // and each subscriber's store keeps one copy (decision 025).
    const root = pending ?? (durable ? broker.qos2Root() : null);
    if (root !== null && pending === undefined) {
      broker.journal.write({ op: "inbound2.add", clientId: session.clientId, epoch: session.epoch, packetId, root });
    }
    broker.journal.withDedupId(root, () => broker.publishFromClient(conn, topic, payload, 2, packet.retain));
    received.add(packetId);
    session.inboundRoots.delete(packetId);
    if (durable) {
      // Routed: stored after what routing wrote and sent landed. A marker recorded as routed without its forwards
      // would answer the PUBLISH re-sent to another node after a crash with PUBREC, routing nothing (decision 020).
      broker.journal.writeLate({ op: "inbound2.add", clientId: session.clientId, epoch: session.epoch, packetId });
    }
  }
  conn.ackWhenDurable(AckType.Pubrec, packetId, mark, payload.length);
}
