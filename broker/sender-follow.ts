import type { Session } from "./session.js";
import type { HoldGate } from "./session-hold.js";

/** The sender of a node message and its place among that sender's messages: `<node>:<incarnation>` and seq. */
export interface SenderStamp {
  sender: string;
  seq: number;
}

/** The stamp of a node message's root (`<node>:<incarnation>:<seq>`, a QoS 2 root's `#<key>` left off), or null. */
export function senderStamp(root: string): SenderStamp | null {
  const hash = root.indexOf("#");
  const id = hash < 0 ? root : root.slice(0, hash);
  if (id.includes(">")) return null;
  const last = id.lastIndexOf(":");
  if (last <= 0) return null;
  const seq = Number(id.slice(last + 1));
  return Number.isSafeInteger(seq) && seq > 0 ? { sender: id.slice(0, last), seq } : null;
}

/**
 * Decision 047: a session claimed here from other nodes follows the senders of what reaches it until its limit.
 * A third node X may have sent a message m1 for the session to the old holder O alone (its route table did not show
 * the move yet, or the take-over kick overtook m1 at O) and its next one, m2, straight here as well: O passes m1 on,
 * and m2 must not go out before it. Node messages carry their first sender's id (`<X>:<incarnation>:<seq>`) through
 * every pass-on. When O passes on a message of X with a seq at least m2's, every message X sent O before m2 came
 * through O before it (X's messages to O arrive in order, and so do O's to this node), and m2 went to both, so X's
 * route table had this node then and keeps it: X is in step. So the first message of each sender that came
 * straight here is held until O passed that sender's messages on up to it (or the limit passed), and with it
 * whatever came after it from that sender; once in step, that sender's messages go straight out. What O passes on
 * goes out at once (it is older), and so does anything that is not a node message (this node's own publishes, REST).
 */
export class SenderFollower {
  /** The node message being handled: the node that sent it here, and its root's stamp; null outside one. */
  private origin: string | null = null;
  private stamp: SenderStamp | null = null;
  /** Per node a followed session was claimed from: per sender, the newest of its messages that node passed on here. */
  private readonly passedOn = new Map<string, Map<string, number>>();
  /** Per sender: the gates holding one of its messages until it is in step. */
  private readonly waiting = new Map<string, Set<SenderGate>>();
  private readonly gates = new Map<string, SenderGate>();

  /** `reaches(topic, nodes)`: whether one of `nodes` has a route matching `topic` in this node's route table. */
  constructor(readonly reaches: (topic: string, nodes: ReadonlySet<string>) => boolean) {}

  /**
   * Follows the senders of `session` (claimed under `epoch` from the nodes `from`) until `until`: its hold (begun by
   * the caller) holds what comes straight from other nodes. Until `following`, everything is held (the wait for the
   * replies: MoveSettler), and only the first message of each sender is noted.
   */
  follow(session: Session, epoch: number, from: readonly string[], until: number): SenderGate {
    this.end(session.clientId);
    const gate = new SenderGate(this, session, epoch, new Set(from), until);
    this.gates.set(session.clientId, gate);
    session.followSenders(gate);
    return gate;
  }

  /** The gate following `clientId`'s session, if any. */
  gate(clientId: string): SenderGate | undefined {
    return this.gates.get(clientId);
  }

  /** Follows `clientId`'s session no more; what it holds for its senders goes, unless it moved on. */
  end(clientId: string): void {
    const gate = this.gates.get(clientId);
    if (gate === undefined) return;
    this.gates.delete(clientId);
    gate.stop();
    if (this.gates.size === 0) this.passedOn.clear();
  }

  /** Follows no session any more (the node stops). */
  endAll(): void {
    for (const clientId of [...this.gates.keys()]) this.end(clientId);
  }

  /** Runs `fn`, the handling of a node message from `origin` with the root (dedup id) `root`. */
  handling(origin: string, root: string | undefined, fn: () => void): void {
    if (this.gates.size === 0) {
      fn();
      return;
    }
    // Read only while a session is followed: nothing more per forward otherwise.
    const stamp = root === undefined ? null : senderStamp(root);
    this.origin = origin;
    this.stamp = stamp;
    try {
      fn();
    } finally {
      this.origin = null;
      this.stamp = null;
    }
    // A message of another sender passed on by `origin`: what that sender sent `origin` before it came through.
    if (stamp !== null && !stamp.sender.startsWith(`${origin}:`)) this.passed(origin, stamp);
  }

  /** The sender of the message being handled, when it came straight from another node; null otherwise. */
  get current(): { origin: string; stamp: SenderStamp | null } | null {
    return this.origin === null ? null : { origin: this.origin, stamp: this.stamp };
  }

