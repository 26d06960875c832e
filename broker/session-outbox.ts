import type { QoS } from "mqtt-packet";
import { sentPacketId } from "../core/store/sent-boundary.js";
import type { StoredOutgoing, StoreOpResult } from "../core/store/types.js";
import { OutboxQueue } from "./outbox-queue.js";
import { outgoing } from "./outgoing-pool.js";
import { EMPTY_MESSAGE, withhold, writeEnqueue, writeMoved, writeTaken } from "./session-records.js";
import { fromStored, onePerPacketId } from "./stored-outgoing.js";
import { outOfOrder } from "./stream-order.js";
import { OutState, type Message, type Outgoing } from "./types.js";

export { undeliverableTo } from "./outbox-queue.js";

/**
 * A session's outgoing messages while a connection can take them: the queue behind the in-flight window
 * (broker/session-inflight.ts), filled by deliveries and drained into the window as the link and the window have
 * room. Once anything is queued, later messages queue behind it, so order per session holds at every QoS
 * [MQTT-4.6.0-6]. A persistent session's QoS 1/2 messages are written through to the store: one is sent once its
 * write is durable (broker/session-records.ts has the records of its later steps). The store's answers come back to
 * the session (its `onStoreResult`), which hands those of its outgoing messages here (`stored`).
 *
 * Its base, `OutboxQueue` (broker/outbox-queue.ts), holds the queue, the window and the sending and draining; this
 * file holds a settling session's held deliveries, the store's answers and the load of a claim's snapshot.
 *
 * The session creates it with its first message (decision 029: most devices of a fleet never have one while
 * connected) and keeps it, so packet ids go on from the last one across reconnects.
 */
export class Outbox extends OutboxQueue {
  /**
   * A settling session's held deliveries, stored at once (`holdStored`), in the order written (so in seq order):
   * not sent until the hold is released (`releaseHeld`). Null when none.
   */
  private held: Outgoing[] | null = null;
  /**
   * The seqs of held deliveries the store took, kept across `clear` while their hold lasts: a claim here that joins
   * the settle wait (MoveSettler.claimed, the client came back at once) loads them from its snapshot into the held
   * deliveries again (`load`), not the queue, so they still wait for what the old holder passes on.
   */
  private heldSeqs: Set<number> | null = null;
  /** `inflight.lastId` when an idle sweep last found the outbox empty; -1 when it did not (`quietSinceLastSweep`). */
  private sweepMark = -1;

  /** Nothing queued, held or in flight. */
  get empty(): boolean {
    return this.queue.length === 0 && this.held === null && this.heldSeqs === null && this.inflight.count === 0;
  }

  /**
   * Asked once per pass of the idle sweep (broker/idle-trim.ts): true when the outbox is empty and was at the pass
   * before, with no packet id given in between. Then it has not been used for a whole pass and may be let go.
   */
  quietSinceLastSweep(): boolean {
    if (!this.empty) {
      this.sweepMark = -1;
      return false;
    }
    const last = this.inflight.lastId;
    const quiet = this.sweepMark === last;
    this.sweepMark = last;
    return quiet;
  }

  /** Drops the messages held in memory (the store, for a persistent session, keeps its own); packet ids go on. */
  clear(): void {
    this.inflight.clear();
    this.queue.clear();
    if (this.held !== null) for (const out of this.held) if (out.seq !== 0) (this.heldSeqs ??= new Set()).add(out.seq);
    this.held = null;
  }

  /**
   * A settling session's held QoS 1/2 delivery (broker/session-hold.ts): stored now, as `sendStored` does, so the
   * batch that held it need not wait for the hold, but sent only once the hold is released (`releaseHeld`), in seq
   * order behind what is queued (the sent boundary, decision 021).
   */
  holdStored(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    const out = outgoing(msg, qos, retain, false, subIds);
    (this.held ??= []).push(out);
    writeEnqueue(this.host.journal, this.session, out, 0, this.limits);
  }

  /** Whether a held delivery's enqueue (`holdStored`) has not been answered yet. */
  get heldPending(): boolean {
    return this.held !== null && this.held.some((out) => out.seq === 0 && !out.durable);
  }

  /**
   * The hold ended: the held deliveries the store took (every enqueue answered: `heldPending` is false) join the
   * queue in seq order. A stream (one publisher on one topic) they hold out of publish order (the old holder's
   * pass-ons came behind newer ones, decision 031) is stored again behind the rest from its first entry out of
   * place on, as at load (decision 038), so the queue stays in seq order.
   */
  releaseHeld(): void {
    const held = this.held;
    this.dropHeld();
    if (held === null) return;
    // Every enqueue was answered; should one not be after all, it stays in its place (never stored again by its seq).
    const moved = outOfOrder(held.filter((out) => out.seq !== 0));
    for (const out of held) if (moved.length === 0 || !moved.includes(out)) this.queue.push(out);
    for (const out of moved) this.requeue(out);
    this.session.drain();
  }

  /**
   * The hold ended with the session no longer served here (it moved on, its client left, a Clean Start replaced it):
   * the held deliveries stay in the store, for whoever has the session now (its claim's snapshot, or its offline
   * queue); a write that came too late for that is refused as fenced and routed again (`stored`).
   */
  dropHeld(): void {
    this.held = null;
    this.heldSeqs = null;
  }

