import type { Packet } from "mqtt-packet";
import type { Connection } from "../connection.js";
import { ConnState } from "../connection-states.js";
import { assertNever, ProtocolError } from "../errors.js";
import { handleConnect } from "./connect.js";
import type { AuthPacket } from "./auth5.js";
import { handleDisconnect } from "./disconnect.js";
import { handlePingreq } from "./pingreq.js";
import { handlePuback } from "./puback.js";
import { handlePubcomp } from "./pubcomp.js";
import { handlePublish } from "./publish.js";
import { handlePubrec } from "./pubrec.js";
import { handlePubrel } from "./pubrel.js";
import { handleAuth } from "./reauth5.js";
import { handleSubscribe } from "./subscribe.js";
import { handleUnsubscribe } from "./unsubscribe.js";

/** The single dispatch point: one handler per packet type. Throwing closes the connection. */
export function dispatch(conn: Connection, packet: Packet): void {
  if (conn.state === ConnState.AwaitConnect) {
    // The first packet from the client MUST be CONNECT [MQTT-3.1.0-1].
    if (packet.cmd !== "connect") throw new ProtocolError(`${packet.cmd} before CONNECT`, "MQTT-3.1.0-1");
    handleConnect(conn, packet);
    return;
  }
  switch (packet.cmd) {
    case "connect":
      // A second CONNECT is a protocol violation [MQTT-3.1.0-2].
      throw new ProtocolError("second CONNECT", "MQTT-3.1.0-2");
    case "publish":
      return handlePublish(conn, packet);
    case "puback":
      return handlePuback(conn, packet);
    case "pubrec":
      return handlePubrec(conn, packet);
    case "pubrel":
      return handlePubrel(conn, packet);
    case "pubcomp":
      return handlePubcomp(conn, packet);
    case "subscribe":
      return handleSubscribe(conn, packet);
    case "unsubscribe":
      return handleUnsubscribe(conn, packet);
    case "pingreq":
      return handlePingreq(conn);
    case "disconnect":
      return handleDisconnect(conn, packet);
    case "auth":
      // MQTT 5 only (the decoder reads no AUTH below level 5); after CONNACK: re-authentication (4.12.1).
      return handleAuth(conn, packet as AuthPacket);
    case "connack":
    case "suback":
    case "unsuback":
    case "pingresp":
      // Server-to-client packets are protocol violations.
      throw new ProtocolError(`client sent ${packet.cmd.toUpperCase()}`, "MQTT-4.8.0-1");
    default:
      assertNever(packet);
  }
}
