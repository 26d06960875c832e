import type { MovePort } from "./move-settle.js";
import type { Session } from "./session.js";
import { SenderFollower, type SenderGate } from "./sender-follow.js";
import { SilentHolders } from "./silent-holders.js";

/**
 * The waits of the sessions claimed here from other nodes (decision 031), one per session (`Settling`), and how each
 * ends: its limit passed (`timedOut`) or every holder replied (`release`); a wait that ends with a holder still
 * silent gets the holders before it kicked and the silent ones remembered (`silentAtEnd`). The claims, kicks and
 * replies that begin and shorten a wait, and what the message path asks of it, are `MoveSettler`'s
 * (broker/move-settle.ts).
 *
 * The base of `MoveSettler`, not a part it holds: one object as before.
 */
export abstract class SettleWaits {
  protected readonly settling = new Map<string, Settling>();
  /** The senders of sessions claimed here, followed until their limit (decision 047). */
  protected readonly follower: SenderFollower;
  /** Holders that stayed silent through their wait: kicked again once seen alive (decision 036, seed 177). */
  protected readonly silent: SilentHolders;

  constructor(protected readonly port: MovePort) {
    this.follower = new SenderFollower((topic, nodes) => port.reaches(topic, nodes));
    this.silent = new SilentHolders((node, clientId, epoch, sessionEnded) => port.kickAgain(node, clientId, epoch, sessionEnded));
  }

  /** Releases every session still waiting (the node stops). */
  releaseAll(): void {
    for (const [clientId, s] of this.settling) this.release(clientId, s.epoch);
    this.follower.endAll();
  }

  /**
   * The limit passed: release; a holder stayed silent: kick the earlier holders, remember it (see
   * `MoveSettler.claimed`).
   */
  protected timedOut(clientId: string, epoch: number): void {
    const s = this.settling.get(clientId);
    if (s === undefined || s.epoch !== epoch) return;
    this.release(clientId, epoch);
    if (s.nodes.size > 0) this.silentAtEnd(s, clientId);
  }

  protected silentAtEnd(s: Settling, clientId: string): void {
    this.kickEarlier(s, clientId);
    this.silent.add(clientId, s.epoch, s.since, s.nodes, s.sessionEnded);
  }

  protected kickEarlier(s: Settling, clientId: string): void {
    const earlier = s.earlier;
    s.earlier = [];
    for (const node of earlier) this.port.kick(node, clientId, s.epoch, s.sessionEnded);
  }

  /**
   * The wait for `clientId`'s claim under `epoch` ends. When every holder replied (`replied`) within the limit, the
   * session's senders are followed until the limit (decision 047): the client's own packets are read now, and what
   * came straight from other nodes waits until the old holders passed on those nodes' messages up to it.
   */
  protected release(clientId: string, epoch: number, replied = false): void {
    const s = this.settling.get(clientId);
    if (s === undefined || s.epoch !== epoch) return;
    this.end(clientId);
    // A newer claim of this session here holds and releases its deliveries itself.
    // Not a session that moved on to another node meanwhile (kicked: `kicked` releases its forwarding copy's hold).
    const session = s.session;
    if (session.epoch !== s.claimEpoch || session.claimant !== null || session.owner !== null) {
      this.follower.end(clientId);
      return;
    }
    const gate = s.gate;
    if (replied && gate !== null && Date.now() < gate.until) {
      session.settleClient();
      gate.startFollowing();
      setTimeout(() => {
        if (this.follower.gate(clientId) === gate) this.follower.end(clientId);
      }, gate.until - Date.now()).unref();
      return;
    }
    session.releaseDeliveries();
    this.follower.end(clientId);
  }

  protected end(clientId: string): void {
    const s = this.settling.get(clientId);
    if (s === undefined) return;
    clearTimeout(s.timer);
    this.settling.delete(clientId);
  }
}

/** The wait of one session claimed here (`SettleWaits.settling`). */
interface Settling {
  session: Session;
  /** The epoch of the claim whose kicks are answered: the replies name it. */
  epoch: number;
  /** The epoch of the claim here that holds (`epoch`, or a later claim here that joined the wait): released for it only. */
  claimEpoch: number;
  /** The nodes whose reply is still awaited. */
  nodes: Set<string>;
  /**
   * Follows the senders of what reaches the session (broker/sender-follow.ts, decision 047), until the limit; null
   * after a Clean Start (the old holders drop the old session: they pass nothing on).
   */
  gate: SenderGate | null;
  /** Nodes the previous holder may have died before kicking (ClaimResult.earlierHolders, decision 040); emptied once kicked. */
  earlier: readonly string[];
  /** The claim was a Clean Start (passed on with the kicks of `earlier`). */
  sessionEnded: boolean;
  /** When the wait began (the holders were kicked right before). */
  since: number;
  timer: NodeJS.Timeout;
}
