import { compareOrder, orderStream } from "../core/order-key.js";
import type { Message, Outgoing } from "./types.js";

/**
 * The queued messages of a session just claimed that stand behind a newer message of the same publisher on the same
 * topic (decision 038), in publish order: of each such stream, every entry from the first one out of place on.
 * A copy that came late (drained from a dead node's queue, or handled by a node back from a pause) was stored for
 * the offline session behind newer ones; the caller stores these again behind the rest, so each stream goes out in
 * publish order ([MQTT-4.6.0-6]). Empty, at the cost of one pass, when every stream is in order (the common case).
 */
export function outOfOrder(queued: readonly Outgoing[]): Outgoing[] {
  let streams: Map<string, Outgoing[]> | null = null;
  let late = false;
  for (const out of queued) {
    const key = out.msg.order;
    if (key === undefined) continue;
    streams ??= new Map();
    const stream = orderStream(key, out.msg.topic);
    const list = streams.get(stream);
    if (list === undefined) {
      streams.set(stream, [out]);
      continue;
    }
    if (compareOrder(key, (list[list.length - 1] as Outgoing).msg.order as string) < 0) late = true;
    list.push(out);
  }
  if (!late || streams === null) return [];
  const moved: Outgoing[] = [];
  for (const list of streams.values()) {
    const sorted = [...list].sort((a, b) => compareOrder(a.msg.order as string, b.msg.order as string));
    let inPlace = 0;
    while (inPlace < list.length && list[inPlace] === sorted[inPlace]) inPlace++;
    for (let i = inPlace; i < sorted.length; i++) moved.push(sorted[i] as Outgoing);
  }
  return moved;
}

/**
 * `held` with each stream's entries (one publisher on one topic, by order key) in publish order, in the places that
 * stream's entries took: deliveries a session held while it was claimed, before they go out (decision 038). A copy
 * routed before the claim through another node (the session's routes still named the old holder) can reach the hold
 * behind newer messages the publisher's node routed to the session here directly. Entries without a key and the
 * order between streams stay as they were. `held` itself when nothing is out of place (the common case).
 */
export function inPublishOrder<T extends { readonly msg: Message }>(held: readonly T[]): readonly T[] {
  let streams: Map<string, number[]> | null = null;
  let late = false;
  for (let i = 0; i < held.length; i++) {
    const msg = (held[i] as T).msg;
    if (msg.order === undefined) continue;
    streams ??= new Map();
    const stream = orderStream(msg.order, msg.topic);
    const places = streams.get(stream);
    if (places === undefined) {
      streams.set(stream, [i]);
      continue;
    }
    if (compareOrder(msg.order, (held[places[places.length - 1] as number] as T).msg.order as string) < 0) late = true;
    places.push(i);
  }
  if (!late || streams === null) return held;
  const ordered = held.slice();
  for (const places of streams.values()) {
    const entries = places.map((i) => held[i] as T).sort((a, b) => compareOrder(a.msg.order as string, b.msg.order as string));
    places.forEach((place, j) => (ordered[place] = entries[j] as T));
  }
  return ordered;
}
