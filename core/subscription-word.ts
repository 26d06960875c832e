import type { QoS } from "mqtt-packet";

/**
 * A subscription as sessions, stores and node messages keep it: one number. Bits 0-1 are the granted QoS, bit 2 No
 * Local, bit 3 Retain As Published, and the MQTT 5 Subscription Identifier sits above them (word = id * 16 +
 * flags; 0 = none). A 3.1.1 subscription is just its QoS, so stores written before MQTT 5 read unchanged. Retain
 * Handling is not kept: it only matters when the SUBSCRIBE arrives.
 */
export type SubscriptionWord = number;

export const NO_LOCAL = 4;
export const RETAIN_AS_PUBLISHED = 8;
/** The largest Subscription Identifier (3.8.2.1.2). */
export const MAX_SUBSCRIPTION_ID = 268_435_455;
export const MAX_SUBSCRIPTION_WORD = MAX_SUBSCRIPTION_ID * 16 + 15;
/**
 * Most Subscription Identifiers one delivery carries (one per matching subscription): a bound of ours, not of the
 * spec, so that a client with many overlapping subscriptions cannot make each message it receives (and every
 * stored copy of it) carry hundreds of them. Beyond it the later matches' identifiers are left out.
 */
export const MAX_SUB_IDS = 32;

export function subscriptionWord(qos: QoS, noLocal = false, retainAsPublished = false, id = 0): SubscriptionWord {
  return id * 16 + (retainAsPublished ? RETAIN_AS_PUBLISHED : 0) + (noLocal ? NO_LOCAL : 0) + qos;
}

export function wordQos(word: SubscriptionWord): QoS {
  return (word & 3) as QoS;
}

/** The Subscription Identifier, or 0 for none. */
export function wordId(word: SubscriptionWord): number {
  return Math.floor(word / 16);
}

/** The same subscription at another QoS (a policy lowered it). */
export function withQos(word: SubscriptionWord, qos: QoS): SubscriptionWord {
  return word - (word & 3) + qos;
}

/** Whether `word` is a valid subscription: an integer in range whose QoS is 0, 1 or 2. */
export function isSubscriptionWord(word: unknown): word is SubscriptionWord {
  return typeof word === "number" && Number.isInteger(word) && word >= 0 && word <= MAX_SUBSCRIPTION_WORD && (word & 3) !== 3;
}
