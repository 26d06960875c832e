/**
 * Closes a connection when the credentials it was accepted with expire (a backend's `expiresAt`, e.g. a JWT's
 * `exp`; docs/auth.md). One timer per connection that has an expiry, none for the others; cleared when the
 * connection closes. The close reason is "not-authorized".
 */
import type { AuthChain } from "../core/auth/chain.js";
import type { Broker } from "./broker.js";
import type { Connection } from "./connection.js";
import type { Session } from "./session.js";

/** Largest delay a Node timer takes; longer expiries re-arm. */
const TIMER_MAX_MS = 2_147_483_647;

export class CredentialExpiry {
  private readonly timers = new Map<Connection, NodeJS.Timeout>();

  private readonly onConnected = (_session: Session, conn: Connection): void => {
    const expiresAt = conn.policy === null ? undefined : this.chain.originOf(conn.policy)?.expiresAt;
    if (expiresAt !== undefined) this.arm(conn, expiresAt);
  };

  private readonly onDisconnected = (_clientId: string, _reason: unknown, _err: unknown, conn: Connection): void => {
    const t = this.timers.get(conn);
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(conn);
  };

  constructor(
    private readonly broker: Broker,
    private readonly chain: AuthChain,
    private readonly now: () => number = Date.now,
  ) {
    broker.on("client.connected", this.onConnected);
    broker.on("client.disconnected", this.onDisconnected);
  }

  /** Connections with a pending expiry (for tests and metrics). */
  get pending(): number {
    return this.timers.size;
  }

  close(): void {
    this.broker.off("client.connected", this.onConnected);
    this.broker.off("client.disconnected", this.onDisconnected);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private arm(conn: Connection, expiresAt: number): void {
    const ms = Math.max(0, expiresAt - this.now());
    const t = setTimeout(() => {
      this.timers.delete(conn);
      if (conn.isClosed) return;
      if (this.now() < expiresAt) this.arm(conn, expiresAt);
      else conn.close("not-authorized", new Error("the credentials this connection was accepted with expired"));
    }, Math.min(ms, TIMER_MAX_MS));
    t.unref();
    this.timers.set(conn, t);
  }
}
