/**
 * The ids of the node messages this node sends (broker/cluster.ts): plain ones, `<node>:<incarnation>:<seq>`, and
 * ones derived from a dedup id for the forwards a handled node message or a store answer causes (decision 036).
 */
export class NodeMessageIds {
  /**
   * Prefix of the ids of this node's messages: node id and incarnation, so a restarted node never repeats an id
   * the receivers' and the store's dedup windows still remember.
   */
  private prefix: string;
  private seq = 0;
  /**
   * The id of the node message being handled: forwards it causes get ids derived from it (not from the root, which
   * a drained or passed-on copy shares with the original forwards: an equal id would be dropped by the receiver's
   * dedup as a repeat of the original).
   */
  private handling: string | null = null;
  private derived = 0;
  /** Forwards with a dedup id made outside the handling of a node message (`derivedId`). */
  private unhandled = 0;

  constructor(
    private readonly nodeId: string,
    startedAt: number,
  ) {
    this.prefix = `${nodeId}:${startedAt.toString(36)}`;
  }

  /** This node registered as the incarnation started at `startedAt`: ids from now on carry it. */
  incarnation(startedAt: number): void {
    this.prefix = `${this.nodeId}:${startedAt.toString(36)}`;
  }

  /** The sequence number of the next message of this node (a forward carries it as `seq`). */
  nextSeq(): number {
    return ++this.seq;
  }

  /** The plain id of this node's message number `seq`. */
  plain(seq: number): string {
    return `${this.prefix}:${seq}`;
  }

  /** A fresh id for a node message sent by this node. */
  next(): string {
    return this.plain(this.nextSeq());
  }

  /**
   * The id of a forward made under `dedupId`. While a node message is handled: derived from its id and the count
   * of forwards it caused, so handling it again repeats them (the receivers drop the repeats). Otherwise (a
   * publish of this node, a follow-up of a store answer) one of its own: the counter of handled messages restarts
   * for each, and a copy passed on after a store answer (`owned`, `fenced`) with an id the original forward to
   * that node had was dropped there as a repeat (decision 036, partitions seed 4).
   */
  derivedId(dedupId: string): string {
    if (this.handling !== null) return `${this.handling}>${this.prefix}.${this.derived++}`;
    return `${dedupId}>${this.prefix}~${++this.unhandled}`;
  }

  /** Runs `fn` as the handling of node message `id`: the forwards it makes get ids derived from it (`derivedId`). */
  handlingAs(id: string, fn: () => void): void {
    this.derived = 0;
    this.handling = id;
    try {
      fn();
    } finally {
      this.handling = null;
    }
  }
}
