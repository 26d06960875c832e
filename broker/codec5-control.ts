import { type Properties, propertiesLength, varIntSize, writeProperties, writeVarInt } from "./properties.js";

/**
 * Encoders for the MQTT 5 packets the server sends off the delivery hot path: CONNACK, SUBACK, UNSUBACK and
 * DISCONNECT, each with its reason code(s) and a property block written through the one property table
 * (broker/properties.ts). mqtt-packet's generator is not used for these: it turns user properties into an object
 * (their order is lost) and checks nothing against the table.
 */

/** Reason codes of MQTT 5.0 section 2.4 that the server sends. */
export const enum Reason {
  Success = 0x00,
  GrantedQos1 = 0x01,
  GrantedQos2 = 0x02,
  DisconnectWithWill = 0x04,
  NoMatchingSubscribers = 0x10,
  NoSubscriptionExisted = 0x11,
  Unspecified = 0x80,
  Malformed = 0x81,
  ProtocolError = 0x82,
  ImplementationSpecific = 0x83,
  UnsupportedProtocolVersion = 0x84,
  ClientIdNotValid = 0x85,
  BadUserNameOrPassword = 0x86,
  NotAuthorized = 0x87,
  ServerUnavailable = 0x88,
  ServerBusy = 0x89,
  BadAuthenticationMethod = 0x8c,
  KeepAliveTimeout = 0x8d,
  SessionTakenOver = 0x8e,
  TopicFilterInvalid = 0x8f,
  TopicNameInvalid = 0x90,
  PacketIdInUse = 0x91,
  PacketIdNotFound = 0x92,
  ReceiveMaximumExceeded = 0x93,
  TopicAliasInvalid = 0x94,
  PacketTooLarge = 0x95,
  QuotaExceeded = 0x97,
  AdministrativeAction = 0x98,
  PayloadFormatInvalid = 0x99,
  ServerShuttingDown = 0x8b,
  SharedSubscriptionsNotSupported = 0x9e,
  SubscriptionIdsNotSupported = 0xa1,
  WildcardsNotSupported = 0xa2,
}

/** The 3.1.1 CONNACK refusal codes (1 to 5) as MQTT 5 reason codes (MQTT 5.0 table 3-1). */
export const CONNACK_V5: readonly number[] = [
  Reason.Success,
  Reason.UnsupportedProtocolVersion,
  Reason.ClientIdNotValid,
  Reason.ServerUnavailable,
  Reason.BadUserNameOrPassword,
  Reason.NotAuthorized,
];

/**
 * One packet: fixed header byte `first`, then `head` (bytes before the property block), the property block,
 * then `tail` (bytes after it).
 */
function packet(first: number, head: readonly number[], props: Properties | undefined, tail: readonly number[]): Buffer {
  const propsLength = propertiesLength(props);
  const remaining = head.length + varIntSize(propsLength) + propsLength + tail.length;
  const buf = Buffer.allocUnsafe(1 + varIntSize(remaining) + remaining);
  buf[0] = first;
  let pos = writeVarInt(buf, 1, remaining);
  for (const b of head) buf[pos++] = b;
  pos = writeProperties(buf, pos, props, propsLength);
  for (const b of tail) buf[pos++] = b;
  return buf;
}

/** CONNACK (3.2): acknowledge flags, reason code, properties. */
export function encodeConnack5(sessionPresent: boolean, reasonCode: number, props?: Properties): Buffer {
  return packet(0x20, [sessionPresent ? 1 : 0, reasonCode], props, []);
}

/** SUBACK (3.9): packet id, properties, one reason code per topic filter in the order of the SUBSCRIBE. */
export function encodeSuback5(packetId: number, reasonCodes: readonly number[], props?: Properties): Buffer {
  return packet(0x90, [packetId >> 8, packetId & 0xff], props, reasonCodes);
}

/** UNSUBACK (3.11): packet id, properties, one reason code per topic filter. */
export function encodeUnsuback5(packetId: number, reasonCodes: readonly number[], props?: Properties): Buffer {
  return packet(0xb0, [packetId >> 8, packetId & 0xff], props, reasonCodes);
}

/** AUTH (3.15) from the server: reason code (0x18 continue authentication), properties (method and data). */
export function encodeAuth5(reasonCode: number, props: Properties): Buffer {
  return packet(0xf0, [reasonCode], props, []);
}

/** DISCONNECT (3.14) from the server: a reason code, and properties (a Reason String) when given. */
export function encodeDisconnect5(reasonCode: number, props?: Properties): Buffer {
  if (props === undefined && reasonCode === Reason.Success) return Buffer.from([0xe0, 0x00]);
  if (props === undefined) return Buffer.from([0xe0, 0x01, reasonCode]);
  return packet(0xe0, [reasonCode], props, []);
}
