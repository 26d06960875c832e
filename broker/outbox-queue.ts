import type { QoS } from "mqtt-packet";
import { sentPacketId } from "../core/store/sent-boundary.js";
import { outgoing } from "./outgoing-pool.js";
import { undeliverable } from "./publish5.js";
import { Deque } from "./queue.js";
import type { Session } from "./session.js";
import { InflightWindow } from "./session-inflight.js";
import type { SessionHost, SessionLimits, SessionLink } from "./session-ports.js";
import { writeDeleted, writeEnqueue, writeSent } from "./session-records.js";
import { type DropReason, type Message, type Outgoing } from "./types.js";

/**
 * The queue half of a session's outbox (broker/session-outbox.ts, `Outbox`, is the rest of the same object): the
 * queue behind the in-flight window, how a delivery is sent or queued, how the queue drains into the window, and
 * what leaves the queue when the session's rules change or it ends. The held deliveries of a settling session and
 * the store's answers are `Outbox`'s.
 */
export abstract class OutboxQueue {
  /** Its ring buffer is allocated by the first push (broker/queue.ts). */
  protected readonly queue = new Deque<Outgoing>(0);
  readonly inflight: InflightWindow;

  constructor(
    protected readonly session: Session,
    protected readonly limits: SessionLimits,
    protected readonly host: SessionHost,
    /** Packet ids go on from this one (the session's last, when an earlier outbox was let go; 0 at first). */
    lastPacketId: number,
  ) {
    this.inflight = new InflightWindow(session, limits, host, lastPacketId);
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /**
   * A clean session's QoS 1/2 delivery, or a QoS 0 one behind a non-empty queue (`link` attached, nothing held):
   * sent at once while nothing is queued and the window and the link have room, else queued.
   */
  send(msg: Message, qos: QoS, retain: boolean, link: SessionLink, subIds: readonly number[] | undefined, group: string | undefined): void {
    const out = outgoing(msg, qos, retain, true, subIds, group);
    if (qos !== 0 && this.queue.length === 0 && this.inflight.hasRoom && !link.congested) {
      link.writePublish(msg, qos, retain, false, this.inflight.add(out), subIds);
      return;
    }
    this.enqueueLocal(out);
  }

  /** A persistent session's QoS 1/2 delivery while its client is connected: written through to the store. */
  sendStored(msg: Message, qos: QoS, retain: boolean, link: SessionLink, subIds: readonly number[] | undefined): void {
    const out = outgoing(msg, qos, retain, false, subIds);
    let packetId = 0;
    if (this.queue.length === 0 && this.inflight.hasRoom && !link.congested) {
      // Reserve a window slot; PUBLISH goes out when the store has it.
      packetId = this.inflight.add(out);
    } else {
      this.queue.push(out);
    }
    writeEnqueue(this.host.journal, this.session, out, packetId, this.limits);
  }

  /** Moves queued messages into the in-flight window while the link can take them. */
  drainQueue(link: SessionLink): void {
    const { session, inflight } = this;
    while (this.queue.length > 0 && !link.saturated()) {
      const next = this.queue.peek() as Outgoing;
      if ((next.msg.publishedAt !== undefined || link.v5 !== null) && next.durable && this.dropUndeliverable(next, link)) continue;
      if (next.qos === 0) {
        this.queue.shift();
        link.writePublish(next.msg, 0, next.retain, false, 0, next.subIds);
        continue;
      }
      if (!inflight.hasRoom) return;
      if (!next.durable) return; // its enqueue has not landed yet; `stored` drains again
      if (!session.persistent || next.seq === 0) {
        this.queue.shift();
        link.writePublish(next.msg, next.qos, next.retain, false, inflight.add(next), next.subIds);
        continue;
      }
      // A stored message's packet id is its seq's (the sent boundary, decision 021). While an earlier message still
      // holds that id (65,535 seqs before), the queue waits for its acknowledgement [MQTT-2.3.1-4]: it drains then.
      const packetId = sentPacketId(next.seq);
      if (inflight.has(packetId)) return;
      this.queue.shift();
      inflight.addStored(next, packetId);
      next.durable = false;
      writeSent(this.host.journal, session, next, packetId);
    }
  }

  /**
   * Drops outgoing messages (queued or in flight) the client may no longer receive, after a resume under changed
   * rules: removed from memory and, for a persistent session, from the store; a QoS 2 message in flight is
   * released with PUBREL instead. Returns the messages that will not be delivered.
   */
  discard(mayReceive: (topic: string) => boolean): Message[] {
    const session = this.session;
    const dropped: Message[] = [];
    const stored = session.persistent;
    this.inflight.discard(mayReceive, stored, dropped);
    this.queue.filter((out) => {
      if (mayReceive(out.msg.topic)) return true;
      dropped.push(out.msg);
      if (stored && out.seq !== 0) writeDeleted(this.host.journal, session, out.seq);
      return false;
    });
    return dropped;
  }

  /**
   * The deliveries of a session that is ending which came through a shared subscription and may go to another
   * member: queued ones (never sent), and QoS 1 ones sent but not acknowledged. A QoS 2 message sent stays with
   * this session [MQTT-4.8.2-5]. They are removed from the session.
   */
  takeShared(): { msg: Message; group: string }[] {
    const taken: { msg: Message; group: string }[] = [];
    this.inflight.takeShared(taken);
    if (this.queue.length > 0) {
      this.queue.filter((out) => {
        if (out.group === undefined) return true;
        taken.push({ msg: out.msg, group: out.group });
        return false;
      });
    }
    return taken;
  }

  /** A clean session's connection went away: its queued QoS 0 messages are dropped. */
  dropQueuedQos0(): void {
    if (this.queue.length > 0) this.queue.filter(isNotQos0);
  }

  /** Drops the queue's head when it may not be sent (expired, too large for the client); true when dropped. */
  private dropUndeliverable(next: Outgoing, link: SessionLink): boolean {
    const session = this.session;
    const why = undeliverableTo(link, next.msg, next.subIds, this.host);
    if (why === null) return false;
    this.queue.shift();
    if (session.persistent && next.seq !== 0) writeDeleted(this.host.journal, session, next.seq);
    this.host.onDrop(session, next.msg, why);
    return true;
  }

  /** Queues in memory with the configured bound (clean sessions, and QoS 0 behind a non-empty queue). */
  private enqueueLocal(out: Outgoing): void {
    const { maxQueued, queueDropPolicy } = this.limits;
    if (this.queue.length >= maxQueued) {
      if (queueDropPolicy === "newest" || maxQueued === 0) {
        this.host.onDrop(this.session, out.msg, "queue-full");
        return;
      }
      const oldest = this.queue.shift() as Outgoing;
      this.host.onDrop(this.session, oldest.msg, "queue-full");
    }
    this.queue.push(out);
  }

  /** Removes `out` (its write was refused) from the window or the queue (`stored` removes it from the held ones). */
  protected remove(out: Outgoing): void {
    if (!this.inflight.remove(out)) this.queue.filter((o) => o !== out);
  }
}

/** Why `msg` may not be sent on `link` (expired, larger than the MQTT 5 client's Maximum Packet Size), or null. */
export function undeliverableTo(link: SessionLink, msg: Message, subIds: readonly number[] | undefined, host: SessionHost): DropReason | null {
  if (msg.publishedAt === undefined && (link.v5 === null || link.v5.maximumPacketSize === 0)) return null;
  return undeliverable(msg, link.v5, host.now(), subIds);
}

function isNotQos0(out: Outgoing): boolean {
  return out.qos !== 0;
}
