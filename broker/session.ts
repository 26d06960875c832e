import type { QoS } from "mqtt-packet";
import { AckType } from "./codec.js";
import { Deque } from "./queue.js";
import { OutState, type DropReason, type Message, type Outgoing } from "./types.js";

/** What a session needs from the connection it is attached to. */
export interface SessionLink {
  writePublish(msg: Message, qos: QoS, retain: boolean, dup: boolean, packetId: number): void;
  writeAck(type: AckType, packetId: number): void;
  /** True while the socket's outgoing buffer is above its high-water mark. */
  readonly congested: boolean;
}

export interface SessionLimits {
  maxInflight: number;
  maxQueued: number;
  queueDropPolicy: "oldest" | "newest";
}

/** Receives the session's drop notifications (the broker counts them and emits events). */
export interface SessionObserver {
  onDrop(session: Session, msg: Message, reason: DropReason): void;
}

/**
 * The state of one MQTT session ([MQTT-3.1.2-4]): subscriptions, outgoing QoS 1/2 messages in flight,
 * messages queued behind the in-flight window or while offline, and inbound QoS 2 packet ids.
 * A persistent session outlives its connections; `link` is null while the client is offline.
 */
export class Session {
  link: SessionLink | null = null;
  readonly subscriptions = new Map<string, QoS>();
  readonly inflight = new Map<number, Outgoing>();
  readonly queue = new Deque<Outgoing>();
  /** Packet ids of inbound QoS 2 messages received but not yet released (PUBREL) [MQTT-4.3.3-2]. */
  readonly inboundQos2 = new Set<number>();
  connectedAt = 0;
  disconnectedAt = 0;
  private lastPacketId = 0;

  constructor(
    readonly clientId: string,
    public clean: boolean,
    private readonly limits: SessionLimits,
    private readonly observer: SessionObserver,
  ) {}

  /**
   * Delivers a message to this session at `qos` (already min(message QoS, granted QoS)).
   * Keeps publish order per session: once anything is queued, later messages queue behind it [MQTT-4.6.0-6].
   */
  deliver(msg: Message, qos: QoS, retain: boolean): void {
    const link = this.link;
    if (qos === 0) {
      // QoS 0 messages are not stored for offline sessions.
      if (link === null) return;
      if (this.queue.length === 0) {
        if (link.congested) {
          this.observer.onDrop(this, msg, "slow-consumer");
          return;
        }
        link.writePublish(msg, 0, retain, false, 0);
        return;
      }
      this.enqueue({ msg, qos, retain, packetId: 0, state: OutState.AwaitAck });
      return;
    }
    const out: Outgoing = { msg, qos, retain, packetId: 0, state: OutState.AwaitAck };
    if (link !== null && this.queue.length === 0 && this.inflight.size < this.limits.maxInflight && !link.congested) {
      this.sendNew(link, out);
      return;
    }
    this.enqueue(out);
  }

  /** PUBACK from the client for an outgoing QoS 1 message [MQTT-4.3.2-1]. */
  onPuback(packetId: number): void {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.qos !== 1) return;
    this.inflight.delete(packetId);
    this.drain();
  }

  /** PUBREC for an outgoing QoS 2 message: answer with PUBREL and wait for PUBCOMP [MQTT-4.3.3-1]. */
  onPubrec(packetId: number): void {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.qos !== 2) return;
    out.state = OutState.AwaitComp;
    this.link?.writeAck(AckType.Pubrel, packetId);
  }

  onPubcomp(packetId: number): void {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.state !== OutState.AwaitComp) return;
    this.inflight.delete(packetId);
    this.drain();
  }

  /**
   * Attaches a connection. Unacknowledged messages are re-sent first, in their original order, PUBLISH with
   * DUP=1 and PUBREL as PUBREL [MQTT-4.4.0-1] [MQTT-3.3.1-1]; then the queue drains into the window.
   */
  attach(link: SessionLink): void {
    this.link = link;
    this.connectedAt = Date.now();
    for (const out of this.inflight.values()) {
      if (out.state === OutState.AwaitAck) link.writePublish(out.msg, out.qos, out.retain, true, out.packetId);
      else link.writeAck(AckType.Pubrel, out.packetId);
    }
    this.drain();
  }

  /** Detaches the connection. Queued QoS 0 messages are dropped: they are not kept for offline sessions. */
  detach(): void {
    this.link = null;
    this.disconnectedAt = Date.now();
    if (this.queue.length > 0) this.queue.filter(isNotQos0);
  }

  /** Moves queued messages into the in-flight window while the link can take them. Called on ack and on drain. */
  drain(): void {
    const link = this.link;
    if (link === null) return;
    while (this.queue.length > 0 && !link.congested) {
      const next = this.queue.peek() as Outgoing;
      if (next.qos === 0) {
        this.queue.shift();
        link.writePublish(next.msg, 0, next.retain, false, 0);
        continue;
      }
      if (this.inflight.size >= this.limits.maxInflight) return;
      this.queue.shift();
      this.sendNew(link, next);
    }
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  private sendNew(link: SessionLink, out: Outgoing): void {
    out.packetId = this.allocatePacketId();
    this.inflight.set(out.packetId, out);
    link.writePublish(out.msg, out.qos, out.retain, false, out.packetId);
  }

  private enqueue(out: Outgoing): void {
    const { maxQueued, queueDropPolicy } = this.limits;
    if (this.queue.length >= maxQueued) {
      if (queueDropPolicy === "newest" || maxQueued === 0) {
        this.observer.onDrop(this, out.msg, "queue-full");
        return;
      }
      const oldest = this.queue.shift() as Outgoing;
      this.observer.onDrop(this, oldest.msg, "queue-full");
    }
    this.queue.push(out);
  }

  /** Next free packet id: non-zero [MQTT-2.3.1-1], never one still in flight [MQTT-2.3.1-2]. */
  private allocatePacketId(): number {
    let id = this.lastPacketId;
    do {
      id = id === 65_535 ? 1 : id + 1;
    } while (this.inflight.has(id));
    this.lastPacketId = id;
    return id;
  }
}

function isNotQos0(out: Outgoing): boolean {
  return out.qos !== 0;
}
