import { MAX_UNACKED } from "../core/communicator/types.js";

/**
 * How long the list of a closed connection is kept (ms): long enough for a device to reconnect through another
 * node (a few seconds), as long as DurableAcks keeps a written PUBACK resendable.
 */
export const RESENDS_KEPT_MS = 5000;
/** At most this many closed connections' lists are kept, and this many entries in all; beyond either the oldest go. */
const MAX_LISTS = 10_000;
const MAX_ENTRIES = 65_536;

interface Kept {
  epoch: number;
  list: [number, string][];
  until: number;
}

/**
 * The QoS 1 publishes a client may send again, with their order keys (Connection.resendablePublishes, decision
 * 045), kept for a few seconds after its connection closed by itself (the socket dropped, a keepalive timeout, a
 * kick from the REST gateway). A client that then reconnects re-sends them: to another node, whose take-over kick
 * finds no connection here and reads them here instead (SessionCustody.kicked); or to this node, whose claim takes
 * them (SessionLifecycle.connect). Either way the re-sends keep their first copies' keys. Only non-empty lists of
 * sessions that outlive their connection are kept, each under the claim's epoch it was made in, at most
 * MAX_UNACKED entries each (what a `moved` reply carries): at most MAX_ENTRIES (about 5 MB) in all.
 */
export class RecentResends {
  /** By client id, oldest first (Map order: each is re-inserted when it changes, and all are kept equally long). */
  private readonly kept = new Map<string, Kept>();
  private entries = 0;

  constructor(
    private readonly keepMs = RESENDS_KEPT_MS,
    private readonly maxLists = MAX_LISTS,
    private readonly maxEntries = MAX_ENTRIES,
  ) {}

  /** Keeps `list` (the closed connection's, under the session's claim `epoch`) until `now` + the keeping time. */
  remember(clientId: string, epoch: number, list: [number, string][], now: number): void {
    this.drop(clientId);
    if (list.length > 0) {
      const newest = list.length > MAX_UNACKED ? list.slice(-MAX_UNACKED) : list;
      this.kept.set(clientId, { epoch, list: newest, until: now + this.keepMs });
      this.entries += newest.length;
    }
    this.sweep(now);
  }

  /** The list kept for `clientId` under `epoch` and not expired at `now`, once; empty otherwise. */
  take(clientId: string, epoch: number, now: number): [number, string][] {
    this.sweep(now);
    const k = this.kept.get(clientId);
    if (k === undefined) return [];
    this.drop(clientId);
    return k.epoch === epoch ? k.list : [];
  }

  /** How many lists and entries are kept (tests). */
  get size(): { lists: number; entries: number } {
    return { lists: this.kept.size, entries: this.entries };
  }

  private drop(clientId: string): void {
    const k = this.kept.get(clientId);
    if (k === undefined) return;
    this.kept.delete(clientId);
    this.entries -= k.list.length;
  }

  /** Drops the oldest lists while they expired or the bounds are passed. */
  private sweep(now: number): void {
    for (const [id, k] of this.kept) {
      if (k.until > now && this.kept.size <= this.maxLists && this.entries <= this.maxEntries) return;
      this.drop(id);
    }
  }
}
