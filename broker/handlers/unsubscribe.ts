import type { IUnsubscribePacket } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { ProtocolError } from "../errors.js";
import { checkFilterCount } from "./filter-count.js";
import { requirePacketId } from "./packet-id.js";

/**
 * UNSUBSCRIBE: remove each filter that matches a subscription exactly [MQTT-3.10.4-1] and always answer
 * UNSUBACK with the same packet id, even when nothing was removed [MQTT-3.10.4-4] [MQTT-3.10.4-5]. A filter
 * repeated within the packet is handled once; more than `limits.maxFiltersPerPacket` filters close the connection.
 */
export function handleUnsubscribe(conn: Connection, packet: IUnsubscribePacket): void {
  const packetId = requirePacketId(packet.messageId, "UNSUBSCRIBE");
  if (packet.unsubscriptions.length === 0) throw new ProtocolError("UNSUBSCRIBE without topic filters", "MQTT-3.10.3-2");
  checkFilterCount(conn, packet.unsubscriptions.length, "UNSUBSCRIBE");
  const session = conn.session as NonNullable<Connection["session"]>;
  const removed: string[] = [];
  for (const filter of new Set(packet.unsubscriptions)) if (conn.broker.unsubscribe(session, filter)) removed.push(filter);
  if (removed.length === 0) {
    conn.writePacket({ cmd: "unsuback", messageId: packetId, granted: [] });
    return;
  }
  // 3.1.1 UNSUBACK has no failure code: delivery stops at once; the store catches up (or is corrected on the
  // next claim, which restores only what the store holds).
  conn.suspend();
  void conn.broker.persistSubscriptions(session, {}, removed).then(() => {
    if (conn.isClosed) return;
    conn.writePacket({ cmd: "unsuback", messageId: packetId, granted: [] });
    conn.resume();
  });
}
