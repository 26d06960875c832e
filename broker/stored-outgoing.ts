import type { StoredOutgoing } from "../core/store/types.js";
import { type Message, OutState, type Outgoing } from "./types.js";

/** A stored outgoing message as the session holds it (durable: it is in the store). */
export function fromStored(o: StoredOutgoing): Outgoing {
  const m = o.msg;
  // MQTT 5 fields only when present: a 3.1.1 message keeps the shape every other 3.1.1 message has.
  const msg: Message =
    m.props === undefined
      ? m.order === undefined
        ? { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain }
        : { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, order: m.order }
      : m.publishedAt === undefined
        ? { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, props: m.props, order: m.order }
        : { topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, props: m.props, publishedAt: m.publishedAt, order: m.order };
  const out: Outgoing = { msg, qos: o.qos, retain: o.retain, packetId: o.packetId, state: o.state, seq: o.seq, durable: true };
  if (o.subIds !== undefined) out.subIds = o.subIds;
  return out;
}

/**
 * Leaves one in-flight message per packet id among a snapshot's messages (in seq order). A session never has two:
 * it sends a message whose derived id (the sent boundary, decision 021) is still held only once that id is free.
 * But a message stored behind the owner's back (a node that could not forward it stores it for the session,
 * broker/forward-sender.ts sendDeliveries) is passed by the owner's boundary without having been sent, with the id its seq
 * gives. Of two, the one whose PUBREL was sent keeps the id (the client holds it for that message), else the
 * earlier; the other goes back to the queue, to be sent as a new message. Nothing is dropped.
 */
export function onePerPacketId(entries: readonly Outgoing[]): void {
  const holders = new Map<number, Outgoing>();
  for (const out of entries) {
    if (out.packetId === 0) continue;
    const holder = holders.get(out.packetId);
    if (holder === undefined) {
      holders.set(out.packetId, out);
      continue;
    }
    const requeued = out.state === OutState.AwaitComp && holder.state !== OutState.AwaitComp ? holder : out;
    if (requeued === holder) holders.set(out.packetId, out);
    requeued.packetId = 0;
    requeued.state = OutState.AwaitAck;
  }
}
