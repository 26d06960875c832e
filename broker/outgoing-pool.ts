import type { QoS } from "mqtt-packet";
import { NO_BYTES } from "./no-bytes.js";
import { OutState, type Message, type Outgoing } from "./types.js";

/**
 * Outgoing delivery records (broker/types.ts `Outgoing`), used again once a clean session's delivery is complete.
 *
 * A clean session's QoS 1/2 delivery lives in its in-flight table (or queue) and nowhere else: no store write or
 * forward refers to it (a persistent session's records are the contexts of its store writes, and are never given
 * back). When the client acknowledges it, the record is free, and the next delivery fills it instead of allocating
 * one (80 B per message). Only records without the optional fields (Subscription Identifiers, a shared
 * subscription's group, a node message's dedup id) are kept, so every record handed out has one shape.
 */

/** Mutable view of a record while it is filled again. */
type Fillable = { -readonly [K in keyof Outgoing]: Outgoing[K] };

const MAX_FREE = 1024;
const free: (Outgoing | null)[] = [];
let freeCount = 0;
/** What a free record refers to instead of the message it carried. */
const NO_MESSAGE: Message = { topic: "", payload: NO_BYTES, qos: 0, retain: false };

/** A new outgoing delivery, with its MQTT 5 Subscription Identifiers and shared subscription group when it has them. */
export function outgoing(msg: Message, qos: QoS, retain: boolean, durable: boolean, subIds: readonly number[] | undefined, group?: string): Outgoing {
  if (subIds === undefined && group === undefined && freeCount > 0) {
    const out = free[--freeCount] as Fillable;
    free[freeCount] = null;
    out.msg = msg;
    out.qos = qos;
    out.retain = retain;
    out.packetId = 0;
    out.state = OutState.AwaitAck;
    out.seq = 0;
    out.durable = durable;
    return out;
  }
  const out: Outgoing = { msg, qos, retain, packetId: 0, state: OutState.AwaitAck, seq: 0, durable };
  if (subIds !== undefined) out.subIds = [...subIds];
  if (group !== undefined) out.group = group;
  return out;
}

/**
 * A clean session's delivery is complete and removed from its in-flight table: the record may be filled again. The
 * caller guarantees nothing else refers to it.
 */
export function releaseOutgoing(out: Outgoing): void {
  if (freeCount >= MAX_FREE || out.subIds !== undefined || out.group !== undefined || out.dedupId !== undefined) return;
  (out as Fillable).msg = NO_MESSAGE;
  free[freeCount++] = out;
}
