/** Largest delay Node timers accept. */
const MAX_TIMER_MS = 2_147_483_647;

/** What expiring credentials close: the connection. */
export interface ExpiringClient {
  /** The timer fired: checked again at `epochMs` (re-armed when that is still beyond the largest timer delay). */
  expireAt(epochMs: number): void;
  /** The credentials no longer hold: the connection is closed as not authorized. */
  revoke(reason: Error): void;
}

/**
 * The timer that closes a connection when the credentials it authenticated with expire (a JWT's exp); a
 * re-authentication's credentials replace it. Made on first use: most credentials do not expire.
 */
export class CredentialsExpiry {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly client: ExpiringClient) {}

  /** The credentials expire at `epochMs` (revoked at once when that has passed); undefined: they do not expire. */
  at(epochMs: number | undefined): void {
    this.stop();
    if (epochMs === undefined) return;
    const delay = epochMs - Date.now();
    if (delay <= 0) {
      this.client.revoke(new Error("credentials expired"));
      return;
    }
    // Beyond the largest timer delay (about 24.8 days), re-arm when it fires.
    this.timer = setTimeout(onExpiry, Math.min(delay, MAX_TIMER_MS), this.client, epochMs);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function onExpiry(client: ExpiringClient, epochMs: number): void {
  client.expireAt(epochMs);
}
