import { compareOrder, orderStream } from "../core/order-key.js";
import type { Message, Outgoing } from "./types.js";

/**
 * The places in `entries` of the entries that carry an order key, by stream (one publisher on one topic), in order,
 * when some entry stands behind a newer one of its stream; null when every stream is in order (the common case: one
 * pass).
 */
function streamsOutOfOrder(entries: readonly { readonly msg: Message }[]): Map<string, number[]> | null {
  let streams: Map<string, number[]> | null = null;
  let late = false;
  for (let i = 0; i < entries.length; i++) {
    const msg = (entries[i] as { readonly msg: Message }).msg;
    if (msg.order === undefined) continue;
    streams ??= new Map();
    const stream = orderStream(msg.order, msg.topic);
    const places = streams.get(stream);
    if (places === undefined) {
      streams.set(stream, [i]);
      continue;
    }
    const last = (entries[places[places.length - 1] as number] as { readonly msg: Message }).msg;
    if (compareOrder(msg.order, last.order as string) < 0) late = true;
    places.push(i);
  }
  return late ? streams : null;
}

function byOrderKey(a: { readonly msg: Message }, b: { readonly msg: Message }): number {
  return compareOrder(a.msg.order as string, b.msg.order as string);
}

/**
 * The queued messages of a session just claimed that stand behind a newer message of the same publisher on the same
 * topic (decision 038), in publish order: of each such stream, every entry from the first one out of place on.
 * A copy that came late (drained from a dead node's queue, or handled by a node back from a pause) was stored for
 * the offline session behind newer ones; the caller stores these again behind the rest, so each stream goes out in
 * publish order ([MQTT-4.6.0-6]). Empty, at the cost of one pass, when every stream is in order (the common case).
 */
export function outOfOrder(queued: readonly Outgoing[]): Outgoing[] {
  const streams = streamsOutOfOrder(queued);
  if (streams === null) return [];
  const moved: Outgoing[] = [];
  for (const places of streams.values()) {
    const list = places.map((i) => queued[i] as Outgoing);
    const sorted = [...list].sort(byOrderKey);
    let inPlace = 0;
    while (inPlace < list.length && list[inPlace] === sorted[inPlace]) inPlace++;
    for (let i = inPlace; i < sorted.length; i++) moved.push(sorted[i] as Outgoing);
  }
  return moved;
}

/**
 * `held` with each stream's entries (one publisher on one topic, by order key) in publish order, in the places that
 * stream's entries took: deliveries a session held while it was claimed, before they go out (decision 044). A copy
 * routed before the claim through another node (the session's routes still named the old holder) can reach the hold
 * behind newer messages the publisher's node routed to the session here directly. Entries without a key and the
 * order between streams stay as they were. `held` itself when nothing is out of place (the common case).
 */
export function inPublishOrder<T extends { readonly msg: Message }>(held: readonly T[]): readonly T[] {
  const streams = streamsOutOfOrder(held);
  if (streams === null) return held;
  const ordered = held.slice();
  for (const places of streams.values()) {
    const sorted = places.map((i) => held[i] as T).sort(byOrderKey);
    places.forEach((place, j) => (ordered[place] = sorted[j] as T));
  }
  return ordered;
}