  /** The newest message of `sender` that one of `from` passed on here (0: none). */
  passedUpTo(from: ReadonlySet<string>, sender: string): number {
    let seq = 0;
    for (const node of from) seq = Math.max(seq, this.passedOn.get(node)?.get(sender) ?? 0);
    return seq;
  }

  /** `gate` holds a message of `sender`: told when that sender may be in step. */
  wait(sender: string, gate: SenderGate): void {
    let set = this.waiting.get(sender);
    if (set === undefined) this.waiting.set(sender, (set = new Set()));
    set.add(gate);
  }

  /** `gate` holds nothing of `sender` any more. */
  unwait(sender: string, gate: SenderGate): void {
    const set = this.waiting.get(sender);
    if (set === undefined) return;
    set.delete(gate);
    if (set.size === 0) this.waiting.delete(sender);
  }

  private passed(origin: string, stamp: SenderStamp): void {
    let bySender = this.passedOn.get(origin);
    if (bySender === undefined) this.passedOn.set(origin, (bySender = new Map()));
    if ((bySender.get(stamp.sender) ?? 0) >= stamp.seq) return;
    bySender.set(stamp.sender, stamp.seq);
    const set = this.waiting.get(stamp.sender);
    if (set === undefined) return;
    for (const gate of [...set]) if (gate.from.has(origin)) gate.check();
  }
}

/** One followed session's gate (see SenderFollower): on its hold, it says which deliveries go out at once. */
export class SenderGate implements HoldGate {
  /** Per sender, the first of its messages held here that came straight from it. */
  private readonly firstHeld = new Map<string, number>();
  /** Senders with messages held now. */
  private readonly holding = new Set<string>();
  /** False during the wait for the replies (everything is held), true after them, until the limit. */
  private following = false;
  private stopped = false;

  constructor(
    private readonly follower: SenderFollower,
    readonly session: Session,
    private readonly epoch: number,
    readonly from: ReadonlySet<string>,
    readonly until: number,
  ) {}

  /**
   * HoldGate: whether the delivery being made goes out now rather than being held. Also when no node the session
   * was claimed from has a route for its topic: the sender sent nothing of that topic there, so nothing of it can
   * come passed on (a filter the client subscribed to after its move, say).
   */
  passes(topic: string): boolean {
    if (!this.following || !this.current()) return false;
    const current = this.follower.current;
    if (current === null || this.from.has(current.origin) || current.stamp === null) return true;
    const sender = current.stamp.sender;
    if (this.holding.has(sender)) return false;
    return this.inStepWith(sender) || !this.follower.reaches(topic, this.from);
  }

  /** HoldGate: the delivery being made is held. */
  held(): void {
    const stamp = this.follower.current?.stamp;
    if (stamp === null || stamp === undefined || this.follower.current?.origin === undefined || this.from.has(this.follower.current.origin)) return;
    if (!this.firstHeld.has(stamp.sender)) this.firstHeld.set(stamp.sender, stamp.seq);
    if (!this.holding.has(stamp.sender)) {
      this.holding.add(stamp.sender);
      this.follower.wait(stamp.sender, this);
    }
  }

  /** The replies came: from now on the session's own packets are read, and senders in step pass. */
  startFollowing(): void {
    this.following = true;
    this.check();
  }

  /** Whether every sender with a message held is in step. */
  inStep(): boolean {
    for (const sender of this.holding) if (!this.inStepWith(sender)) return false;
    return true;
  }

  /**
   * HoldGate: releases what is held once every sender in it is in step, and goes on following until the limit with
   * a new hold that stores as the settle's did (decision 048). Also when the hold before the current one ended (it
   * was still waiting for its stored deliveries' answers when this one began): those are the current one's now.
   */
  check(): void {
    if (!this.following || this.stopped || !this.current() || !this.session.heldBy(this) || !this.inStep()) return;
    this.releaseHeld();
    if (Date.now() < this.until) {
      this.session.holdDeliveries();
      this.session.storeHeld();
      this.session.followSenders(this);
    }
  }

  /** The limit passed, or a newer claim or a move ended the following. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.current() && this.session.heldBy(this)) this.releaseHeld();
    else this.forget();
  }

  private releaseHeld(): void {
    this.forget();
    this.session.releaseDeliveries();
  }

  private forget(): void {
    for (const sender of this.holding) this.follower.unwait(sender, this);
    this.holding.clear();
  }

  private inStepWith(sender: string): boolean {
    const first = this.firstHeld.get(sender);
    return first !== undefined && this.follower.passedUpTo(this.from, sender) >= first;
  }

  /** Whether the session is still the claim's, served here. */
  private current(): boolean {
    const s = this.session;
    return s.epoch === this.epoch && s.claimant === null && s.owner === null;
  }
}
