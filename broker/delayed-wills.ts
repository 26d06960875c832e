/**
 * MQTT 5 wills with a Will Delay Interval (3.1.3.2.2), waiting on this node: published when the delay (or the
 * session, if it expires first) runs out [MQTT-3.1.3-9], dropped when the client connects to its session again
 * in time, published at once when that connection starts a new session (Clean Start: the old one ended). One per
 * client id; bounded by the connections this node had.
 */
export class DelayedWills {
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; publish: () => void; cancel: () => void }>();

  get size(): number {
    return this.pending.size;
  }

  /** Waits `delayMs`, then `publish`; `cancel` when the client comes back in time (it forgets the stored will). */
  schedule(clientId: string, delayMs: number, publish: () => void, cancel: () => void): void {
    this.reconnected(clientId, true);
    const timer = setTimeout(() => {
      this.pending.delete(clientId);
      publish();
    }, delayMs);
    timer.unref();
    this.pending.set(clientId, { timer, publish, cancel });
  }

  /** A connection to `clientId`'s session was accepted: its will is dropped, or published now when `sessionEnded`. */
  reconnected(clientId: string, sessionEnded: boolean): void {
    const entry = this.pending.get(clientId);
    if (entry === undefined) return;
    this.pending.delete(clientId);
    clearTimeout(entry.timer);
    if (sessionEnded) entry.publish();
    else entry.cancel();
  }

  /** The node stops: what is waiting is published now, as a will without a delay would have been. */
  flush(): void {
    for (const clientId of [...this.pending.keys()]) this.reconnected(clientId, true);
  }
}
