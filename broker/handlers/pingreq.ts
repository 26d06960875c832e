import { PINGRESP } from "../codec.js";
import type { Connection } from "../connection.js";

/** PINGREQ: answer PINGRESP [MQTT-3.12.4-1]. The keepalive timer was refreshed when the packet arrived. */
export function handlePingreq(conn: Connection): void {
  conn.write(PINGRESP);
}
