import { decidedIdentity } from "../../core/auth/identity.js";
import type { ConnectDecision } from "../../core/auth/types.js";
import { encodeAuth5, Reason } from "../codec5-control.js";
import type { Connection } from "../connection.js";
import { LimitExceeded } from "../errors.js";
import { Disconnect5 } from "../link5.js";
import type { CloseReason } from "../types.js";
import { adoptDecision, authRequest, type AuthPacket, AuthReason, exchange, type ExchangeEnd } from "./auth5.js";

/**
 * Shortest time between the starts of two re-authentications on one connection (the broker's clock). Each one may
 * cost the auth backend up to 8 steps (a hash, a signature check, a call to an identity provider), and a client
 * re-authenticating in a tight loop would start one per round trip. Token refreshes, what re-authentication is for,
 * come minutes apart: 5 s leaves them all the room they need and holds a connection to 8 backend steps per 5 s. A
 * re-authentication started sooner closes the connection with DISCONNECT 0x97 (Quota exceeded), counted in
 * `limit_hits{reauth-rate}` (docs/security.md, "MQTT 5").
 */
export const MIN_REAUTH_INTERVAL_MS = 5_000;

/**
 * AUTH after CONNACK (the dispatch's handler for AUTH): re-authentication (4.12.1). A client that connected without
 * an Authentication Method sends no AUTH [MQTT-4.12.0-7], and every AUTH carries the method the client connected
 * with [MQTT-4.12.1-1] (3.15.2.2.2): anything else is a Protocol Error, DISCONNECT 0x82.
 */
export function handleAuth(conn: Connection, packet: AuthPacket): void {
  const v5 = conn.v5;
  const method = v5?.authMethod;
  if (v5 === null || method === undefined) {
    throw new Disconnect5(Reason.ProtocolError, "AUTH from a client that connected without an Authentication Method", "MQTT-4.12.0-7");
  }
  if (packet.props?.authenticationMethod !== method) {
    throw new Disconnect5(Reason.ProtocolError, `AUTH without the connection's Authentication Method ${JSON.stringify(method)}`, "MQTT-4.12.1-1");
  }
  (v5.reauth ?? v5.startReauth(new Reauthentication(conn, method))).receive(packet);
}

/**
 * The re-authentications of one MQTT 5 connection (4.12.1): the backend's exchange again (broker/handlers/auth5.ts),
 * at most one at a time, started at most once per `MIN_REAUTH_INTERVAL_MS`, each finished within
 * `limits.connectTimeoutMs` as at CONNECT. The connection goes on meanwhile under the rules it has. On success the
 * new decision takes effect as at CONNECT (`adoptDecision`: policy, expiry), then AUTH 0x00 with the method and the
 * backend's data [MQTT-4.12.0-5]. On failure: DISCONNECT, and the connection is closed [MQTT-4.12.1-2].
 */
export class Reauthentication {
  /** When the last re-authentication started (the broker's clock). */
  private lastStart = Number.NEGATIVE_INFINITY;
  /** The running exchange, aborted on its timeout and when the connection closes; null when none runs. */
  private running: AbortController | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The running exchange waits for the client's answer to a challenge: hand it over, or cancel the wait. */
  private answer: ((packet: AuthPacket) => void) | null = null;
  private cancel: ((err: Error) => void) | null = null;

  constructor(
    private readonly conn: Connection,
    private readonly method: string,
  ) {}

  /** An AUTH from the client, with the connection's method. Throws what the connection closes with. */
  receive(packet: AuthPacket): void {
    switch (packet.reasonCode) {
      case AuthReason.Reauthenticate:
        this.start(packet.props?.authenticationData);
        return;
      case AuthReason.Continue: {
        const answer = this.answer;
        if (answer === null) throw new Disconnect5(Reason.ProtocolError, "AUTH 0x18 with no challenge to answer");
        this.answer = this.cancel = null;
        answer(packet);
        return;
      }
      default:
        // 0x00 (Success) is the server's to send [MQTT-3.15.2-1].
        throw new Disconnect5(Reason.ProtocolError, `AUTH with reason code 0x${(packet.reasonCode ?? 0).toString(16)} from the client`, "MQTT-3.15.2-1");
    }
  }

  /** Ends the running exchange, if any (the connection closes, or the exchange timed out): its backend call is aborted. */
  stop(): void {
    const running = this.running;
    if (running === null) return;
    const cancel = this.cancel;
    this.end();
    running.abort();
    cancel?.(new Error("re-authentication ended"));
  }

