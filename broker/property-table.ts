import type { MessageProperties } from "../core/message-properties.js";

/**
 * The one table of MQTT 5 properties (MQTT 5.0 section 2.2.2.2): identifiers, data types, the packets each may
 * appear in and whether it may repeat. broker/properties.ts reads and writes property blocks with it.
 */

/** MQTT 5 reason codes a malformed property block is answered with (MQTT 5.0 section 2.4, 4.13). */
export const MALFORMED_PACKET = 0x81;
export const PROTOCOL_ERROR = 0x82;

/** A property block the spec says the receiver must reject; `reasonCode` is the CONNACK or DISCONNECT code. */
export class PropertyError extends Error {
  override readonly name = "PropertyError";
  constructor(
    message: string,
    readonly reasonCode: typeof MALFORMED_PACKET | typeof PROTOCOL_ERROR,
  ) {
    super(message);
  }
}

/** Where a property block sits: a packet type (1 CONNECT … 15 AUTH), or 0 for the will properties of a CONNECT. */
export type PropertyContext = number;
export const WILL_PROPERTIES: PropertyContext = 0;
const CONNECT = 1 << 1;
const CONNACK = 1 << 2;
const PUBLISH = 1 << 3;
const PUBACK = 1 << 4;
const PUBREC = 1 << 5;
const PUBREL = 1 << 6;
const PUBCOMP = 1 << 7;
const SUBSCRIBE = 1 << 8;
const SUBACK = 1 << 9;
const UNSUBSCRIBE = 1 << 10;
const UNSUBACK = 1 << 11;
const DISCONNECT = 1 << 14;
const AUTH = 1 << 15;
const WILL = 1 << 0;
const ACKS = PUBACK | PUBREC | PUBREL | PUBCOMP;
const MESSAGE = PUBLISH | WILL;
/** Every context with a property block (not PINGREQ, PINGRESP). */
const EVERY = CONNECT | CONNACK | MESSAGE | ACKS | SUBSCRIBE | SUBACK | UNSUBSCRIBE | UNSUBACK | DISCONNECT | AUTH;

/** The data types of MQTT 5.0 section 1.5. */
export const enum Type {
  Byte,
  TwoByte,
  FourByte,
  VarInt,
  Utf8,
  Utf8Pair,
  Binary,
}

/** The properties of one block, by mqtt-packet's names; byte-valued properties keep their number. */
export interface Properties extends MessageProperties {
  /** One in SUBSCRIBE; any number in a PUBLISH to a client [MQTT-3.3.4-4]. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifiersAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

export interface PropertyDef {
  readonly id: number;
  readonly name: keyof Properties;
  readonly type: Type;
  /** The contexts (bit 0 will properties, bit n packet type n) it is allowed in. */
  readonly allowed: number;
  /** The contexts it may appear more than once in; its value is then a list. */
  readonly repeats: number;
  /** Values other than these are a Protocol Error. */
  readonly valid?: (v: number) => boolean;
}

const zeroOrOne = (v: number): boolean => v <= 1;
const notZero = (v: number): boolean => v !== 0;

