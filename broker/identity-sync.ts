/**
 * Makes user and role changes in the store take effect on this node (issue 15; docs/auth.md, "Caching and
 * revocation"; decision 015). Every `auth.syncIntervalMs` (250 ms) the node asks the store what changed since the
 * version it last saw: one script call, answered with the version alone when nothing changed. On a change:
 *
 * - the chain drops the cached decisions and identities that depend on it;
 * - every live connection the `store` backend authenticated and the change concerns (its user changed, any role
 *   changed, or the store cannot say what changed) is re-checked against the store: a deleted or disabled user, or
 *   a client id its pattern no longer allows, is disconnected; otherwise the new policy replaces the old one and
 *   subscriptions it no longer allows are removed (Subscriptions.revisePolicy).
 *
 * Polling the store rather than sending node messages: every writer (REST Lambda, CLI, a script against Redis)
 * bumps the version in the same script that writes, so no writer can forget to notify, and a node that was cut
 * off catches up on its next poll. The cost is 4 cheap calls per second per node.
 */
import type { AuthChain } from "../core/auth/chain.js";
import type { IdentityStore } from "../core/store/identity-types.js";
import type { Broker } from "./broker.js";
import type { Connection } from "./connection.js";

/** Re-checks running at once after a change. */
const PARALLEL = 32;

export class IdentitySync {
  private version = -1;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly broker: Broker,
    private readonly chain: AuthChain,
    private readonly store: IdentityStore,
    private readonly intervalMs: number,
  ) {}

  /** Reads the current version, then polls. */
  async start(): Promise<void> {
    this.version = (await this.store.identityChanges(0)).version;
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  /** One poll (also used by tests and by `start`'s timer); never overlaps another. */
  poll(): Promise<void> {
    this.running ??= this.check().finally(() => (this.running = null));
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async check(): Promise<void> {
    if (this.closed) return;
    let changes;
    try {
      changes = await this.store.identityChanges(Math.max(this.version, 0));
    } catch (err) {
      this.broker.emit("store.error", "identityChanges", err as Error, 1);
      return;
    }
    if (changes.version === this.version && changes.complete) return;
    const previous = this.version;
    this.version = changes.version;
    this.chain.invalidate(changes);
    const backend = this.chain.storeBackend;
    if (backend === undefined) return;
    const users = new Set(changes.users);
    const everyone = !changes.complete || changes.roles.length > 0;
    const affected: [Connection, string][] = [];
    for (const conn of this.broker.connections) {
      if (conn.isClosed || conn.policy === null || conn.client === null) continue;
      const user = backend.userOf(conn.policy);
      if (user !== undefined && (everyone || users.has(user))) affected.push([conn, user]);
    }
    let ok = true;
    for (let i = 0; i < affected.length; i += PARALLEL) {
      const results = await Promise.all(affected.slice(i, i + PARALLEL).map(([conn, user]) => this.recheck(conn, user)));
      if (results.includes(false)) ok = false;
    }
    // A re-check the store failed is done again on the next poll (everything since `previous` is re-read).
    if (!ok) this.version = previous;
  }

  /** False when the store could not answer. */
  private async recheck(conn: Connection, user: string): Promise<boolean> {
    const backend = this.chain.storeBackend!;
    try {
      const policy = await backend.revalidate(conn.client!.clientId, user);
      if (conn.isClosed) return true;
      if (policy === null) conn.revoke(new Error(`user ${JSON.stringify(user)} was deleted, disabled or no longer allows this client id`));
      else await this.broker.subscriptions.revisePolicy(conn, policy);
      return true;
    } catch (err) {
      this.broker.emit("store.error", "getIdentity", err as Error, 1);
      return false;
    }
  }
}
