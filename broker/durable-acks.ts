import type { AckType } from "./codec.js";
import type { DurabilityWaiter, Journal } from "./journal.js";
import type { ReadGate } from "./read-gate.js";
import { orderKeyAt } from "../core/order-key.js";

/** Acknowledgements waiting for store writes; beyond this many the broker stops reading from the client. */
const MAX_PENDING_ACKS = 1024;
/**
 * Bytes of a client's messages whose store writes are not yet durable (QoS 0 ones that wrote included); beyond
 * this the broker stops reading from the client too, so a store outage holds at most this much per client.
 */
const MAX_PENDING_ACK_BYTES = 4 * 1024 * 1024;
/**
 * PUBACKs written lately are remembered (`resendable`): a client that moved to another node before it read them
 * sends those messages again there. The last this many, written within RECENT_ACK_MS.
 */
const RECENT_ACKS = 16;
const RECENT_ACK_MS = 5000;

/** Where the acknowledgements go once durable: the connection. */
export interface AckWriter {
  readonly isClosed: boolean;
  writeAck(type: AckType, packetId: number, reasonCode: number): void;
}

/**
 * One connection's acknowledgements (PUBACK, PUBREC, PUBCOMP) held until the store writes they vouch for are
 * durable, in the order the packets arrived [MQTT-4.6.0-2]: packed as type << 16 | packet id, with the journal
 * batch each waits for. Made on first use (`Connection.ackWhenDurable`): most connections never wait for the store.
 */
export class DurableAcks implements DurabilityWaiter {
  private readonly queue: number[] = [];
  private readonly batches: number[] = [];
  /** Message bytes of each entry of `queue`, and their sum. */
  private readonly sizes: number[] = [];
  private bytes = 0;
  /** PUBACKs held (MQTT 5 Receive Maximum counts them with the QoS 2 ids not yet released). */
  private pubacks = 0;
  /**
   * Where each entry's message stands in its publisher's order (decision 045): the `n` of its order key under the
   * session's current prefix, or the key it kept from an earlier claim; 0 when it has none (not a QoS 1 PUBACK).
   */
  private readonly orders: (number | string)[] = [];
  /** The PUBACKs written lately (`RECENT_ACKS`), a ring of packet id, order and when; made on the first. */
  private recent: RecentAcks | null = null;

  constructor(
    private readonly writer: AckWriter,
    private readonly journal: Journal,
    private readonly reading: ReadGate,
  ) {}

  /** Nothing waits: a later acknowledgement may go out at once when its packet wrote nothing. */
  get isEmpty(): boolean {
    return this.queue.length === 0;
  }

  /** PUBACKs held for the store. */
  get pubacksHeld(): number {
    return this.pubacks;
  }

  /**
   * Holds an acknowledgement behind what is waiting, and behind the journal's batch when its packet `wrote`.
   * `order`: a PUBACK's message's place in its publisher's order (see `orders`), 0 for none.
   */
  hold(type: AckType, packetId: number, reasonCode: number, wrote: boolean, bytes: number, order: number | string = 0): void {
    if (type === 0x40) this.pubacks++;
    // type << 16 | packet id fits 23 bits; an MQTT 5 reason code goes above them (a number, not an int32).
    this.add(reasonCode * 0x1000000 + ((type << 16) | packetId), wrote, bytes, order);
  }

  /** A QoS 0 message's store writes: nothing to acknowledge, its bytes count towards the bound. */
  count(bytes: number): void {
    this.add(0, true, bytes, 0);
  }

  /**
   * The QoS 1 publishes the client may send again on its next connection, oldest first, as [packet id, order key]
   * (keys under `prefix`, the session's current order-key prefix, for those counted under it): those still waiting
   * for their PUBACK, and those whose PUBACK went out lately (the client may have left before it read it). A node
   * that takes the session over gives their re-sends these keys (decision 045).
   */
  resendable(prefix: string, now: number): [number, string][] {
    const out: [number, string][] = this.recent === null ? [] : this.recent.since(now - RECENT_ACK_MS, prefix);
    const queue = this.queue;
    for (let i = 0; i < queue.length; i++) {
      const packed = queue[i] as number;
      const order = this.orders[i] as number | string;
      if (((packed >>> 16) & 0xff) !== 0x40 || order === 0) continue;
      out.push([packed & 0xffff, keyOf(order, prefix)]);
    }
    return out;
  }

  /** Queues an acknowledgement (`packed`, or 0 for none) behind the journal batch; pauses reading at the bounds. */
  private add(packed: number, wrote: boolean, bytes: number, order: number | string): void {
    const queue = this.queue;
    queue.push(packed);
    this.orders.push(order);
    this.batches.push(wrote ? this.journal.wait(this) : 0);
    this.sizes.push(bytes);
    this.bytes += bytes;
    if ((queue.length >= MAX_PENDING_ACKS || this.bytes > MAX_PENDING_ACK_BYTES) && !this.reading.ackPaused) {
      // The store is slow or down: stop taking work from this client until its acks go out.
      this.reading.pauseForAcks();
    }
  }

  /** DurabilityWaiter: batch `batchId` is durable; what waited for it (and nothing else) goes out, in order. */
  onDurable(batchId: number): void {
    const queue = this.queue;
    const batches = this.batches;
    let n = 0;
    while (n < queue.length && (batches[n] as number) <= batchId) n++;
    if (n === 0) return;
    if (!this.writer.isClosed) {
      let now = 0;
      for (let i = 0; i < n; i++) {
        const packed = queue[i] as number;
        if (packed === 0) continue;
        const type = ((packed >>> 16) & 0xff) as AckType;
        if (type === 0x40) {
          this.pubacks--;
          const order = this.orders[i] as number | string;
          if (order !== 0) (this.recent ??= new RecentAcks()).add(packed & 0xffff, order, now === 0 ? (now = Date.now()) : now);
        }
        this.writer.writeAck(type, packed & 0xffff, Math.floor(packed / 0x1000000));
      }
    }
    queue.splice(0, n);
    batches.splice(0, n);
    this.orders.splice(0, n);
    for (const size of this.sizes.splice(0, n)) this.bytes -= size;
    if (this.reading.ackPaused && queue.length < MAX_PENDING_ACKS / 2 && this.bytes <= MAX_PENDING_ACK_BYTES / 2) {
      this.reading.releaseAcks();
    }
  }
}

/** A ring of the last RECENT_ACKS PUBACKs written: packet id, order (see DurableAcks.orders), when (ms). */
class RecentAcks {
  private readonly ids: number[] = [];
  private readonly orders: (number | string)[] = [];
  private readonly at: number[] = [];
  private next = 0;

  add(packetId: number, order: number | string, now: number): void {
    const i = this.next;
    this.ids[i] = packetId;
    this.orders[i] = order;
    this.at[i] = now;
    this.next = (i + 1) % RECENT_ACKS;
  }

  /** Those written at `from` or later, oldest first, as [packet id, order key under `prefix`]. */
  since(from: number, prefix: string): [number, string][] {
    const out: [number, string][] = [];
    const size = this.ids.length;
    for (let k = 0; k < size; k++) {
      const i = (this.next + k) % size;
      if ((this.at[i] as number) < from) continue;
      out.push([this.ids[i] as number, keyOf(this.orders[i] as number | string, prefix)]);
    }
    return out;
  }
}

/** The order key an entry's order stands for (see DurableAcks.orders): its own, or its `n` under `prefix`. */
function keyOf(order: number | string, prefix: string): string {
  return typeof order === "string" ? order : orderKeyAt(prefix, order);
}
