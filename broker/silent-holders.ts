import type { NodeRecord } from "../core/store/types.js";

/**
 * Holders that stayed silent through a settle wait (decision 031): the old holder or custodian a claim here kicked
 * did not reply `moved` within the limit. Most are dead (a crash, a lost lease: their connections went with them).
 * One that is alive did not get the kick: the kick travels in this node's FIFO group at that node, behind this
 * node's forwards, and that group can be held back for the visibility timeout by a batch another node received and
 * cannot delete (it drained that node's queue while the node was judged dead, and was cut off in the middle,
 * decision 036, partitions seed 177). Meanwhile the holder serves the client's old connection beside this node's.
 *
 * So a silent holder whose lease is renewed after the kick (its node record's heartbeat, read each heartbeat by
 * ClusterMaintenance.maintain) is kicked again, once, in the client's group there (`unordered`): nothing waits for that
 * kick's order any more. A holder whose record is no longer listed (dead, or its lease lost, which closed its
 * connections) is forgotten, and so is one that replies late. Each entry therefore lives at most one node TTL.
 */
export class SilentHolders {
  /** By client id: the newest claim's epoch and Clean Start, and each silent node with when it was kicked. */
  private readonly silent = new Map<string, { epoch: number; sessionEnded: boolean; nodes: Map<string, number> }>();

  constructor(private readonly kickAgain: (node: string, clientId: string, epoch: number, sessionEnded: boolean) => void) {}

  /** The wait of the claim of `clientId` under `epoch` (its kicks sent at `kickedAt`) ended with `nodes` silent. */
  add(clientId: string, epoch: number, kickedAt: number, nodes: Iterable<string>, sessionEnded: boolean): void {
    let s = this.silent.get(clientId);
    if (s === undefined) this.silent.set(clientId, (s = { epoch, sessionEnded, nodes: new Map() }));
    else if (epoch > s.epoch) Object.assign(s, { epoch, sessionEnded });
    // A kick under the newest epoch closes the connections of every older claim alike.
    for (const node of nodes) s.nodes.set(node, Math.min(kickedAt, s.nodes.get(node) ?? kickedAt));
  }

  /** `node` replied to a kick for `clientId` after the wait ended: it got it. */
  replied(clientId: string, node: string, epoch: number): void {
    const s = this.silent.get(clientId);
    if (s === undefined || s.epoch !== epoch) return;
    s.nodes.delete(node);
    if (s.nodes.size === 0) this.silent.delete(clientId);
  }

  /** The live nodes as the store lists them: kicks the silent holders alive since their kick, forgets the gone. */
  seen(live: readonly NodeRecord[]): void {
    if (this.silent.size === 0) return;
    const beats = new Map(live.map((n) => [n.nodeId, n.heartbeatAt]));
    for (const [clientId, s] of this.silent) {
      for (const [node, kickedAt] of s.nodes) {
        const beat = beats.get(node);
        if (beat !== undefined && beat <= kickedAt) continue;
        s.nodes.delete(node);
        if (beat !== undefined) this.kickAgain(node, clientId, s.epoch, s.sessionEnded);
      }
      if (s.nodes.size === 0) this.silent.delete(clientId);
    }
  }

  get size(): number {
    return this.silent.size;
  }
}
