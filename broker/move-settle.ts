import type { Journal } from "./journal.js";
import type { Session } from "./session.js";
import { SettleWaits } from "./move-settle-waits.js";
import { claimHolders, type ClaimResult, type NodeRecord } from "../core/store/types.js";
import { MAX_UNACKED } from "../core/communicator/types.js";

/**
 * Order across a move (decision 031). A session claimed here from other nodes (its old holder, its custodian)
 * keeps the deliveries it held during the claim, and holds new ones, until each of those nodes replied to the
 * take-over kick (`moved`) or `limitMs` passed. A node sends that reply in its own FIFO group once what reached it
 * for the session before the kick was passed on, and the kick travels in this node's group behind the forwards
 * this node sent there before the claim. So what such a node passes on arrives here before its reply; it is
 * delivered ahead of what is held (`ahead`), being older than anything that came here by another path meanwhile.
 */

/** Where a claim took a session from, as the store answered it (ClaimResult). */
export interface ClaimedFrom {
  /** The node that held the client's connection. */
  previousNode: string | null;
  /** The node that kept the session offline (decision 017). */
  custodian: string | null;
  /** The nodes the claim before took it from (ClaimResult.earlierHolders). */
  earlier?: readonly string[] | undefined;
  /** A Clean Start: the old session ended. */
  sessionEnded?: boolean | undefined;
}

/** Default wait for the old holders' replies (ms): a kick's and a reply's travel through the node queues. */
export const MOVE_SETTLE_MS = 1000;

/** The most sessions a match forward names as held by its sender (the node message schema's bound). */
const MAX_HOLDING = 1000;

/** What the settler needs of its node (broker/cluster.ts). */
export interface MovePort {
  readonly nodeId: string;
  readonly journal: Journal;
  session(clientId: string): Session | undefined;
  /**
   * Sends `moved` to `node`, behind this node's forwards to it, with the client's QoS 1 publishes it may re-send
   * there (Connection.resendablePublishes, decision 045).
   */
  reply(node: string, clientId: string, epoch: number, unacked: [number, string][]): void;
  /** Sends a take-over kick for the claim under `epoch` to `node` (Cluster.takeover). */
  kick(node: string, clientId: string, epoch: number, sessionEnded: boolean): void;
  /** Whether one of `nodes` has a route matching `topic` in this node's route table (decision 047). */
  reaches(topic: string, nodes: ReadonlySet<string>): boolean;
  /** Sends that kick again, in the client's FIFO group at `node` instead of this node's (broker/silent-holders.ts). */
  kickAgain(node: string, clientId: string, epoch: number, sessionEnded: boolean): void;
}

/**
 * The other nodes a claim took the session from: its connection's node and the node that kept it offline, each
 * once, never `self`. They are kicked (broker.ts) and their replies awaited (`MoveSettler.claimed`).
 */
export function previousHolders(self: string, previousNode: string | null, custodian: string | null): string[] {
  return claimHolders(previousNode, custodian).filter((n) => n !== self);
}

/** The earlier holders (`from.earlier`) a claim here may still have to kick: not `self`, not one it kicked anyway. */
export function earlierHolders(self: string, from: ClaimedFrom): string[] {
  const previous = previousHolders(self, from.previousNode, from.custodian);
  return (from.earlier ?? []).filter((n) => n !== self && !previous.includes(n));
}

/** A store's answer to a claim, as the settler reads it; `sessionEnded`: the claim was a Clean Start. */
export function claimedFrom(claim: ClaimResult, sessionEnded: boolean): ClaimedFrom {
  return { previousNode: claim.previousNode, custodian: claim.previousCustodian ?? null, earlier: claim.earlierHolders, sessionEnded };
}

/**
 * Order across a move, as above. The waits, one per session, and how they end are its base class,
 * broker/move-settle-waits.ts.
 */
export class MoveSettler extends SettleWaits {
  /**
   * Forwarding copies holding since a take-over kick here (`kicked`), until they pass on what they hold: a publish of
   * this node they hold is named on its match forwards (`holding`) like a settling session's, so the kicking node
   * leaves its own copy out and takes this one, behind the older ones this node passes on first (CI seed 716).
   * The first follow-up releases the copy's hold, whichever kick it follows, so the copy is named no longer after it.
   */
  private readonly passing = new Set<Session>();

