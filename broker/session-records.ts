import type { StoredOutgoing, StoreOp, StoreOpResult } from "../core/store/types.js";
import type { Journal, ResultTarget } from "./journal.js";
import type { Session } from "./session.js";
import type { SessionHost, SessionLimits } from "./session-ports.js";
import { NO_BYTES } from "./no-bytes.js";
import { OutState, type Message, type Outgoing } from "./types.js";

/**
 * The store records of a persistent session's outgoing messages (core/store `outgoing.*` ops), written through the
 * journal under the session's current claim (its epoch fences them): each step of a message's flow, by its seq. The
 * enqueues that create them are written where the messages are delivered (broker/session-outbox.ts, and
 * broker/session-offline.ts while the session is offline).
 */

/**
 * A persistent session's QoS 1/2 delivery `out` is stored (its seq comes with the answer, which goes to the session:
 * Outbox.stored), under the node queue message being handled as its dedup id; `packetId`: a window slot reserved.
 */
export function writeEnqueue(journal: Journal, session: Session, out: Outgoing, packetId: number, limits: SessionLimits): void {
  const entry: Omit<StoredOutgoing, "seq" | "state"> = { msg: out.msg, qos: out.qos, retain: out.retain, packetId };
  if (out.subIds !== undefined) entry.subIds = [...out.subIds];
  const dedupId = journal.dedupId;
  if (dedupId !== null) out.dedupId = dedupId;
  const op: StoreOp = { op: "enqueue", clientId: session.clientId, entry, maxQueued: limits.maxQueued, dropPolicy: limits.queueDropPolicy, epoch: session.epoch };
  if (dedupId !== null) op.dedupId = dedupId;
  journal.write(op, session, out);
}

/** The message `seq` is done with (acknowledged, dropped or withheld): its entry is deleted. */
export function writeDeleted(journal: Journal, session: Session, seq: number): void {
  journal.write({ op: "outgoing.delete", clientId: session.clientId, epoch: session.epoch, seq });
}

/** The QoS 2 message `seq` is released (PUBREL instead of its PUBLISH), under `packetId`: it awaits PUBCOMP. */
export function writeReleased(journal: Journal, session: Session, seq: number, packetId: number): void {
  journal.write({ op: "outgoing.update", clientId: session.clientId, epoch: session.epoch, seq, packetId, state: 1 });
}

/**
 * The client answered PUBREC for the QoS 2 message `seq`: PUBREL goes out once this record is durable
 * (Session.onPubrec), unless the store answers that a newer claim owns the session (`PUBREL_SENT`).
 */
export function writePubrelSent(journal: Journal, session: Session, seq: number, packetId: number): void {
  const ctx: PubrelSent = { session, epoch: session.epoch };
  journal.write({ op: "outgoing.update", clientId: session.clientId, epoch: session.epoch, seq, packetId, state: 1 }, PUBREL_SENT, ctx);
}

/**
 * The queued message `out` moves into the in-flight window under `packetId`; it is sent once this is durable (the
 * session hands the answer to its outbox). QoS 1: one number per session, not a write per message. QoS 2 keeps its
 * id in the entry, as before: a node of an earlier version reads it (docs/store.md, "Upgrading stored data").
 */
export function writeSent(journal: Journal, session: Session, out: Outgoing, packetId: number): void {
  journal.write(
    out.qos === 1
      ? { op: "outgoing.sent", clientId: session.clientId, epoch: session.epoch, seq: out.seq }
      : { op: "outgoing.update", clientId: session.clientId, epoch: session.epoch, seq: out.seq, packetId, state: 0 },
    session,
    out,
  );
}

/**
 * `out`, given a window slot under `packetId`, takes the queued entry `out.seq` the store named (Outbox.stored: a
 * duplicate of an entry the session's snapshot did not have): the entry is in flight under that id from now on, and
 * `out` is sent once this is durable.
 */
export function writeTaken(journal: Journal, session: Session, out: Outgoing, packetId: number): void {
  journal.write({ op: "outgoing.update", clientId: session.clientId, epoch: session.epoch, seq: out.seq, packetId, state: 0 }, session, out);
}

/**
 * A queued message stored again, behind the rest of the queue (decision 038): the entry of `out` is deleted and
 * `again` (its copy, queued in its place) enqueued anew, in one batch. `again` keeps the old seq until the store
 * answers, so a `fenced` answer (another claim took the session, with the old entry) leaves it to the new owner
 * instead of routing it again.
 */
export function writeMoved(journal: Journal, session: Session, out: Outgoing, again: Outgoing): void {
  journal.write({ op: "outgoing.delete", clientId: session.clientId, epoch: session.epoch, seq: out.seq });
  const entry: Omit<StoredOutgoing, "seq" | "state"> = { msg: out.msg, qos: out.qos, retain: out.retain, packetId: 0 };
  if (out.subIds !== undefined) entry.subIds = [...out.subIds];
  // A move, not a new message: never refused for the queue's bound.
  journal.write({ op: "enqueue", clientId: session.clientId, entry, maxQueued: Number.MAX_SAFE_INTEGER, dropPolicy: "newest", epoch: session.epoch }, session, again);
}

/**
 * A stored message the client may not read (queued while the session was offline, by a node or the REST gateway
 * that did not know its policy): never sent. Queued or QoS 1: deleted (false). QoS 2 in flight: released with
 * PUBREL instead of re-sent, so the client's packet id state ends (true: keep it, now awaiting PUBCOMP).
 */
export function withhold(host: SessionHost, session: Session, out: Outgoing): boolean {
  host.onDeliveryDenied(session, out.msg);
  if (out.packetId !== 0 && out.qos === 2) {
    out.state = OutState.AwaitComp;
    writeReleased(host.journal, session, out.seq, out.packetId);
    return true;
  }
  writeDeleted(host.journal, session, out.seq);
  return false;
}

/** Stands for a message the store dropped while the session was offline (its content is not in memory). */
export const EMPTY_MESSAGE: Message = { topic: "", payload: NO_BYTES, qos: 1, retain: false };

/** A "PUBREL sent" record on its way to the store, with the claim it was written under. */
interface PubrelSent {
  session: Session;
  epoch: number;
}

/**
 * The answer to a "PUBREL sent" record (`writePubrelSent`). Fenced: a newer claim owns the session and its snapshot
 * still has the message unreceived, so it will send the PUBLISH again; a PUBREL from here would let the client
 * complete the exchange and take that PUBLISH for a new message (decision 037, cause 2). The connection closes as
 * taken over before the journal writes the acknowledgements that waited for this batch, so PUBREL never goes out;
 * the client finishes the exchange with the session's owner. Only while the session is still under the record's
 * claim here (a newer claim on this node has a connection of its own).
 */
const PUBREL_SENT: ResultTarget<PubrelSent> = {
  onStoreResult(ctx: PubrelSent, result: StoreOpResult): void {
    if (result.ok || result.reason !== "fenced" || ctx.session.epoch !== ctx.epoch) return;
    ctx.session.link?.close("takeover");
  },
};
