import type { QoS } from "mqtt-packet";
import type { Session } from "./session.js";
import type { Outbox } from "./session-outbox.js";
import type { SessionHost } from "./session-ports.js";
import { inPublishOrder } from "./stream-order.js";
import type { Message } from "./types.js";

/** Deliveries held while the session is being claimed; beyond this they are dropped (counted). */
const MAX_HELD = 10_000;

/** What a hold does with a delivery that reaches its session now. */
const enum HoldMode {
  /** Held until the release, in order. */
  Holding,
  /** Lifted for the length of one call (`Session.ahead`): delivered now, ahead of what is held (but see `takes`). */
  Lifted,
  /** Dropped for the length of one call (`Session.leftOut`): another copy is on its way. */
  LeftOut,
}

/**
 * Says, on a hold that follows the senders of a session just claimed (broker/sender-follow.ts, decision 047), which
 * deliveries go out at once (`passes`) and is told of those it holds (`held`).
 */
export interface HoldGate {
  /** Whether the delivery being made, of a message on `topic`, goes out now rather than being held. */
  passes(topic: string): boolean;
  held(): void;
  /** The hold before ended, leaving its stored deliveries to this one (`DeliveryHold.end`): release them if in step. */
  check(): void;
}

/**
 * `dedupId`: the node queue message a held delivery came from (its store dedup id once it is stored or released).
 * `stored`: written to the store while held (a settling session's QoS 1/2 delivery: Outbox.holdStored); the
 * outbox keeps it until the release.
 */
interface HeldDelivery {
  msg: Message;
  qos: QoS;
  retain: boolean;
  dedupId: string | null;
  subIds: readonly number[] | undefined;
  stored: boolean;
}

/**
 * One hold of a session's deliveries, from `Session.holdDeliveries` (a claim begins, or a move settles: broker/
 * move-settle.ts) to `Session.releaseDeliveries` or `Session.discardHeld`. The session keeps it only while it holds,
 * so an idle session has none. `ahead` and `leftOut` change what it does with deliveries for the length of a call
 * and restore that afterwards on this hold alone: a release during the call ends this hold for good, and a hold
 * begun after that release is a new one that the call's end does not touch.
 *
 * Once the claim was answered and the session is this node's (a move settles: `store`), a held QoS 1/2 delivery of
 * a persistent session is stored at once, as an ordinary enqueue that is not sent yet: the batch that held it (and
 * the node queue message it came from, which holds its sender's FIFO group) need not wait up to a second for the
 * old holders' replies (decision 048). Its release then waits for every such enqueue's answer (`ending`) and hands
 * them to the outbox in seq order (Outbox.releaseHeld), ahead of what was held in memory (QoS 0, or what came
 * while it ended).
 */
export class DeliveryHold {
  private held: HeldDelivery[] = [];
  private mode = HoldMode.Holding;
  /**
   * Settles once the held deliveries were delivered (their writes landed) or discarded: every journal batch that
   * held one waits for it, so no acknowledgement goes out for a message only this process's memory has.
   */
  private settle: (() => void) | null = null;
  /** Lets some deliveries through while holding (`follow`), or null: all are held. */
  private gate: HoldGate | null = null;
  private done: Promise<void> | null = null;
  private ended = false;
  /** The move settles: QoS 1/2 deliveries are stored as they are held (`store`). */
  private storing = false;
  /** How many held deliveries were stored. */
  private stored = 0;
  /** Released, waiting for the answers to the stored ones' enqueues (`release`); holds on meanwhile, in memory. */
  private ending = false;

  constructor(
    private readonly session: Session,
    private readonly host: SessionHost,
    /** The session's outbox (created on first use), which keeps the stored held deliveries until the release. */
    private readonly outbox: () => Outbox,
    /** The stored deliveries of the hold before, still ending when this one began: released with this one's. */
    inherited = 0,
  ) {
    this.stored = inherited;
  }

  /** How many held deliveries were stored (and are not yet released: a hold that ends while a newer one holds leaves them to it). */
  get storedCount(): number {
    return this.ended ? 0 : this.stored;
  }

  /** Whether the session's release ended this hold, or is waiting to (a new hold begins instead: Session.holdDeliveries). */
  get released(): boolean {
    return this.ending || this.ended;
  }

  /**
   * Whether a delivery at `qos` now is held (or left out). While `lift`ed, only one at QoS 1/2 of a persistent
   * session that stored held deliveries: it would be sent ahead of their lower seqs (the sent boundary, decision
   * 021), so it is stored behind them and put in its place in publish order at the release (`Outbox.releaseHeld`).
   */
  takes(qos: QoS): boolean {
    return this.mode !== HoldMode.Lifted || (qos !== 0 && this.stored > 0 && this.session.persistent);
  }

  /** Whether a held delivery at `qos` is stored now: the session's move settles and it is served here (see the class). */
  private storesNow(qos: QoS): boolean {
    const s = this.session;
    return this.storing && !this.ending && qos !== 0 && s.persistent && s.owner === null && s.claimant === null && s.link !== null;
  }

  /** From now on `gate` says which deliveries go out at once (null: none). */
  follow(gate: HoldGate | null): void {
    this.gate = gate;
  }

  /** Whether `gate` is the one on this hold (SenderGate asks before it releases or re-holds). */
  gatedBy(gate: HoldGate): boolean {
    return this.gate === gate;
  }

