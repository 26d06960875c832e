import type { Connection } from "../connection.js";
import { ConnState } from "../connection-states.js";
import { encodeConnack5 } from "../codec5-control.js";
import { LimitExceeded, ProtocolError } from "../errors.js";
import { PropertyError } from "../properties.js";

/** A malformed packet (the decoder's error): the connection is closed [MQTT-4.8.0-1]; a CONNECT is answered first. */
export function handleMalformed(conn: Connection, err: Error): void {
  // A malformed MQTT 5 CONNECT (its properties) is answered with CONNACK 0x81 or 0x82 before the close (4.13).
  if (conn.state === ConnState.AwaitConnect && err instanceof PropertyError) {
    conn.broker.onConnectRefused(conn, 1, err.message);
    conn.write(encodeConnack5(false, err.reasonCode));
    conn.close("protocol-error", new ProtocolError(`malformed packet: ${err.message}`), true);
    return;
  }
  // An unsupported protocol level in CONNECT gets CONNACK 0x01 before the close [MQTT-3.1.2-2].
  if (conn.state === ConnState.AwaitConnect && err.message === "Invalid protocol version") {
    conn.refuse(1, new ProtocolError("unsupported protocol level", "MQTT-3.1.2-2"));
    return;
  }
  // An MQTT 5 property error keeps its reason code (0x81 or 0x82) for the DISCONNECT.
  conn.close("protocol-error", err instanceof PropertyError ? err : new ProtocolError(`malformed packet: ${err.message}`));
}

/** A packet refused as soon as its declared length was known to exceed the limit, before buffering it. */
export function handleOversize(conn: Connection, remainingLength: number): void {
  if (conn.state === ConnState.AwaitConnect) {
    conn.broker.stats.limitHits["connect-packet-size"]++;
    conn.close("packet-too-large", new LimitExceeded("connect-packet-size", `first packet of ${remainingLength} bytes exceeds maxConnectPacketSize`));
    return;
  }
  conn.close("packet-too-large", new ProtocolError(`packet of ${remainingLength} bytes exceeds maxPacketSize`));
}
