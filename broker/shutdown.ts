import type { Store } from "../core/store/types.js";
import type { DelayedWills } from "./delayed-wills.js";
import type { Journal } from "./journal.js";
import type { CloseReason } from "./types.js";

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

/** What a shutdown closes and waits for (the broker's). */
export interface ShutdownParts {
  readonly connections: ReadonlySet<{ close(reason: CloseReason): void }>;
  readonly delayedWills: Pick<DelayedWills, "flush">;
  readonly journal: Pick<Journal, "drain">;
  readonly releases: Pick<SessionReleases, "settled">;
}

/**
 * Broker.closeAll: closes every connection in batches (closeBatches), then waits for the store writes and session
 * releases to land, until `drainMs` passed. The journal stays open (Broker.closeJournal, after the cluster stopped).
 */
export async function closeAll(parts: ShutdownParts, reason: CloseReason, drainMs: number): Promise<void> {
  const deadline = Date.now() + drainMs;
  const conns = [...parts.connections];
  const { size, pause } = closeBatches(conns.length, drainMs);
  for (let i = 0; i < conns.length; i += size) {
    if (i > 0 && pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    for (const conn of conns.slice(i, i + size)) conn.close(reason);
  }
  // Wills waiting out a delay go now, as every other will of a closing node does.
  parts.delayedWills.flush();
  await parts.journal.drain(Math.max(0, deadline - Date.now()));
  // Sessions are handed back (offline in the store) so other nodes route to the store while their clients reconnect.
  await parts.releases.settled(deadline);
  await parts.journal.drain(Math.max(0, deadline - Date.now()));
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
