import type { IPubrecPacket } from "mqtt-packet";
import { AckType } from "../codec.js";
import type { Connection } from "../connection.js";
import { requirePacketId } from "./packet-id.js";

/**
 * PUBREC: the client received an outgoing QoS 2 message; the server answers PUBREL [MQTT-4.3.3-1], once the
 * "PUBREL sent" state is durable: after a crash the message is then re-sent as PUBREL, never as PUBLISH.
 */
export function handlePubrec(conn: Connection, packet: IPubrecPacket & { reasonCode?: number }): void {
  const packetId = requirePacketId(packet.messageId, "PUBREC");
  // MQTT 5: a PUBREC with a failure reason code (0x80 and above) ends the exchange; no PUBREL (4.3.3).
  if (conn.v5 !== null && (packet.reasonCode ?? 0) >= 0x80) {
    conn.session?.onRefused(packetId);
    return;
  }
  const mark = conn.broker.journal.writes;
  if (conn.session?.onPubrec(packetId)) conn.ackWhenDurable(AckType.Pubrel, packetId, mark);
}
