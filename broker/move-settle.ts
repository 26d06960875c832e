import type { Session } from "./session.js";

/**
 * Order across a move (decision 031). A session claimed here from other nodes (its old holder, its custodian)
 * keeps the deliveries it held during the claim, and holds new ones, until each of those nodes replied to the
 * take-over kick (`moved`) or `limitMs` passed. A node sends that reply in its own FIFO group once what reached it
 * for the session before the kick was passed on, and the kick travels in this node's group behind the forwards
 * this node sent there before the claim. So what such a node passes on arrives here before its reply; it is
 * delivered ahead of what is held (`ahead`), being older than anything that came here by another path meanwhile.
 */

interface Settling {
  session: Session;
  /** The claim's fencing epoch: a later claim (here or elsewhere) ends this wait without releasing for it. */
  epoch: number;
  /** The nodes whose reply is still awaited. */
  nodes: Set<string>;
  timer: NodeJS.Timeout;
}

/** Default wait for the old holders' replies (ms): a kick's and a reply's travel through the node queues. */
export const MOVE_SETTLE_MS = 1000;

export class MoveSettler {
  private readonly settling = new Map<string, Settling>();

  constructor(private readonly limitMs: number) {}

  /** `session` (attached here under `epoch`, holding since its claim began) holds its deliveries until `nodes` replied. */
  start(session: Session, epoch: number, nodes: readonly string[]): void {
    this.end(session.clientId);
    session.holdDeliveries();
    const timer = setTimeout(() => this.release(session.clientId, epoch), this.limitMs);
    timer.unref();
    this.settling.set(session.clientId, { session, epoch, nodes: new Set(nodes), timer });
  }

  /** `node` replied for the claim under `epoch` (or cannot: its queue is gone). */
  replied(clientId: string, node: string, epoch: number): void {
    const s = this.settling.get(clientId);
    if (s === undefined || s.epoch !== epoch || !s.nodes.delete(node)) return;
    if (s.nodes.size === 0) this.release(clientId, epoch);
  }

  /**
   * Runs `fn` (the handling of a delivery from `origin`) with the hold lifted for the sessions that await
   * `origin`'s reply: what it passes on is delivered now, ahead of what is held for them.
   */
  ahead(origin: string, fn: () => void): void {
    if (this.settling.size === 0) {
      fn();
      return;
    }
    const sessions: Session[] = [];
    for (const s of this.settling.values()) if (s.nodes.has(origin)) sessions.push(s.session);
    liftEach(sessions, 0, fn);
  }

  /** Whether `clientId` still waits for replies (tests and the stall report). */
  isSettling(clientId: string): boolean {
    return this.settling.has(clientId);
  }

  /** Releases every session still waiting (the node stops). */
  releaseAll(): void {
    for (const [clientId, s] of this.settling) this.release(clientId, s.epoch);
  }

  private release(clientId: string, epoch: number): void {
    const s = this.settling.get(clientId);
    if (s === undefined || s.epoch !== epoch) return;
    this.end(clientId);
    // A newer claim of this session here holds and releases its deliveries itself.
    if (s.session.epoch === epoch && s.session.claimant === null) s.session.releaseDeliveries();
  }

  private end(clientId: string): void {
    const s = this.settling.get(clientId);
    if (s === undefined) return;
    clearTimeout(s.timer);
    this.settling.delete(clientId);
  }
}

function liftEach(sessions: readonly Session[], i: number, fn: () => void): void {
  const session = sessions[i];
  if (session === undefined) fn();
  else session.ahead(() => liftEach(sessions, i + 1, fn));
}
