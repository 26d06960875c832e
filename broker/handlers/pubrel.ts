import type { IPubrelPacket } from "mqtt-packet";
import { AckType } from "../codec.js";
import type { Connection } from "../connection.js";
import { requirePacketId } from "./packet-id.js";

/**
 * PUBREL: the client releases an inbound QoS 2 message. The packet id is forgotten, so a later PUBLISH
 * with it is a new message, and PUBCOMP is sent, also for an unknown id [MQTT-4.3.3-2] [MQTT-4.3.3-2].
 */
export function handlePubrel(conn: Connection, packet: IPubrelPacket): void {
  const packetId = requirePacketId(packet.messageId, "PUBREL");
  const session = conn.session;
  const journal = conn.broker.journal;
  const mark = journal.writes;
  if (session !== null && session.releaseInboundQos2(packetId) && session.persistent && session.epoch > 0) {
    // PUBCOMP only once the store forgot the id too, or a restarted broker would drop the id's next message.
    journal.write({ op: "inbound2.delete", clientId: session.clientId, epoch: session.epoch, packetId });
  }
  conn.ackWhenDurable(AckType.Pubcomp, packetId, mark);
}