  /**
   * Holds a delivery (`takes` is true): in order behind the others, or dropped while left out or when too many are;
   * or, while holding, delivers it now when the gate lets it pass: as if lifted (`takes` may still store it behind
   * the stored ones, and then it comes back here lifted, not asking the gate again).
   */
  add(msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    if (this.mode === HoldMode.LeftOut) return;
    const gate = this.gate;
    if (gate !== null && this.mode === HoldMode.Holding) {
      if (gate.passes(msg.topic)) {
        this.lift(() => this.session.deliver(msg, qos, retain, subIds));
        return;
      }
      gate.held();
    }
    const journal = this.host.journal;
    if (this.held.length >= MAX_HELD) {
      this.host.onDrop(this.session, msg, "session-busy");
      return;
    }
    const h: HeldDelivery = { msg, qos, retain, dedupId: journal.dedupId, subIds, stored: false };
    if (this.storesNow(qos)) {
      if (this.storeOne(h)) this.held.push(h);
      return;
    }
    this.held.push(h);
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

  /**
   * The claim was answered and the session is this node's: the move settles (broker/move-settle.ts). What is held
   * at QoS 1/2 is stored now, and what is held from now on as it comes (see the class). When nothing is left
   * in memory, the batches that held deliveries wait only for these writes.
   */
  store(): void {
    if (this.released) return;
    // Again for a claim here that joined the wait (MoveSettler.claimed): what it held meanwhile is stored now.
    this.storing = true;
    const journal = this.host.journal;
    let inMemory = false;
    const landed = journal.landedAfter(() => {
      this.held = this.held.filter((h) => {
        if (h.stored) return true;
        if (!this.storesNow(h.qos)) return (inMemory = true);
        return journal.withDedupId(h.dedupId, () => this.storeOne(h));
      });
    });
    const settle = this.settle;
    if (inMemory || settle === null) return;
    // As in `release`: the batch being filled has these writes; waiting for them would be waiting for itself.
    if (this.done !== null) journal.untrack(this.done);
    this.done = null;
    this.settle = null;
    void landed.then(settle);
  }

  /** Stores the held delivery `h` (Outbox.holdStored); false when the client may not read it (dropped, as at release). */
  private storeOne(h: HeldDelivery): boolean {
    const session = this.session;
    if (!session.mayReceiveAny(h.msg.topic)) {
      this.host.onDeliveryDenied(session, h.msg);
      return false;
    }
    this.outbox().holdStored(h.msg, h.qos, h.retain, h.subIds);
    h.stored = true;
    this.stored++;
    return true;
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
   * The session released its deliveries. The hold ends once the stored ones' enqueues were answered (each has its
   * seq, or was refused and is never sent: Outbox.stored), holding on in memory until then.
   */
  release(): void {
    if (this.released) return;
    this.ending = true;
    // Usually answered long before: then at once, so what a forwarding copy passes on still precedes its `moved`
    // reply (MoveSettler.kicked releases, then replies, once its writes were answered).
    if (this.stored === 0 || !this.outbox().heldPending) this.end();
    else this.whenAnswered();
  }

  /** Ends once the stored deliveries' enqueues were answered (written before the last wait: a few rounds at most). */
  private whenAnswered(rounds = 3): void {
    void this.host.journal.followedUpAll().then(() => {
      if (this.ended) return;
      if (rounds > 1 && this.outbox().heldPending) this.whenAnswered(rounds - 1);
      else this.end();
    });
  }

  /**
   * The hold ends (the session no longer has it): what was held is delivered, in order: the stored ones first
   * (Outbox.releaseHeld: seq order, each stream in publish order), then the rest, each publisher's messages on one
   * topic in publish order (`inPublishOrder`, decision 044). The batches that held them become durable once these
   * deliveries' own writes (and forwards) landed (decision 020). Then the client's own packets go (Session.settled).
   */
  private end(): void {
    this.ended = true;
    const { session, host } = this;
    const journal = host.journal;
    const held = this.held;
    // A newer hold began while this one ended (Session.holdDeliveries): the stored ones are its to release.
    const current = session.endHold(this);
    // The batch being filled may have held some of them: their writes go into it now, so it need not wait for
    // them, and waiting would be waiting for itself (earlier batches that held some still wait; found by the
    // take-over test and by the simulation, CI faults seed 428).
    if (this.done !== null) journal.untrack(this.done);
    const landed = journal.landedAfter(() => {
      if (this.stored > 0 && current) this.releaseStored();
      for (const h of inPublishOrder(held)) {
        if (h.stored) continue;
        // Held while the client connected: authorized against the policy it connected with.
        if (!session.mayReceiveAny(h.msg.topic)) host.onDeliveryDenied(session, h.msg);
        else journal.withDedupId(h.dedupId, () => session.deliver(h.msg, h.qos, h.retain, h.subIds));
      }
    });
    if (this.settle !== null) void landed.then(this.settle);
    session.link?.settled();
    if (!current) session.earlierHoldEnded();
  }

  /** The hold before this one ended and left its stored deliveries to this one: the gate may release them now. */
  earlierEnded(): void {
    this.gate?.check();
  }

  /**
   * The stored ones are sent from here while the session is still served here under its claim (Outbox.releaseHeld);
   * else the store keeps them: for the claim that took the session (its snapshot), or for the offline session.
   */
  private releaseStored(): void {
    const s = this.session;
    if (s.link !== null && s.owner === null && s.claimant === null) this.outbox().releaseHeld();
    else this.outbox().dropHeld();
  }

  /** The hold ended with its session (a clean CONNECT replaced it): what was held ends with it. */
  discard(): void {
    this.ended = true;
    this.ending = true;
    if (this.stored > 0) this.outbox().dropHeld();
    this.settle?.();
  }
}
