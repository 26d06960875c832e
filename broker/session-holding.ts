import type { DeliveryHold, HoldGate } from "./session-hold.js";
import type { SessionLink } from "./session-ports.js";
import { SessionSubscriptions } from "./session-subscriptions.js";

/**
 * What a session does with the hold of its deliveries (broker/session-hold.ts) while it is claimed or its move
 * settles (broker/move-settle.ts, decisions 031, 044, 047, 048): begun, stored, released, ended, followed, lifted or
 * left out for one call, discarded. `Session.deliver` hands it what it takes; only these methods set it.
 *
 * The base of `Session` (broker/session.ts), not a part it holds, like its claim state: a separate object would cost
 * one more allocation and hop per session, and the hold itself is made only while the session holds.
 */
export abstract class SessionHolding extends SessionSubscriptions {
  /** The hold of deliveries while the session is claimed or a move settles (`holdDeliveries`), or null. */
  protected hold: DeliveryHold | null = null;

  /** The connection attached to this session, or null (Session.link). */
  abstract get link(): SessionLink | null;

  /** A new hold of this session's deliveries, with the `inherited` stored deliveries of the hold before (Session). */
  protected abstract newHold(inherited: number): DeliveryHold;

  /**
   * From now on deliveries wait until `releaseDeliveries()`: the session is being claimed, or a move settles. A
   * hold still ending (waiting for its stored deliveries' answers: broker/session-hold.ts) ends as it would, and a
   * new one holds what comes from now on.
   */
  holdDeliveries(): void {
    const prev = this.hold;
    if (prev === null || prev.released) this.hold = this.newHold(prev === null ? 0 : prev.storedCount);
    // A hold that let some deliveries through (decision 047) holds them all from now on.
    else prev.follow(null);
  }

  /** The move settles (broker/move-settle.ts): QoS 1/2 deliveries held are stored from now on (DeliveryHold.store). */
  storeHeld(): void {
    this.hold?.store();
  }

  /**
   * Ends holding and delivers what was held, in order (DeliveryHold.release, once its stored deliveries were
   * answered); then what the client itself sent meanwhile is handled (a move settled: decision 044), behind them.
   */
  releaseDeliveries(): void {
    const hold = this.hold;
    if (hold === null) this.link?.settled();
    else hold.release();
  }

  /** `hold` ends now (DeliveryHold): deliveries are no longer held, unless a newer hold began (false). */
  endHold(hold: DeliveryHold): boolean {
    if (this.hold !== hold) return false;
    this.hold = null;
    return true;
  }

  /** A hold ended while a newer one held (`endHold` was false): its stored deliveries are the newer one's to release. */
  earlierHoldEnded(): void {
    this.hold?.earlierEnded();
  }

  /** The session's move settled for the client's own packets (decision 044), while its deliveries may stay held. */
  settleClient(): void {
    this.link?.settled();
  }

  /** The hold begun last (`holdDeliveries`) lets `gate` say which deliveries go out at once (decision 047). */
  followSenders(gate: HoldGate): void {
    this.hold?.follow(gate);
  }

  /** Whether the session holds its deliveries with `gate` on the hold. */
  heldBy(gate: HoldGate): boolean {
    return this.hold !== null && this.hold.gatedBy(gate);
  }

  /**
   * Runs `fn` with the hold lifted: what it delivers goes out now, ahead of what is held. For what the old holder
   * of a moved session passes on, which is older than anything held for it (broker/move-settle.ts, decision 031).
   * Except QoS 1/2 once held deliveries were stored: stored behind them, first in publish order at the release
   * (DeliveryHold.takes). A release during `fn` ends the hold for good; a hold begun after it stays.
   */
  ahead(fn: () => void): void {
    const hold = this.hold;
    if (hold === null) fn();
    else hold.lift(fn);
  }

  /**
   * Whether `msg` is the newest delivery held (just routed here: broker/move-settle.ts `holding`) and one this
   * session passes on to a newer claim when released (QoS 1/2 of a persistent session: its write is fenced and the
   * store names the owner, or the take-over kick makes this a forwarding copy).
   */
  holdsToPassOn(msg: object): boolean {
    return this.hold !== null && this.hold.holdsLast(msg) && this.persistent;
  }

  /**
   * Runs `fn` with this session, while it holds, left out: what `fn` delivers to it is dropped. For a copy of a
   * message that the node this session was claimed from holds too and passes on, behind older ones it holds
   * (broker/move-settle.ts `ahead`, decision 038, seed 96). A release or a new hold during `fn` stays, as for `ahead`.
   */
  leftOut(fn: () => void): void {
    const hold = this.hold;
    if (hold === null) fn();
    else hold.leaveOut(fn);
  }

  /** The session is discarded while held (a clean CONNECT replaced it): what was held ends with it. */
  discardHeld(): void {
    const hold = this.hold;
    this.hold = null;
    hold?.discard();
  }
}