  constructor(
    private readonly limitMs: number,
    port: MovePort,
  ) {
    super(port);
  }

  /**
   * `session` was claimed here under `epoch`, from `from.previousNode` (its connection's node) and `from.custodian`
   * (the node that kept it offline), and the caller kicked each (right after the claim, behind this node's forwards
   * to it, whatever became of the connection): the session's deliveries stay held until they replied. False when
   * it came from no other node (nothing to wait for: the caller releases what the claim held).
   *
   * A holder that does not reply within the limit may have died between its own claim and its kicks: the nodes it
   * took the session from (`from.earlier`) were then never told and may still serve the client. They are kicked
   * from here when the wait ends without that reply (decision 040); a kick they already had is harmless (a take-over
   * kick only closes a connection of an older claim). And a silent holder that is alive never got its kick: it is
   * kicked again once its lease is seen renewed (`seen`, broker/silent-holders.ts).
   */
  claimed(session: Session, epoch: number, from: ClaimedFrom): boolean {
    const nodes = previousHolders(this.port.nodeId, from.previousNode, from.custodian);
    if (nodes.length === 0) {
      // Claimed from this node itself while the move of an earlier claim here still settles (the client came back
      // at once): the new claim waits for the same replies, its deliveries held (decision 044). Not a Clean Start:
      // the old node passes on what it had for the old session, which ended.
      const prev = this.settling.get(session.clientId);
      if (prev === undefined || prev.nodes.size === 0 || from.sessionEnded === true) return false;
      prev.session = session;
      prev.claimEpoch = epoch;
      session.holdDeliveries();
      session.storeHeld();
      if (prev.gate !== null) prev.gate = this.follower.follow(session, epoch, [...prev.gate.from], prev.gate.until);
      return true;
    }
    this.start(session, epoch, nodes, earlierHolders(this.port.nodeId, from), from.sessionEnded === true);
    return true;
  }

  /**
   * `node` claimed `clientId`'s session under `epoch` and kicked this node: reply once what reached this node for
   * the session before the kick was passed on. Deliveries made before it may still wait for their store answers
   * (refused as fenced, or `owned`, then forwarded to `node`), so what reaches the session's forwarding copy
   * meanwhile is held behind them (a few store round trips), then forwarded, and the reply follows. It lists the
   * QoS 1 publishes the client may re-send to `node` (`unacked`: PUBACKs held or written lately when the kick closed
   * its connection).
   */
  kicked(node: string, clientId: string, epoch: number, unacked: [number, string][] = []): void {
    const session = this.port.session(clientId);
    const holding = session !== undefined && session.owner === node && session.claimant === null;
    if (holding) {
      session.holdDeliveries();
      this.passing.add(session);
    }
    void this.port.journal.followedUpAll().then(() => {
      if (holding) this.passing.delete(session);
      // A claim here since then releases what it holds itself. The forwarding copy forwards what it held to `node`
      // straight away (no store write), in this tick's batch of forwards, and the reply is sent with that batch, last
      // (Forwarder.flush appends a node's control messages to its deliveries): so it follows them.
      if (holding && session.claimant === null) session.releaseDeliveries();
      this.port.reply(node, clientId, epoch, unacked);
    });
  }

  /** `session` (attached here under `epoch`, holding since its claim began) holds its deliveries until `nodes` replied. */
  start(session: Session, epoch: number, nodes: readonly string[], earlier: readonly string[] = [], sessionEnded = false): void {
    // A newer claim here cuts short a wait that still had a silent holder: as at its limit, its earlier holders are
    // kicked and the silent ones remembered (under that claim's epoch, which is newer than any connection they may
    // still hold).
    const prev = this.settling.get(session.clientId);
    if (prev !== undefined && prev.nodes.size > 0) this.silentAtEnd(prev, session.clientId);
    this.end(session.clientId);
    session.holdDeliveries();
    // The session is this node's now: what it holds at QoS 1/2 is stored, so no node queue message waits for the
    // replies (broker/session-hold.ts).
    session.storeHeld();
    const since = Date.now();
    const gate = sessionEnded ? null : this.follower.follow(session, epoch, nodes, since + this.limitMs);
    const timer = setTimeout(() => this.timedOut(session.clientId, epoch), this.limitMs);
    timer.unref();
    this.settling.set(session.clientId, { session, epoch, claimEpoch: epoch, nodes: new Set(nodes), gate, earlier, sessionEnded, since, timer });
  }

