/** Why a waiting will is let go: its delay ran out, its session ended first, or the node is stopping. */
export type WillRelease = "due" | "session-ended" | "stopping";

/** The longest a Node.js timer waits (about 24.8 days); a longer delay is waited out in several such steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Waiting {
  timer: NodeJS.Timeout;
  publish: (why: WillRelease) => void;
  cancel: () => void;
}

/**
 * MQTT 5 wills with a Will Delay Interval, waiting on this node: published when the delay (or the session, if it
 * expires first) runs out [MQTT-3.1.3-9], dropped when the client connects to its session again in time,
 * published at once when that connection starts a new session (Clean Start: the old one ended). One per client
 * id; bounded by the connections this node had, plus, on a cluster node, the delayed wills it took from a dead
 * node's store (bounded by the connections that node had; decision 028).
 */
export class DelayedWills {
  private readonly pending = new Map<string, Waiting>();

  get size(): number {
    return this.pending.size;
  }

  /**
   * Waits `delayMs`, then `publish("due")`; `cancel` when the client comes back in time (it forgets the stored will).
   * A will already waiting for the same client id is let go first, as if its session had ended.
   */
  schedule(clientId: string, delayMs: number, publish: (why: WillRelease) => void, cancel: () => void): void {
    this.reconnected(clientId, true);
    const entry: Waiting = { timer: this.arm(clientId, Date.now() + delayMs), publish, cancel };
    this.pending.set(clientId, entry);
  }

  /** A connection to `clientId`'s session was accepted: its will is dropped, or published now when `sessionEnded`. */
  reconnected(clientId: string, sessionEnded: boolean): void {
    const entry = this.take(clientId);
    if (entry === null) return;
    if (sessionEnded) entry.publish("session-ended");
    else entry.cancel();
  }

  /** The node stops: what is waiting is let go now (`publish("stopping")`). */
  flush(): void {
    for (const clientId of [...this.pending.keys()]) this.take(clientId)?.publish("stopping");
  }

  /**
   * The node lost its lease (decision 019): every waiting will is forgotten here (`cancel`, which then touches
   * nothing in the store): they are all in the store, for a survivor or this node's next incarnation to take.
   */
  forgetAll(): void {
    for (const clientId of [...this.pending.keys()]) this.take(clientId)?.cancel();
  }

  private take(clientId: string): Waiting | null {
    const entry = this.pending.get(clientId);
    if (entry === undefined) return null;
    this.pending.delete(clientId);
    clearTimeout(entry.timer);
    return entry;
  }

  /** A timer for `dueAt` (Date.now() ms), in steps a Node.js timer can wait (a longer one would fire at once). */
  private arm(clientId: string, dueAt: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        const entry = this.pending.get(clientId);
        if (entry === undefined || entry.timer !== timer) return;
        if (dueAt - Date.now() > 0) {
          entry.timer = this.arm(clientId, dueAt);
          return;
        }
        this.pending.delete(clientId);
        entry.publish("due");
      },
      Math.max(0, Math.min(dueAt - Date.now(), MAX_TIMER_MS)),
    );
    timer.unref();
    return timer;
  }
}