  /**
   * The store's answer to the write of `out` (an enqueue, or a "sent" record). False, unless the store refused it as
   * "fenced" before it was ever stored: the caller then routes it again (Session.reroute), never dropping it after
   * its publisher got PUBACK.
   */
  stored(out: Outgoing, result: StoreOpResult): boolean {
    if (!result.ok) {
      if (result.reason === "duplicate" && result.seq !== undefined && this.takeQueued(out, result.seq)) return false;
      // A held delivery the store did not take is never sent, whatever the reason (Outbox.holdStored).
      if (this.held !== null) this.held = this.held.filter((o) => o !== out);
      if (result.reason === "duplicate") {
        // Already enqueued (and delivered or queued) when this node queue message was handled before.
        this.remove(out);
        this.session.drain();
      } else if (result.reason === "full") {
        // Drop policy "newest": the store refused this message.
        this.remove(out);
        this.host.onDrop(this.session, out.msg, "queue-full");
      }
      // "fenced": another connection owns the session now. Its snapshot is the truth for what was stored before;
      // a message never stored (seq 0) is routed again.
      if (result.reason === "fenced" && out.seq === 0) {
        this.remove(out);
        return true;
      }
      return false;
    }
    if (result.dropped !== undefined) this.dropQueuedSeq(result.dropped);
    if (result.seq !== undefined) out.seq = result.seq;
    out.durable = true;
    const link = this.session.link;
    if (link === null) return false;
    if (this.inflight.holds(out)) {
      link.writePublish(out.msg, out.qos, out.retain, false, out.packetId, out.subIds);
    } else {
      this.session.drain();
    }
    return false;
  }

  /**
   * The store refused the enqueue of `out` as a duplicate of the queued entry `seq`, which a write that was not this
   * session's stored (the offline path, or a forward stored regardless of its owner after `maxHops`: docs/cluster.md)
   * and which its claim's snapshot may not have had. Unless the session has that entry, `out` becomes it, in its
   * place (a window slot reserved for it: the entry is marked in flight under that id before it is sent). False when
   * the session has it, or `out` is no longer the session's (its connection left, a newer claim loaded anew).
   */
  private takeQueued(out: Outgoing, seq: number): boolean {
    const inFlight = this.inflight.holds(out);
    const bySeq = (o: Outgoing): boolean => o.seq === seq;
    if (this.session.link === null || (!inFlight && !this.queue.some((o) => o === out) && this.held?.includes(out) !== true)) return false;
    if (this.queue.some(bySeq) || this.held?.some(bySeq) === true || this.inflight.table.values().some(bySeq)) return false;
    out.seq = seq;
    if (inFlight) {
      writeTaken(this.host.journal, this.session, out, out.packetId);
      return true;
    }
    out.durable = true;
    this.session.drain();
    return true;
  }

  /**
   * Loads the outgoing messages of a store snapshot taken when the session was claimed (after `clear`); `holding`:
   * the session holds its deliveries (DeliveryHold), which then gets back the ones it had stored (`heldSeqs`).
   */
  load(stored: readonly StoredOutgoing[], holding: boolean): void {
    // Held deliveries go back to the hold only while there is one to release them.
    if (!holding) this.heldSeqs = null;
    // In flight: the messages sent before (the store gives those under the sent boundary their derived ids).
    const entries = stored.map(fromStored);
    onePerPacketId(entries);
    const sent: Outgoing[] = [];
    const queued: Outgoing[] = [];
    for (const out of entries) {
      if (out.state === OutState.AwaitAck && !this.session.mayReceiveAny(out.msg.topic) && !withhold(this.host, this.session, out)) continue;
      if (out.packetId !== 0) sent.push(out);
      else if (this.heldSeqs?.has(out.seq) === true) (this.held ??= []).push(out);
      else queued.push(out);
    }
    this.heldSeqs = null;
    // A late copy stored behind newer messages of its publisher on its topic is stored again in its place.
    const moved = outOfOrder(queued);
    for (const out of queued) if (moved.length === 0 || !moved.includes(out)) this.queue.push(out);
    for (const out of moved) this.requeue(out);
    // New ids continue from the newest message's (see drainQueue): they stay clear of the ids the next seqs give.
    const newest = entries[entries.length - 1];
    this.inflight.restore(sent, newest === undefined ? null : sentPacketId(newest.seq));
  }

  /** Stores a queued message again, behind the rest of the queue (decision 038; session-records.ts `writeMoved`). */
  private requeue(out: Outgoing): void {
    const again = outgoing(out.msg, out.qos, out.retain, false, out.subIds);
    again.seq = out.seq;
    this.queue.push(again);
    writeMoved(this.host.journal, this.session, out, again);
  }

  private dropQueuedSeq(seq: number): void {
    let dropped: Outgoing | undefined;
    const other = (o: Outgoing): boolean => {
      if (o.seq !== seq) return true;
      dropped = o;
      return false;
    };
    this.queue.filter(other);
    if (dropped === undefined && this.held !== null) this.held = this.held.filter(other);
    this.host.onDrop(this.session, dropped?.msg ?? EMPTY_MESSAGE, "queue-full");
  }
}