  /**
   * `node` replied for the claim under `epoch` (or cannot: its queue is gone), listing the client's QoS 1 publishes
   * it may re-send (`unacked`): the client's re-sends of them keep their order keys (decision 045; the
   * client's packets are read once the wait ends, decision 044). Not after a Clean Start: nothing is re-sent.
   */
  replied(clientId: string, node: string, epoch: number, unacked?: readonly (readonly [number, string])[]): void {
    const s = this.settling.get(clientId);
    if (s === undefined || s.epoch !== epoch) {
      this.silent.replied(clientId, node, epoch); // after the wait ended
      return;
    }
    if (!s.nodes.delete(node)) return;
    if (unacked !== undefined && unacked.length > 0 && !s.sessionEnded) s.session.expectResends(unacked, MAX_UNACKED);
    if (s.nodes.size === 0) this.release(clientId, epoch, true);
  }

  /** The live nodes, read each heartbeat: a silent holder alive since its kick is kicked again (see `claimed`). */
  seen(live: readonly NodeRecord[]): void {
    this.silent.seen(live);
  }

  /**
   * Runs `fn` (the handling of a delivery from `origin`) with the hold lifted for the sessions that await
   * `origin`'s reply: what it passes on is delivered now, ahead of what is held for them. Except for the sessions
   * `origin` still held the message for itself (`holding`, a match forward of one of its publishes): it passes its
   * own copy on behind the older ones it holds, and this copy, delivered now, would overtake them (decision 038,
   * seed 96). Holding it here instead would hold `origin`'s forwards behind it, its reply among them, so it is
   * left out for them.
   */
  ahead(origin: string, fn: () => void, holding?: readonly string[], root?: string): void {
    if (this.settling.size === 0) {
      this.follower.handling(origin, root, fn);
      return;
    }
    const sessions: Session[] = [];
    const left: Session[] = [];
    for (const [clientId, s] of this.settling) {
      if (!s.nodes.has(origin)) continue;
      // Not after a Clean Start: the old holder ends the old session and drops what it held for it, so this copy,
      // matched by the new session's own subscriptions, is the only one.
      if (!s.sessionEnded && holding?.includes(clientId) === true) left.push(s.session);
      else sessions.push(s.session);
    }
    this.follower.handling(origin, root, () => within(sessions, 0, "ahead", left.length === 0 ? fn : () => within(left, 0, "leftOut", fn)));
  }

  /**
   * The sessions settling here that hold `msg`, routed here just now (their newest held delivery), at most
   * MAX_HOLDING of them; undefined when none. Named on the match forwards of `msg` (`ahead`).
   */
  holding(msg: object): string[] | undefined {
    if (this.settling.size === 0 && this.passing.size === 0) return undefined;
    let found: string[] | undefined;
    for (const [clientId, s] of this.settling) {
      if (!s.session.holdsToPassOn(msg)) continue;
      (found ??= []).push(clientId);
      if (found.length === MAX_HOLDING) return found;
    }
    for (const session of this.passing) {
      if (!session.holdsToPassOn(msg)) continue;
      (found ??= []).push(session.clientId);
      if (found.length === MAX_HOLDING) break;
    }
    return found;
  }

  /** Whether `clientId` still waits for replies (tests and the stall report). */
  isSettling(clientId: string): boolean {
    return this.settling.has(clientId);
  }

  /**
   * `node`'s queue is gone (it died and was cleaned up): no reply is coming, and it may have died before kicking the
   * holders before it, who are kicked now (see `claimed`).
   */
  unreachable(clientId: string, node: string, epoch: number): void {
    const s = this.settling.get(clientId);
    if (s === undefined || s.epoch !== epoch || !s.nodes.has(node)) return;
    this.kickEarlier(s, clientId);
    this.replied(clientId, node, epoch);
  }
}

/** Runs `fn` inside `Session.ahead` (hold lifted) or `Session.leftOut` of every session from `i` on, nested. */
function within(sessions: readonly Session[], i: number, how: "ahead" | "leftOut", fn: () => void): void {
  const session = sessions[i];
  if (session === undefined) fn();
  else session[how](() => within(sessions, i + 1, how, fn));
}
