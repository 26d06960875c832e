import { MalformedPacketError } from "./codec.js";
import { CONNACK_V5, encodeConnack5, encodeDisconnect5, Reason } from "./codec5-control.js";
import { Disconnect5, type Link5 } from "./link5.js";
import { type Properties, PropertyError } from "./properties.js";
import type { CloseReason } from "./types.js";

/** What the server tells an MQTT 5 client when it refuses or closes its connection (decision 026, point 8). */

/**
 * The CONNACK refusing an MQTT 5 client [MQTT-3.2.2-4]: the reason code matching the 3.1.1 `returnCode` (or
 * `reason5`, more precise, when given) and the reason as its Reason String, unless the client asked for no problem
 * information [MQTT-3.1.2-29] (the CONNACK may carry it anyway; it is left out then).
 */
export function refusingConnack5(v5: Link5, returnCode: 1 | 2 | 3 | 4 | 5, err: Error, reason5: number | undefined): Buffer {
  return encodeConnack5(false, reason5 ?? (CONNACK_V5[returnCode] as number), v5.problemInformation ? reasonString(err, v5) : undefined);
}

/** The DISCONNECT that tells an MQTT 5 client why the server closes its connection, or null when none is sent. */
export function closingDisconnect5(v5: Link5, reason: CloseReason, err: Error | undefined): Buffer | null {
  const code = disconnectReason(reason, err);
  return code === 0 ? null : encodeDisconnect5(code, err === undefined ? undefined : reasonString(err, v5));
}

/** The reason code of a server DISCONNECT for a close (0: none is sent, the client or its socket ended it). */
export function disconnectReason(reason: CloseReason, err: Error | undefined): number {
  if (err instanceof Disconnect5 || err instanceof PropertyError) return err.reasonCode;
  switch (reason) {
    case "protocol-error":
      return err instanceof MalformedPacketError || err?.message.startsWith("malformed packet") === true ? Reason.Malformed : Reason.ProtocolError;
    case "keepalive-timeout":
      return Reason.KeepAliveTimeout;
    case "takeover":
      return Reason.SessionTakenOver;
    case "kicked":
      return Reason.AdministrativeAction;
    case "packet-too-large":
      return Reason.PacketTooLarge;
    case "not-authorized":
      return Reason.NotAuthorized;
    case "server-shutdown":
      return Reason.ServerShuttingDown;
    case "limit-exceeded":
      return Reason.QuotaExceeded;
    case "client-disconnect":
    case "client-disconnect-with-will":
    case "socket-closed":
    case "socket-error":
    case "connect-timeout":
      return 0;
  }
}

/** Longest Reason String the server sends; the reason is cut to it. */
const MAX_REASON_STRING = 256;

/** A Reason String for `err`, or none when it would not fit the client's Maximum Packet Size [MQTT-3.14.2-3]. */
export function reasonString(err: Error, v5: Link5): Properties | undefined {
  const text = err.message.length > MAX_REASON_STRING ? `${err.message.slice(0, MAX_REASON_STRING - 1)}…` : err.message;
  // Fixed header, reason code, property length, identifier, string length: 8 bytes at most.
  return v5.fits(Buffer.byteLength(text) + 8) ? { reasonString: text } : undefined;
}
