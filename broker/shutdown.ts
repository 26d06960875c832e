import type { Store } from "../core/store/types.js";
import type { Journal } from "./journal.js";

/** Shutdown: connections closed per batch (at least), batches (at most), pause between batches (at most). */
const CLOSE_BATCH_MIN = 200;
const CLOSE_BATCHES_MAX = 10;
const CLOSE_PAUSE_MAX_MS = 500;

/**
 * How shutdown closes `count` connections: in up to 10 batches of `size` (at least 200), `pause` ms apart, spread
 * over at most half of `drainMs` (500 ms apart at most), so their clients reconnect to the other nodes as a
 * stream instead of one storm.
 */
export function closeBatches(count: number, drainMs: number): { size: number; pause: number } {
  const size = Math.max(CLOSE_BATCH_MIN, Math.ceil(count / CLOSE_BATCHES_MAX));
  const batches = Math.ceil(count / size);
  const pause = batches > 1 ? Math.min(CLOSE_PAUSE_MAX_MS, Math.floor(drainMs / 2 / batches)) : 0;
  return { size, pause };
}

/**
 * Sessions handed back to the store (offline) when their connection ends: after the journal, so the session's
 * last writes land first; fenced by the epoch, so a newer owner is never overwritten. Shutdown waits for them.
 */
export class SessionReleases {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly journal: Journal,
    private readonly store: Store,
    private readonly now: () => number,
    private readonly onError: (err: Error) => void,
  ) {}

  release(clientId: string, epoch: number, expiryMs?: number): void {
    const done: Promise<void> = this.journal
      .barrier()
      .then(() => this.store.releaseSession(clientId, epoch, this.now(), expiryMs))
      .then(() => undefined)
      .catch((err: unknown) => {
        this.onError(err as Error);
      })
      .finally(() => this.pending.delete(done));
    this.pending.add(done);
  }

  /** Resolves once the releases under way settled, or at `deadline` (epoch ms), whichever is first. */
  async settled(deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
    await Promise.race([Promise.all([...this.pending]), timeout]);
    clearTimeout(timer);
  }
}
