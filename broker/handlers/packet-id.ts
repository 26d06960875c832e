import { ProtocolError } from "../errors.js";

/** Returns the packet id of a packet that must carry a non-zero one [MQTT-2.3.1-1]. */
export function requirePacketId(messageId: number | undefined, cmd: string): number {
  if (messageId === undefined || messageId === 0) throw new ProtocolError(`${cmd} without a non-zero packet id`, "MQTT-2.3.1-1");
  return messageId;
}
