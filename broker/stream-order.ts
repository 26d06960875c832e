import { compareOrder, orderStream } from "../core/order-key.js";
import type { Outgoing } from "./types.js";

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
