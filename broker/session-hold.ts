import type { QoS } from "mqtt-packet";
import type { Session } from "./session.js";
import type { SessionHost } from "./session-ports.js";
import { inPublishOrder } from "./stream-order.js";
import type { Message } from "./types.js";

/** Deliveries held while the session is being claimed; beyond this they are dropped (counted). */
const MAX_HELD = 10_000;

/** What a hold does with a delivery that reaches its session now. */
const enum HoldMode {
  /** Held until the release, in order. */
  Holding,
  /** Lifted for the length of one call (`Session.ahead`): delivered now, ahead of what is held. */
  Lifted,
  /** Dropped for the length of one call (`Session.leftOut`): another copy is on its way. */
  LeftOut,
}

/** `dedupId`: the node queue message a held delivery came from (its store dedup id once it is released). */
interface HeldDelivery {
  msg: Message;
  qos: QoS;
  retain: boolean;
  dedupId: string | null;
  subIds: readonly number[] | undefined;
}

/**
 * One hold of a session's deliveries, from `Session.holdDeliveries` (a claim begins, or a move settles: broker/
 * move-settle.ts) to `Session.releaseDeliveries` or `Session.discardHeld`. The session keeps it only while it holds,
 * so an idle session has none. `ahead` and `leftOut` change what it does with deliveries for the length of a call
 * and restore that afterwards on this hold alone: a release during the call ends this hold for good, and a hold
 * begun after that release is a new one that the call's end does not touch.
 */
export class DeliveryHold {
  private readonly held: HeldDelivery[] = [];
  private mode = HoldMode.Holding;
  /**
   * Settles once the held deliveries were delivered (their writes landed) or discarded: every journal batch that
   * held one waits for it, so no acknowledgement goes out for a message only this process's memory has.
   */
  private settle: (() => void) | null = null;
  private done: Promise<void> | null = null;
  private ended = false;

  constructor(
    private readonly session: Session,
    private readonly host: SessionHost,
  ) {}

  /** Whether a delivery now is held (or left out); false while `lift`ed. */
  get holds(): boolean {
    return this.mode !== HoldMode.Lifted;
  }

  /** Holds a delivery (`holds` is true): in order behind the others, or dropped while left out or when too many are. */
  add(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    if (this.mode === HoldMode.LeftOut) return;
    const journal = this.host.journal;
    if (this.held.length >= MAX_HELD) {
      this.host.onDrop(this.session, msg, "session-busy");
      return;
    }
    this.held.push({ msg, qos, retain, dedupId: journal.dedupId, subIds });
    if (this.done === null) {
      this.done = new Promise<void>((resolve) => (this.settle = resolve));
      journal.label(
        this.done,
        () =>
          `deliveries held for ${this.session.clientId} while its session is claimed (claim ${this.session.claimant !== null ? "in progress" : "ended"}, ${this.ended ? "released, their own writes not landed yet" : "not released yet"})`,
      );
    }
    journal.trackOnce(this.done);
  }

  /** Runs `fn` with this hold lifted (`Session.ahead`), then holds as before. */
  lift(fn: () => void): void {
    this.within(HoldMode.Lifted, fn);
  }

  /** Runs `fn` with what reaches the session dropped (`Session.leftOut`), then holds as before. */
  leaveOut(fn: () => void): void {
    this.within(HoldMode.LeftOut, fn);
  }

  private within(mode: HoldMode, fn: () => void): void {
    const outer = this.mode;
    this.mode = mode;
    try {
      fn();
    } finally {
      // This hold's mode only: if it ended during `fn`, it stays ended (the session no longer has it).
      this.mode = outer;
    }
  }

  /** Whether `msg` is the newest delivery held, while holding (`Session.holdsToPassOn`). */
  holdsLast(msg: object): boolean {
    if (this.mode !== HoldMode.Holding) return false;
    const last = this.held.at(-1);
    return last !== undefined && last.msg === msg && last.qos !== 0;
  }

  /**
   * The hold ended (the session no longer has it): what was held is delivered, in order, each publisher's messages
   * on one topic in publish order (`inPublishOrder`, decision 044). The batches that held them
   * become durable once these deliveries' own writes (and forwards) landed (decision 020).
   */
  release(): void {
    this.ended = true;
    const { session, host } = this;
    const journal = host.journal;
    const held = this.held;
    // The batch being filled may have held some of them: their writes go into it now, so it need not wait for
    // them, and waiting would be waiting for itself (earlier batches that held some still wait; found by the
    // take-over test and by the simulation, CI faults seed 428).
    if (this.done !== null) journal.untrack(this.done);
    const landed = journal.landedAfter(() => {
      for (const h of inPublishOrder(held)) {
        // Held while the client connected: authorized against the policy it connected with.
        if (!session.mayReceiveAny(h.msg.topic)) host.onDeliveryDenied(session, h.msg);
        else journal.withDedupId(h.dedupId, () => session.deliver(h.msg, h.qos, h.retain, h.subIds));
      }
    });
    if (this.settle !== null) void landed.then(this.settle);
  }

  /** The hold ended with its session (a clean CONNECT replaced it): what was held ends with it. */
  discard(): void {
    this.ended = true;
    this.settle?.();
  }
}
