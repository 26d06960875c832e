import type { Packet } from "mqtt-packet";
import type { LimitsConfig } from "../core/config/types.js";
import { LimitExceeded } from "./errors.js";
import { keepPacket } from "./lent-packets.js";

/** Packets a client may pipeline behind CONNECT before CONNACK is sent. Beyond this the client is abusive. */
const MAX_PENDING_PACKETS = 1024;
/**
 * Bytes of held packets allowed while a SUBSCRIBE or UNSUBSCRIBE waits for the store, on top of
 * `limits.maxPacketSize`: reading is paused meanwhile, so a client that is not abusive holds at most the rest of
 * one read (64 KiB over TCP, one message over WebSocket).
 */
const SUSPENDED_EXTRA_BYTES = 65_536;
/** Packets held while a SUBSCRIBE or UNSUBSCRIBE waits for the store: one 64 KiB read of the smallest packets. */
const MAX_SUSPENDED_PACKETS = 32_768;
/**
 * Queued behind the packets a suspended connection holds when the client ends its side of the stream: the end is
 * handled after them (a DISCONNECT among them still discards the will). Never dispatched.
 */
const END_OF_STREAM = Object.freeze({ cmd: "pingreq" }) as Packet;

/** Where held packets go when they are replayed: the connection. */
export interface HeldPacketSink {
  onPacket(packet: Packet, size: number): boolean;
  /** The client's end of stream is next: true when it ended the connection; false holds it again, behind a new wait. */
  onHeldEnd(): boolean;
}

/**
 * The packets of one connection read while it could not handle them: behind CONNECT until CONNACK, or behind a
 * handler waiting for the store (a SUBSCRIBE, a QoS 2 root record). Packets are handled strictly in arrival order,
 * so they are replayed once the wait is over. Reading is paused meanwhile (broker/read-gate.ts): what was already
 * read is all that is held, and it is bounded here. Made on first use: most connections never hold a packet.
 */
export class HeldPackets {
  private packets: Packet[] | null = null;
  private sizes: number[] | null = null;
  /** Wire bytes of the packets in `packets`. */
  private bytes = 0;

  /**
   * Holds `packet` (a copy: decoded packets are lent, broker/lent-packets.ts), unless that passes the bounds of
   * `limits`: false then, and nothing is held (`refusal` says why). `beforeConnack`: held behind CONNECT.
   */
  hold(packet: Packet, size: number, beforeConnack: boolean, limits: LimitsConfig): boolean {
    const packets = (this.packets ??= []);
    if (this.bytes + size > maxHeldBytes(beforeConnack, limits) || packets.length >= maxHeldPackets(beforeConnack)) return false;
    packets.push(keepPacket(packet));
    (this.sizes ??= []).push(size);
    this.bytes += size;
    return true;
  }

  /** The client ended its side of the stream: the end is handled behind what is held. */
  holdEnd(): void {
    (this.packets ??= []).push(END_OF_STREAM);
    (this.sizes ??= []).push(0);
  }

  /** Hands what is held to `sink` in arrival order. Emptied first: a replayed packet may hold the rest again. */
  replay(sink: HeldPacketSink): void {
    const packets = this.packets;
    const sizes = this.sizes;
    this.packets = null;
    this.sizes = null;
    this.bytes = 0;
    if (packets === null || sizes === null) return;
    for (let i = 0; i < packets.length; i++) {
      const packet = packets[i] as Packet;
      if (packet === END_OF_STREAM && sink.onHeldEnd()) return;
      sink.onPacket(packet, sizes[i] as number);
    }
  }
}

/** Why `HeldPackets.hold` refused a packet: more bytes or packets than allowed before CONNACK or during a store wait. */
export function refusal(beforeConnack: boolean, limits: LimitsConfig): LimitExceeded {
  const what = beforeConnack ? "before CONNACK (limits.maxPreAuthBytes)" : "while waiting for the session store";
  return new LimitExceeded("pre-auth-bytes", `more than ${maxHeldBytes(beforeConnack, limits)} bytes or ${maxHeldPackets(beforeConnack)} packets sent ${what}`);
}

function maxHeldBytes(beforeConnack: boolean, limits: LimitsConfig): number {
  return beforeConnack ? limits.maxPreAuthBytes : Math.max(limits.maxPreAuthBytes, limits.maxPacketSize + SUSPENDED_EXTRA_BYTES);
}

function maxHeldPackets(beforeConnack: boolean): number {
  return beforeConnack ? MAX_PENDING_PACKETS : MAX_SUSPENDED_PACKETS;
}
