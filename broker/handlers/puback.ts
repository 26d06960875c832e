import type { IPubackPacket } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { requirePacketId } from "./packet-id.js";

/** PUBACK: the client acknowledges an outgoing QoS 1 message; the window moves on [MQTT-4.3.2-1]. */
export function handlePuback(conn: Connection, packet: IPubackPacket): void {
  conn.session?.onPuback(requirePacketId(packet.messageId, "PUBACK"));
}
