import type { IUnsubscribePacket } from "mqtt-packet";
import { encodeUnsuback5 } from "../codec5-control.js";
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
  for (const filter of new Set(packet.unsubscriptions)) if (conn.broker.subscriptions.unsubscribe(session, filter)) removed.push(filter);
  // MQTT 5: one reason code per filter, in order (3.11.3): 0x00 removed, 0x11 there was no such subscription (a
  // filter repeated in the packet is removed by its first occurrence).
  const codes = conn.v5 === null ? null : packet.unsubscriptions.map((f, i) => (removed.includes(f) && packet.unsubscriptions.indexOf(f) === i ? 0 : 0x11));
  if (removed.length === 0) {
    writeUnsuback(conn, packetId, codes);
    return;
  }
  // 3.1.1 UNSUBACK has no failure code: delivery stops at once; the store catches up (or is corrected on the
  // next claim, which restores only what the store holds).
  conn.suspend();
  void conn.broker.subscriptions.persist(session, {}, removed).then(() => {
    if (conn.isClosed) return;
    writeUnsuback(conn, packetId, codes);
    conn.resume();
  });
}

function writeUnsuback(conn: Connection, packetId: number, codes: number[] | null): void {
  if (codes === null) conn.writePacket({ cmd: "unsuback", messageId: packetId, granted: [] });
  else conn.write(encodeUnsuback5(packetId, codes));
}
