import { AckType } from "./codec.js";
import { InflightTable } from "./inflight-table.js";
import { releaseOutgoing } from "./outgoing-pool.js";
import type { Session } from "./session.js";
import type { SessionHost, SessionLimits, SessionLink } from "./session-ports.js";
import { writeDeleted, writePubrelSent, writeReleased } from "./session-records.js";
import { OutState, type Message, type Outgoing } from "./types.js";

/**
 * A session's outgoing QoS 1/2 messages in flight: sent (or, for a persistent session, about to be sent once their
 * store write is durable) and not yet acknowledged, by packet id; the window that bounds them; the packet ids they
 * get; and their acknowledgement flow [MQTT-4.3.2] [MQTT-4.3.3]. Part of the session's outbox
 * (broker/session-outbox.ts), which fills it from its queue. Packet ids go on from the last one across reconnects.
 */
export class InflightWindow {
  /** Created on first use (decision 029); methods that only read or clear it check the field. */
  private map: InflightTable<Outgoing> | null = null;
  /** QoS 1/2 deliveries allowed in flight: `limits.maxInflight`, or less when an MQTT 5 client's Receive Maximum is. */
  private window: number;
  private lastPacketId: number;

  constructor(
    private readonly session: Session,
    private readonly limits: SessionLimits,
    private readonly host: SessionHost,
    /** The last packet id the session gave before this window (an outbox let go while idle: Session.trimIdle). */
    lastPacketId: number,
  ) {
    this.window = windowOf(session.link, limits);
    this.lastPacketId = lastPacketId;
  }

  /** The last packet id given: the next goes on from it. */
  get lastId(): number {
    return this.lastPacketId;
  }

  /** The messages in flight by packet id (created on first use). */
  get table(): InflightTable<Outgoing> {
    return (this.map ??= new InflightTable());
  }

  /** How many messages are in flight; allocates nothing. */
  get count(): number {
    return this.map === null ? 0 : this.map.size;
  }

  /** Whether the window has room for one more. */
  get hasRoom(): boolean {
    return this.table.size < this.window;
  }

  /** Forgets the messages in flight (the store, for a persistent session, keeps its own); packet ids go on. */
  clear(): void {
    this.map = null;
  }

  /** Puts `out` in flight under a new packet id, which it returns. */
  add(out: Outgoing): number {
    out.packetId = this.allocatePacketId();
    this.table.set(out.packetId, out);
    return out.packetId;
  }

  /**
   * Puts the stored message `out` in flight under `packetId`, its seq's (the sent boundary, decision 021): ids
   * allocated for messages sent at once (`add`) go on from here, as the next seqs do.
   */
  addStored(out: Outgoing, packetId: number): void {
    out.packetId = packetId;
    this.table.set(packetId, out);
    this.lastPacketId = packetId;
  }

  /** A snapshot's messages in flight, in their order; new ids go on from `lastPacketId` (Outbox.load). */
  restore(entries: readonly Outgoing[], lastPacketId: number | null): void {
    for (const out of entries) this.table.set(out.packetId, out);
    if (lastPacketId !== null) this.lastPacketId = lastPacketId;
  }

  /** Whether `out` is in flight (and not only another message under its packet id). */
  holds(out: Outgoing): boolean {
    return out.packetId !== 0 && this.table.get(out.packetId) === out;
  }

  /** Whether packet id `packetId` is in flight. */
  has(packetId: number): boolean {
    return this.table.has(packetId);
  }

  /** Takes `out` out of flight, if it is there (its store write was refused). True when it was. */
  remove(out: Outgoing): boolean {
    if (!this.holds(out)) return false;
    this.table.delete(out.packetId);
    return true;
  }

  /**
   * `link` is attached: its window is set, and unacknowledged messages are re-sent first, in their original order,
   * PUBLISH with DUP=1 and PUBREL as PUBREL [MQTT-4.4.0-1] [MQTT-3.3.1-1].
   */
  attached(link: SessionLink): void {
    this.window = windowOf(link, this.limits);
    if (this.map !== null) for (const out of this.map.values()) {
      if (!out.durable) continue;
      if (out.state === OutState.AwaitAck) link.writePublish(out.msg, out.qos, out.retain, true, out.packetId, out.subIds);
      else link.writeAck(AckType.Pubrel, out.packetId);
    }
  }

