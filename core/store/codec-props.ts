import { isOrderKey } from "../order-key.js";
import { fromWireProperties, type MessageProperties, toWireProperties } from "../message-properties.js";
import { StoreDataError } from "./errors.js";
import type { StoredMessage } from "./types.js";
import { MAX_SUB_IDS } from "../subscription-word.js";

/*
 * The MQTT 5 part of stored messages (decision 024): props in their one JSON form (core/message-properties.ts),
 * the time of publication and a delivery's Subscription Identifiers. Written only when present, so a 3.1.1
 * message is stored byte for byte as before, and a value written before reads as a message without them.
 */

/** Starts the outgoing body's optional suffix: a character base64 (the payload before it) never contains. */
export const SUFFIX_MARK = "|";

/**
 * Adds props (`x`) and publishedAt (`pa`; `t` is the topic in these bodies) to the JSON object of a retained
 * message or a will, after its other keys.
 */
export function putMessageExtras(o: Record<string, unknown>, msg: StoredMessage): void {
  if (msg.props !== undefined) o.x = toWireProperties(msg.props);
  if (msg.publishedAt !== undefined) o.pa = msg.publishedAt;
}

/** Reads what putMessageExtras wrote into `msg`; a body without them leaves it as is. */
export function takeMessageExtras(o: Record<string, unknown>, msg: StoredMessage, what: string): StoredMessage {
  if (o.x !== undefined) msg.props = propsFrom(o.x, what);
  if (o.pa !== undefined) msg.publishedAt = publishedAtFrom(o.pa, what);
  return msg;
}

/**
 * The suffix of a compact outgoing body: `|` and JSON `{o: order key, x: props, t: publishedAt, s: subIds}` (each key
 * only when present), or "" when there is none of them. A reader that predates a key ignores it (the order key,
 * decision 038).
 */
export function outgoingSuffix(msg: StoredMessage, subIds: readonly number[] | undefined): string {
  if (msg.props === undefined && msg.publishedAt === undefined && subIds === undefined) return msg.order === undefined ? "" : `${SUFFIX_MARK}{"o":"${msg.order}"}`;
  const o: Record<string, unknown> = {};
  if (msg.order !== undefined) o.o = msg.order;
  if (msg.props !== undefined) o.x = toWireProperties(msg.props);
  if (msg.publishedAt !== undefined) o.t = msg.publishedAt;
  if (subIds !== undefined) o.s = subIds;
  return SUFFIX_MARK + JSON.stringify(o);
}

/** Reads an outgoing suffix (the text after `|`) into `msg`; returns the delivery's subIds, if any. */
export function readOutgoingSuffix(text: string, msg: StoredMessage): number[] | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new StoreDataError("unreadable MQTT 5 part of a stored outgoing message");
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new StoreDataError("bad MQTT 5 part of a stored outgoing message");
  const r = o as Record<string, unknown>;
  if (r.x !== undefined) msg.props = propsFrom(r.x, "outgoing message");
  if (r.t !== undefined) msg.publishedAt = publishedAtFrom(r.t, "outgoing message");
  if (r.o !== undefined) {
    if (!isOrderKey(r.o)) throw new StoreDataError("bad order key in stored outgoing message");
    msg.order = r.o;
  }
  return r.s === undefined ? undefined : subIdsFrom(r.s);
}

function propsFrom(x: unknown, what: string): MessageProperties {
  try {
    const props = fromWireProperties(x);
    if (props !== undefined) return props;
  } catch {
    // reported below
  }
  throw new StoreDataError(`bad properties in stored ${what}`);
}

function publishedAtFrom(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  throw new StoreDataError(`bad publication time in stored ${what}`);
}

function subIdsFrom(v: unknown): number[] {
  // As the writers check them (validate.ts): what a corrupt value would make the broker send is refused instead.
  if (Array.isArray(v) && v.length <= MAX_SUB_IDS && v.every((id) => Number.isInteger(id) && (id as number) >= 1 && (id as number) <= 268_435_455)) return v as number[];
  throw new StoreDataError("bad subscription identifiers in stored outgoing message");
}
