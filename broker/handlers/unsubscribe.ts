import type { IUnsubscribePacket } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { ProtocolError } from "../errors.js";
import { requirePacketId } from "./packet-id.js";

/**
 * UNSUBSCRIBE: remove each filter that matches a subscription exactly [MQTT-3.10.4-1] and always answer
 * UNSUBACK with the same packet id, even when nothing was removed [MQTT-3.10.4-4] [MQTT-3.10.4-5].
 */
export function handleUnsubscribe(conn: Connection, packet: IUnsubscribePacket): void {
  const packetId = requirePacketId(packet.messageId, "UNSUBSCRIBE");
  if (packet.unsubscriptions.length === 0) throw new ProtocolError("UNSUBSCRIBE without topic filters", "MQTT-3.10.3-2");
  const session = conn.session as NonNullable<Connection["session"]>;
  for (const filter of packet.unsubscriptions) conn.broker.unsubscribe(session, filter);
  conn.writePacket({ cmd: "unsuback", messageId: packetId, granted: [] });
}