  /** PUBACK from the client for an outgoing QoS 1 message [MQTT-4.3.2-1]. */
  onPuback(packetId: number): void {
    const out = this.table.get(packetId);
    if (out === undefined || out.qos !== 1) return;
    this.complete(out);
  }

  /** PUBREC for an outgoing QoS 2 message (see Session.onPubrec). Returns whether to answer (false: unknown id). */
  onPubrec(packetId: number): boolean {
    const out = this.table.get(packetId);
    if (out === undefined || out.qos !== 2) return false;
    out.state = OutState.AwaitComp;
    if (this.session.persistent && out.seq !== 0) writePubrelSent(this.host.journal, this.session, out.seq, packetId);
    return true;
  }

  /** An MQTT 5 client refused an outgoing QoS 2 message (PUBREC with a failure code): it is done with. */
  onRefused(packetId: number): void {
    const out = this.table.get(packetId);
    if (out === undefined || out.qos !== 2 || out.state !== OutState.AwaitAck) return;
    this.complete(out);
  }

  onPubcomp(packetId: number): void {
    const out = this.table.get(packetId);
    if (out === undefined || out.state !== OutState.AwaitComp) return;
    this.complete(out);
  }

  private complete(out: Outgoing): void {
    this.table.delete(out.packetId);
    const session = this.session;
    if (session.persistent) {
      if (out.seq !== 0) writeDeleted(this.host.journal, session, out.seq);
    } else if (out.seq === 0 && out.durable) {
      // A clean session's record is referred to by its in-flight table alone (broker/outgoing-pool.ts). One made
      // while the session was persistent (a clean reconnect without the store keeps the session) may still be the
      // context of a store write: it has a seq, or is not durable yet, and is left alone.
      releaseOutgoing(out);
    }
    session.drain();
  }

  /**
   * Drops the messages the client may no longer receive (Outbox.discard), adding them to `dropped`: a released one
   * (PUBREL sent) completes as it is; a QoS 2 PUBLISH is released with PUBREL instead of re-sent, so the client's
   * packet id state ends (as a withheld one is: broker/session-records.ts).
   */
  discard(mayReceive: (topic: string) => boolean, stored: boolean, dropped: Message[]): void {
    if (this.map === null) return;
    const { session, host } = this;
    for (const [packetId, out] of this.map.entries()) {
      if (out.state === OutState.AwaitComp || mayReceive(out.msg.topic)) continue;
      dropped.push(out.msg);
      if (out.qos === 2) {
        out.state = OutState.AwaitComp;
        if (stored && out.seq !== 0) writeReleased(host.journal, session, out.seq, packetId);
        continue;
      }
      this.table.delete(packetId);
      if (stored && out.seq !== 0) writeDeleted(host.journal, session, out.seq);
    }
  }

  /** Takes the QoS 1 messages of shared subscriptions out of flight (Outbox.takeShared), adding them to `taken`. */
  takeShared(taken: { msg: Message; group: string }[]): void {
    if (this.map === null) return;
    for (const [packetId, out] of this.map.entries()) {
      if (out.group === undefined || out.qos !== 1) continue;
      this.table.delete(packetId);
      taken.push({ msg: out.msg, group: out.group });
    }
  }

  /** Next free packet id: non-zero [MQTT-2.3.1-1], never one still in flight [MQTT-2.3.1-4]. */
  private allocatePacketId(): number {
    let id = this.lastPacketId;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.table.has(id));
    this.lastPacketId = id;
    return id;
  }
}

/** The in-flight window on `link`: the client's Receive Maximum bounds what the server sends it unacknowledged [MQTT-3.3.4-7]. */
function windowOf(link: SessionLink | null, limits: SessionLimits): number {
  return link === null || link.v5 === null ? limits.maxInflight : Math.min(limits.maxInflight, link.v5.receiveMaximum);
}
