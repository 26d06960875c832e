import type { IConnectPacket } from "mqtt-packet";
import type { LimitsConfig } from "../../core/config/types.js";
import type { MessageProperties } from "../../core/message-properties.js";
import { Reason } from "../codec5-control.js";
import { RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM } from "../link5.js";
import type { Properties } from "../properties.js";

/** Session Expiry Interval meaning "the session does not expire" (3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffffffff;

/** How a CONNECT's session is claimed: 3.1.1's Clean Session, or MQTT 5's Clean Start with its expiry. */
export interface SessionTerms {
  /** Start from an empty session (3.1.1 Clean Session 1, MQTT 5 Clean Start 1) [MQTT-3.1.2-4]. */
  discard: boolean;
  /** The session ends with the connection (3.1.1 Clean Session 1, MQTT 5 Session Expiry Interval 0). */
  clean: boolean;
  /** Offline lifetime in ms for the store (0: never expires); only when not `clean`. */
  expiryMs: number;
}

/** The terms of a 3.1.1 or 3.1 CONNECT: the broker-wide expiry applies to a persistent session. */
export function terms311(clean: boolean, limits: LimitsConfig): SessionTerms {
  return { discard: clean, clean, expiryMs: clean ? 0 : limits.sessionExpirySeconds * 1000 };
}

/** The Session Expiry Interval the server grants: the client's, capped by `limits.sessionExpirySeconds` (0: no cap). */
export function grantedExpiry(props: Properties | undefined, limits: LimitsConfig): number {
  const requested = props?.sessionExpiryInterval ?? 0;
  const cap = limits.sessionExpirySeconds;
  return cap > 0 && (requested === NEVER_EXPIRES || requested > cap) ? cap : requested;
}

export type Connect5 =
  | { ok: true; connack: Properties; terms: SessionTerms; will: WillTerms | null; auth: { method: string; data: Buffer | undefined } | null }
  | { ok: false; reasonCode: number; reason: string };

/** MQTT 5 will properties: the message's, and the Will Delay Interval. */
export interface WillTerms {
  props: MessageProperties | undefined;
  /** Seconds the server waits before publishing the will (3.1.3.2.2); 0 when not given. */
  delay: number;
}

/**
 * Reads an MQTT 5 CONNECT's properties: the client's limits, the session's terms (Clean Start, Session Expiry
 * Interval capped by `limits.sessionExpirySeconds`) and the CONNACK properties that tell the client the server's
 * capabilities and limits (3.2.2.3). Enhanced authentication is not offered: a CONNECT with an Authentication
 * Method is refused with 0x8C (4.12).
 */
export function readConnect5(
  packet: IConnectPacket & { props?: Properties; will?: { props?: Properties } },
  limits: LimitsConfig,
  assignedId: string | null,
  keepalive: number,
  /** The enhanced authentication methods the auth backend offers (Auth.enhanced). */
  methods: readonly string[],
): Connect5 {
  const props = packet.props;
  const method = props?.authenticationMethod;
  if (method !== undefined && !methods.includes(method)) {
    return { ok: false, reasonCode: Reason.BadAuthenticationMethod, reason: `authentication method ${JSON.stringify(method)} is not supported` };
  }
  if (method === undefined && props?.authenticationData !== undefined) {
    return { ok: false, reasonCode: Reason.ProtocolError, reason: "authentication data without an authentication method" };
  }
  const requested = props?.sessionExpiryInterval ?? 0;
  const granted = grantedExpiry(props, limits);
  const connack: Properties = {
    receiveMaximum: RECEIVE_MAXIMUM,
    topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    maximumPacketSize: limits.maxPacketSize,
  };
  // The server tells the client what it changed or chose [MQTT-3.2.2-16] [MQTT-3.2.2-21].
  if (granted !== requested) connack.sessionExpiryInterval = granted;
  if (assignedId !== null) connack.assignedClientIdentifier = assignedId;
  if (keepalive !== packet.keepalive) connack.serverKeepAlive = keepalive;
  const terms: SessionTerms = {
    discard: packet.clean !== false,
    clean: granted === 0,
    expiryMs: granted === 0 || granted === NEVER_EXPIRES ? 0 : granted * 1000,
  };
  let will: WillTerms | null = null;
  if (packet.will) {
    const { willDelayInterval, ...rest } = packet.will.props ?? {};
    const message: MessageProperties = {};
    for (const key of MESSAGE_KEYS) if (rest[key] !== undefined) (message as Record<string, unknown>)[key] = rest[key];
    will = { props: Object.keys(message).length > 0 ? message : undefined, delay: willDelayInterval ?? 0 };
  }
  return { ok: true, connack, terms, will, auth: method === undefined ? null : { method, data: props?.authenticationData } };
}

/** The will properties that belong to the will message (3.1.3.2): all but the Will Delay Interval. */
const MESSAGE_KEYS = ["payloadFormatIndicator", "messageExpiryInterval", "contentType", "responseTopic", "correlationData", "userProperties"] as const;