/** MQTT 5.0 table 2-4, and for each property the packets of its section 3.x.2.x. */
export const TABLE: readonly PropertyDef[] = [
  { id: 0x01, name: "payloadFormatIndicator", type: Type.Byte, allowed: MESSAGE, repeats: 0, valid: zeroOrOne },
  { id: 0x02, name: "messageExpiryInterval", type: Type.FourByte, allowed: MESSAGE, repeats: 0 },
  { id: 0x03, name: "contentType", type: Type.Utf8, allowed: MESSAGE, repeats: 0 },
  { id: 0x08, name: "responseTopic", type: Type.Utf8, allowed: MESSAGE, repeats: 0 },
  { id: 0x09, name: "correlationData", type: Type.Binary, allowed: MESSAGE, repeats: 0 },
  // 1 to 268,435,455; 0 is a Protocol Error (3.8.2.1.2).
  { id: 0x0b, name: "subscriptionIdentifiers", type: Type.VarInt, allowed: PUBLISH | SUBSCRIBE, repeats: PUBLISH, valid: notZero },
  { id: 0x11, name: "sessionExpiryInterval", type: Type.FourByte, allowed: CONNECT | CONNACK | DISCONNECT, repeats: 0 },
  { id: 0x12, name: "assignedClientIdentifier", type: Type.Utf8, allowed: CONNACK, repeats: 0 },
  { id: 0x13, name: "serverKeepAlive", type: Type.TwoByte, allowed: CONNACK, repeats: 0 },
  { id: 0x15, name: "authenticationMethod", type: Type.Utf8, allowed: CONNECT | CONNACK | AUTH, repeats: 0 },
  { id: 0x16, name: "authenticationData", type: Type.Binary, allowed: CONNECT | CONNACK | AUTH, repeats: 0 },
  { id: 0x17, name: "requestProblemInformation", type: Type.Byte, allowed: CONNECT, repeats: 0, valid: zeroOrOne },
  { id: 0x18, name: "willDelayInterval", type: Type.FourByte, allowed: WILL, repeats: 0 },
  { id: 0x19, name: "requestResponseInformation", type: Type.Byte, allowed: CONNECT, repeats: 0, valid: zeroOrOne },
  { id: 0x1a, name: "responseInformation", type: Type.Utf8, allowed: CONNACK, repeats: 0 },
  { id: 0x1c, name: "serverReference", type: Type.Utf8, allowed: CONNACK | DISCONNECT, repeats: 0 },
  {
    id: 0x1f,
    name: "reasonString",
    type: Type.Utf8,
    allowed: CONNACK | ACKS | SUBACK | UNSUBACK | DISCONNECT | AUTH,
    repeats: 0,
  },
  { id: 0x21, name: "receiveMaximum", type: Type.TwoByte, allowed: CONNECT | CONNACK, repeats: 0, valid: notZero },
  { id: 0x22, name: "topicAliasMaximum", type: Type.TwoByte, allowed: CONNECT | CONNACK, repeats: 0 },
  // A Topic Alias of 0 is answered by the session with 0x94 Topic Alias invalid (3.3.4), not here.
  { id: 0x23, name: "topicAlias", type: Type.TwoByte, allowed: PUBLISH, repeats: 0 },
  { id: 0x24, name: "maximumQoS", type: Type.Byte, allowed: CONNACK, repeats: 0, valid: zeroOrOne },
  { id: 0x25, name: "retainAvailable", type: Type.Byte, allowed: CONNACK, repeats: 0, valid: zeroOrOne },
  { id: 0x26, name: "userProperties", type: Type.Utf8Pair, allowed: EVERY, repeats: EVERY },
  { id: 0x27, name: "maximumPacketSize", type: Type.FourByte, allowed: CONNECT | CONNACK, repeats: 0, valid: notZero },
  { id: 0x28, name: "wildcardSubscriptionAvailable", type: Type.Byte, allowed: CONNACK, repeats: 0, valid: zeroOrOne },
  { id: 0x29, name: "subscriptionIdentifiersAvailable", type: Type.Byte, allowed: CONNACK, repeats: 0, valid: zeroOrOne },
  { id: 0x2a, name: "sharedSubscriptionAvailable", type: Type.Byte, allowed: CONNACK, repeats: 0, valid: zeroOrOne },
];

/** User Property and Subscription Identifier are kept as lists, also where only one is allowed. */
export function isList(def: PropertyDef): boolean {
  return def.type === Type.Utf8Pair || def.type === Type.VarInt;
}

/** The definitions by identifier (undefined: not a property). */
export const BY_ID: readonly (PropertyDef | undefined)[] = (() => {
  const byId: (PropertyDef | undefined)[] = [];
  for (const def of TABLE) byId[def.id] = def;
  return byId;
})();

/** Whether property `id` may appear in `context` (a packet type, or WILL_PROPERTIES). */
export function allowedIn(id: number, context: PropertyContext): boolean {
  const def = BY_ID[id];
  return def !== undefined && (def.allowed & (1 << context)) !== 0;
}
