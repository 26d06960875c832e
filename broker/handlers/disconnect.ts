import type { IDisconnectPacket } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { Disconnect5 } from "../link5.js";
import { grantedExpiry } from "./connect5.js";
import type { Properties } from "../properties.js";

/**
 * DISCONNECT: discard the will without publishing it [MQTT-3.14.4-3] and close [MQTT-3.14.4-1]. MQTT 5: reason
 * 0x04 (Disconnect with Will Message) keeps the will, to be published as on any other close (3.14.2.1); a
 * Session Expiry Interval may change a non-zero one, but not raise 0 (3.14.2.2.2).
 */
export function handleDisconnect(conn: Connection, packet: IDisconnectPacket & { props?: Properties }): void {
  const v5 = conn.v5;
  if (v5 !== null) {
    const expiry = packet.props?.sessionExpiryInterval;
    if (expiry !== undefined) {
      if (v5.connectExpiry === 0 && expiry !== 0) {
        throw new Disconnect5(0x82, "DISCONNECT sets a session expiry after CONNECT set none (3.14.2.2.2)");
      }
      // Capped as the CONNECT's was.
      v5.changeExpiry(grantedExpiry({ sessionExpiryInterval: expiry }, conn.broker.config.limits));
    }
    if (packet.reasonCode === 0x04) {
      conn.close("client-disconnect-with-will");
      return;
    }
  }
  conn.discardWill();
  conn.close("client-disconnect");
}