  /** The exchange did not end within `limits.connectTimeoutMs`: it failed [MQTT-4.12.1-2]. */
  timedOut(): void {
    if (this.running === null) return;
    this.stop();
    const ms = this.conn.broker.config.limits.connectTimeoutMs;
    this.conn.close("not-authorized", new Disconnect5(Reason.NotAuthorized, `re-authentication not finished within limits.connectTimeoutMs (${ms} ms)`, "MQTT-4.12.1-2"));
  }

  private start(first: Buffer | undefined): void {
    const conn = this.conn;
    const broker = conn.broker;
    if (this.running !== null) throw new Disconnect5(Reason.ProtocolError, "AUTH 0x19 while a re-authentication is going on");
    const now = broker.now();
    if (now - this.lastStart < MIN_REAUTH_INTERVAL_MS) {
      broker.stats.limitHits["reauth-rate"]++;
      throw new LimitExceeded("reauth-rate", `a re-authentication less than ${MIN_REAUTH_INTERVAL_MS} ms after the last one`);
    }
    const backend = broker.auth.enhanced;
    const client = conn.client;
    // Not reached: CONNACK went to a client with an Authentication Method only through the backend's exchange.
    if (backend === undefined || client === null) throw new Disconnect5(Reason.ProtocolError, "re-authentication without an enhanced authentication backend");
    this.lastStart = now;
    const running = (this.running = new AbortController());
    this.timer = setTimeout(onTimeout, broker.config.limits.connectTimeoutMs, this);
    exchange(conn, backend, authRequest(conn, client), this.method, first, running.signal, () => this.nextAnswer())
      .then((end) => this.finish(running, end))
      .catch((err: unknown) => this.fail(running, err));
  }

  private nextAnswer(): Promise<AuthPacket> {
    return new Promise((resolve, reject) => {
      this.answer = resolve;
      this.cancel = reject;
    });
  }

  /** The backend decided. An accepting decision must keep the session's identity (see docs/auth.md). */
  private async finish(running: AbortController, { decision, data }: ExchangeEnd): Promise<void> {
    const conn = this.conn;
    if (this.running !== running || conn.isClosed) return;
    if (!decision.ok) {
      this.end();
      const [reason, code] = refusal(decision);
      conn.close(reason, new Disconnect5(code, decision.reason, "MQTT-4.12.1-2"));
      return;
    }
    const owner = conn.session?.identity ?? null;
    const identity = decidedIdentity(decision, conn.client ?? {});
    if (owner !== null && identity !== owner) {
      this.end();
      conn.close("not-authorized", new Disconnect5(Reason.NotAuthorized, "a re-authentication may not change the identity that owns the session", "MQTT-4.12.1-2"));
      return;
    }
    await adoptDecision(conn, decision);
    if (this.running !== running || conn.isClosed) return;
    this.end();
    conn.write(encodeAuth5(AuthReason.Success, { authenticationMethod: this.method, ...(data === undefined ? {} : { authenticationData: data }) }));
  }

  /** The exchange threw: the client broke it (another method or reason code in an answer), or the backend failed. */
  private fail(running: AbortController, err: unknown): void {
    if (this.running !== running) return;
    this.end();
    if (this.conn.isClosed) return;
    // A backend failure is the server's problem: 0x89 (Server busy), as CONNECT answers 0x03.
    const reason = err instanceof Disconnect5 ? err : new Disconnect5(Reason.ServerBusy, `re-authentication failed: ${err instanceof Error ? err.message : String(err)}`);
    this.conn.close("protocol-error", reason);
  }

  private end(): void {
    this.running = null;
    this.answer = this.cancel = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * How a refused re-authentication closes: bad credentials or not authorized (0x04, 0x05) as DISCONNECT 0x87; the
 * authentication queue full (0x03) as 0x89 (Server busy). DISCONNECT has no 0x86 or 0x88 (3.14.2.1). The close
 * reasons are those of a refused CONNECT (Connection.refuse).
 */
function refusal(decision: Extract<ConnectDecision, { ok: false }>): [CloseReason, number] {
  return decision.returnCode === 3 ? ["protocol-error", Reason.ServerBusy] : ["not-authorized", Reason.NotAuthorized];
}

function onTimeout(reauth: Reauthentication): void {
  reauth.timedOut();
}
