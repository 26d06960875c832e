import type { IPubcompPacket } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { requirePacketId } from "./packet-id.js";

/** PUBCOMP: the QoS 2 exchange for an outgoing message is complete; its packet id is free again. */
export function handlePubcomp(conn: Connection, packet: IPubcompPacket): void {
  conn.session?.onPubcomp(requirePacketId(packet.messageId, "PUBCOMP"));
}
