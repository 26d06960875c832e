/** How long the list of a closed connection is kept (ms): as long as DurableAcks keeps a written PUBACK resendable. */
export const RESENDS_KEPT_MS = 5000;
/** At most this many closed connections' lists are kept; beyond it the oldest go. */
const MAX_KEPT = 10_000;

interface Kept {
  epoch: number;
  list: [number, string][];
  until: number;
}

/**
 * The QoS 1 publishes a client may send again, with their order keys (Connection.resendablePublishes, decision
 * 045), kept for a few seconds after its connection closed by itself (the socket dropped, a keepalive timeout, a
 * kick from the REST gateway). A client that then reconnects to another node re-sends them there; the take-over kick
 * that node sends here finds no connection to read them from, and reads them here instead
 * (SessionCustody.kicked), so the re-sends keep their first copies' keys. Only non-empty lists of sessions that
 * outlive their connection are kept, each under the claim's epoch it was made in.
 */
export class RecentResends {
  /** By client id, oldest first (Map order: each is re-inserted when it changes, and all are kept equally long). */
  private readonly kept = new Map<string, Kept>();

  constructor(
    private readonly keepMs = RESENDS_KEPT_MS,
    private readonly max = MAX_KEPT,
  ) {}

  /** Keeps `list` (the closed connection's, under the session's claim `epoch`) until `now` + the keeping time. */
  remember(clientId: string, epoch: number, list: [number, string][], now: number): void {
    this.kept.delete(clientId);
    if (list.length > 0) this.kept.set(clientId, { epoch, list, until: now + this.keepMs });
    for (const [id, k] of this.kept) {
      if (k.until > now && this.kept.size <= this.max) break;
      this.kept.delete(id);
    }
  }

  /** The list kept for `clientId` under `epoch` and not expired at `now`, once; empty otherwise. */
  take(clientId: string, epoch: number, now: number): [number, string][] {
    const k = this.kept.get(clientId);
    if (k === undefined) return [];
    this.kept.delete(clientId);
    return k.epoch === epoch && k.until > now ? k.list : [];
  }

  /** How many lists are kept (tests). */
  get size(): number {
    return this.kept.size;
  }
}
