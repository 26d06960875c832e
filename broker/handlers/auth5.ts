import type { AuthRequest } from "../../core/auth/backend.js";
import type { ClientInfo, ConnectDecision, EnhancedAuth } from "../../core/auth/types.js";
import { encodeAuth5 } from "../codec5-control.js";
import type { Connection } from "../connection.js";
import { Disconnect5 } from "../link5.js";
import type { Properties } from "../properties.js";

/** Steps an enhanced authentication may take (challenges sent) before it is refused. */
const MAX_STEPS = 8;

/** Authenticate Reason Codes (3.15.2.1). */
export const enum AuthReason {
  /** Server to client: authentication (a re-authentication) succeeded. */
  Success = 0x00,
  /** Both ways: a challenge, or the answer to one. */
  Continue = 0x18,
  /** Client to server: start a re-authentication (4.12.1). */
  Reauthenticate = 0x19,
}

/** An AUTH packet from the client, as the decoder gives it (reason code, strict properties). */
export interface AuthPacket {
  reasonCode?: number;
  props?: Properties;
}

/** How an exchange ended: the backend's decision, and the Authentication Data it ended with. */
export interface ExchangeEnd {
  decision: ConnectDecision;
  data?: Buffer | undefined;
}

/** What the auth layer is told about the client of `conn`: on TLS with client certificates, the verified certificate too (core/auth/backend.ts). */
export function authRequest(conn: Connection, client: ClientInfo): AuthRequest {
  return conn.certificate === undefined ? client : { ...client, certificate: conn.certificate };
}

/**
 * An accepting decision takes effect on the connection, at CONNECT and at each re-authentication: its policy, through
 * `Subscriptions.revisePolicy` (on a live connection that also removes or lowers the subscriptions the new rules
 * refuse, and drops queued messages they no longer allow), and the time its credentials expire (none: they do not).
 */
export async function adoptDecision(conn: Connection, decision: Extract<ConnectDecision, { ok: true }>): Promise<void> {
  await conn.broker.subscriptions.revisePolicy(conn, decision.policy);
  if (!conn.isClosed) conn.expireAt(decision.expiresAt);
}

/**
 * MQTT 5 enhanced authentication at CONNECT (4.12): the exchange, with the client's answers held by the connection
 * while CONNECT is being authenticated. The accepting CONNACK carries the method and the backend's last data
 * [MQTT-4.12.0-5]. A client that answers with another method, or another reason code, or the connect timeout, ends it.
 */
export async function enhancedExchange(
  conn: Connection,
  backend: EnhancedAuth,
  client: ClientInfo,
  method: string,
  first: Buffer | undefined,
  signal: AbortSignal,
): Promise<ConnectDecision> {
  const { decision, data } = await exchange(conn, backend, client, method, first, signal, () => conn.awaitAuth());
  if (decision.ok) conn.acceptWith({ authenticationMethod: method, ...(data === undefined ? {} : { authenticationData: data }) });
  return decision;
}

/**
 * The challenge and response of an enhanced authentication, at CONNECT and at re-authentication (4.12, 4.12.1): the
 * backend's challenges go out in AUTH 0x18 [MQTT-4.12.0-2], `answer` gives the client's AUTH 0x18 to each, until the
 * backend decides; at most `MAX_STEPS` challenges. An answer with another method or reason code is a Protocol Error.
 */
export async function exchange(
  conn: Connection,
  backend: EnhancedAuth,
  client: ClientInfo,
  method: string,
  first: Buffer | undefined,
  signal: AbortSignal,
  answer: () => Promise<AuthPacket>,
): Promise<ExchangeEnd> {
  let data = first;
  let state: unknown;
  for (let step = 0; ; step++) {
    const r = await backend.step(client, method, data, state, signal);
    if ("decision" in r) return r;
    if (step + 1 >= MAX_STEPS) return { decision: { ok: false, returnCode: 5, reason: `enhanced authentication took more than ${MAX_STEPS} steps` } };
    if (conn.isClosed) return { decision: { ok: false, returnCode: 5, reason: "closed during authentication" } };
    conn.write(encodeAuth5(AuthReason.Continue, { authenticationMethod: method, authenticationData: r.challenge }));
    const reply = await answer();
    if (reply.reasonCode !== AuthReason.Continue || reply.props?.authenticationMethod !== method) {
      throw new Disconnect5(0x82, "AUTH must continue the exchange with the same method (4.12)");
    }
    data = reply.props.authenticationData;
    state = r.state;
  }
}
