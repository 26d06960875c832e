import type { QoS } from "mqtt-packet";
import { MAX_SUB_IDS } from "../subscription-word.js";
import { fromWireProperties, type MessageProperties, toWireProperties } from "../message-properties.js";
import type { WireMessage, WireTarget } from "./types.js";

/** The fields of a message that travel in a node message (broker Message, a REST publish, a stored message). */
export interface MessageFields {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly props?: MessageProperties | undefined;
  readonly publishedAt?: number | undefined;
  readonly order?: string | undefined;
}

/** A message decoded from a node message: `props` and `publishedAt` only when it has them. */
export interface DecodedMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  props?: MessageProperties;
  publishedAt?: number;
  order?: string;
}

/**
 * The one conversion of a message to its node-message form: payload base64, props in their JSON form (decision
 * 024). A message without props or publication time gives the same four keys, in the same order, as before.
 */
export function toWireMessage(m: MessageFields): WireMessage {
  const w: WireMessage = { topic: m.topic, payload: m.payload.toString("base64"), qos: m.qos, retain: m.retain };
  if (m.props !== undefined) w.props = toWireProperties(m.props);
  if (m.publishedAt !== undefined) w.publishedAt = m.publishedAt;
  if (m.order !== undefined) w.order = m.order;
  return w;
}

/** The reverse of toWireMessage, for a node message the schema (schema.ts) accepted. */
export function fromWireMessage(w: WireMessage): DecodedMessage {
  const m: DecodedMessage = { topic: w.topic, payload: Buffer.from(w.payload, "base64"), qos: w.qos, retain: w.retain };
  const props = fromWireProperties(w.props);
  if (props !== undefined) m.props = props;
  if (w.publishedAt !== undefined) m.publishedAt = w.publishedAt;
  if (w.order !== undefined) m.order = w.order;
  return m;
}

/**
 * A target of a `deliver` node message: the RETAIN flag only when 1 and the Subscription Identifiers only when
 * there are any, so a 3.1.1 delivery gives the same two keys as before. `subIds` is kept, not copied (a delivery's
 * identifiers do not change once matched), and never longer than the receiver accepts (MAX_SUB_IDS).
 */
export function toWireTarget(clientId: string, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): WireTarget {
  const t: WireTarget = { clientId, qos };
  if (retain) t.retain = true;
  if (subIds !== undefined && subIds.length > 0) t.subIds = (subIds.length > MAX_SUB_IDS ? subIds.slice(0, MAX_SUB_IDS) : subIds) as number[];
  return t;
}
