import type { IPubrecPacket } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { requirePacketId } from "./packet-id.js";

/** PUBREC: the client received an outgoing QoS 2 message; the server answers PUBREL [MQTT-4.3.3-1]. */
export function handlePubrec(conn: Connection, packet: IPubrecPacket): void {
  conn.session?.onPubrec(requirePacketId(packet.messageId, "PUBREC"));
}
