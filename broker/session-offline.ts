import type { QoS } from "mqtt-packet";
import type { StoreOp, StoreOpResult } from "../core/store/types.js";
import type { Session } from "./session.js";
import type { SessionHost, SessionLimits } from "./session-ports.js";
import { EMPTY_MESSAGE } from "./session-records.js";
import type { Message } from "./types.js";

/**
 * An offline persistent session's deliveries (QoS 1/2; QoS 0 is not stored [MQTT-3.1.2-5]): the store holds its
 * queue and enforces its bound. In a cluster another node may have claimed the session meanwhile: the store then
 * refuses ("owned") and the message goes to that node.
 */

/** Context of an offline enqueue (and its store entry): what to forward if the store answers that a node owns the session now. */
export interface OfflineEntry {
  readonly msg: Message;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly packetId: 0;
  readonly offline: true;
  /** The node queue message this delivery came from (forwarded under it as well). */
  readonly dedupId: string | null;
  readonly subIds?: number[];
}

/** Stores a delivery for the offline `session`; its answer comes back to the session, then to `offlineStored`. */
export function enqueueOffline(session: Session, host: SessionHost, limits: SessionLimits, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
  const { maxQueued, queueDropPolicy } = limits;
  const dedupId = host.journal.dedupId;
  const offline: OfflineEntry = subIds === undefined ? { msg, qos, retain, packetId: 0, offline: true, dedupId } : { msg, qos, retain, packetId: 0, offline: true, dedupId, subIds: [...subIds] };
  const op: StoreOp = { op: "enqueue", clientId: session.clientId, entry: offline, maxQueued, dropPolicy: queueDropPolicy };
  if (host.clustered) op.unowned = true;
  if (dedupId !== null) op.dedupId = dedupId;
  host.journal.write(op, session, offline);
}

/** The store's answer to an offline enqueue for `session`: a drop is counted, and a node that owns the session gets the delivery. */
export function offlineStored(session: Session, host: SessionHost, ctx: OfflineEntry, result: StoreOpResult): void {
  if (result.ok) {
    if (result.dropped !== undefined) host.onDrop(session, EMPTY_MESSAGE, "queue-full");
  } else if (result.reason === "owned") {
    // Forwarded under the same dedup id, so a repeat of the original node message is still recognised.
    const journal = host.journal;
    journal.followUp(() => journal.withDedupId(ctx.dedupId, () => host.forward(session, result.node, ctx.msg, ctx.qos, ctx.retain, ctx.subIds)));
  } else if (result.reason === "full") {
    host.onDrop(session, ctx.msg, "queue-full");
  }
}
