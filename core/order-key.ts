import { hash } from "node:crypto";

/**
 * A message's order key (decision 038): who published it and where it stands among that publisher's messages,
 * `<publisher>.<epoch>.<n>`. `publisher` is a short digest of the publisher's client id, `epoch` the epoch of its
 * session's claim under which the broker received it (base 36; a later connection of the client has a higher one),
 * and `n` counts the QoS 1/2 publishes received on that claim (base 36). Two messages of one publisher on one topic
 * compare by it in the order the client sent them, whichever nodes they went through; a message delivered late
 * (drained from a dead node's queue) finds its place among the ones stored for an offline session before it.
 */

const KEY = /^[A-Za-z0-9_-]{1,16}\.[0-9a-z]{1,11}\.[0-9a-z]{1,11}$/;

/**
 * The publisher part of a client's order keys (computed once per session, on its first QoS 1/2 publish). One-shot
 * `hash`: no `Hash` object (a stream with a native handle) per session, as a fleet's devices all start publishing.
 */
export function orderTag(clientId: string): string {
  return hash("sha1", clientId, "base64url").slice(0, 12);
}

export function orderKey(tag: string, epoch: number, n: number): string {
  return orderKeyAt(orderKeyPrefix(tag, epoch), n);
}

/** The key of the `n`th publish under `prefix` (`orderKeyPrefix`). */
export function orderKeyAt(prefix: string, n: number): string {
  return `${prefix}${n.toString(36)}`;
}

/**
 * What the keys of one publisher under one epoch start with: `orderKey(tag, epoch, n)` is this and `n` in base 36.
 * One flat string (`join`): concatenation would make a tree of string pieces, ~150 B kept per session instead of ~40.
 */
export function orderKeyPrefix(tag: string, epoch: number): string {
  return [tag, epoch.toString(36), ""].join(".");
}

/** A QoS 2 root that carries the message's order key (decision 025's root, decision 038's key). */
export function rootWithOrderKey(root: string, key: string): string {
  return `${root}#${key}`;
}

/** The order key a root carries, if it carries one (roots of an earlier version do not). */
export function orderKeyOfRoot(root: string): string | undefined {
  const i = root.lastIndexOf("#");
  if (i < 0) return undefined;
  const key = root.slice(i + 1);
  return isOrderKey(key) ? key : undefined;
}

export function isOrderKey(v: unknown): v is string {
  return typeof v === "string" && v.length <= 40 && KEY.test(v);
}

/** The stream a key orders within, with the topic: one publisher on one topic ([MQTT-4.6.0-6]). */
export function orderStream(key: string, topic: string): string {
  return `${key.slice(0, key.indexOf("."))}\u0000${topic}`;
}

/** Negative when `a` was published before `b` (both of one publisher). */
export function compareOrder(a: string, b: string): number {
  const [, ea = "0", na = "0"] = a.split(".");
  const [, eb = "0", nb = "0"] = b.split(".");
  return parseInt(ea, 36) - parseInt(eb, 36) || parseInt(na, 36) - parseInt(nb, 36);
}
