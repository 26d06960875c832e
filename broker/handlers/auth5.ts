import type { ClientInfo, ConnectDecision, EnhancedAuth } from "../../core/auth/types.js";
import { encodeAuth5 } from "../codec5-control.js";
import type { Connection } from "../connection.js";
import { Disconnect5 } from "../link5.js";
import type { Properties } from "../properties.js";

/** Steps an enhanced authentication may take (challenges sent) before it is refused. */
const MAX_STEPS = 8;
/** AUTH reason code: continue authentication (3.15.2.1). */
const CONTINUE = 0x18;

/** An AUTH packet from the client, as the decoder gives it (reason code, strict properties). */
export interface AuthPacket {
  reasonCode?: number;
  props?: Properties;
}

/**
 * MQTT 5 enhanced authentication (4.12): the backend's challenges go out in AUTH 0x18, the client's answers come
 * back in AUTH 0x18 (held by the connection for this exchange while CONNECT is being authenticated), until the
 * backend decides. The accepting CONNACK carries the method and the backend's last data [MQTT-4.12.0-1]. A client
 * that answers with another method, or another reason code, or the connect timeout, ends it.
 */
export async function enhancedExchange(
  conn: Connection,
  backend: EnhancedAuth,
  client: ClientInfo,
  method: string,
  first: Buffer | undefined,
  signal: AbortSignal,
): Promise<ConnectDecision> {
  let data = first;
  let state: unknown;
  for (let step = 0; ; step++) {
    const r = await backend.step(client, method, data, state, signal);
    if ("decision" in r) {
      if (r.decision.ok) conn.acceptWith({ authenticationMethod: method, ...(r.data === undefined ? {} : { authenticationData: r.data }) });
      return r.decision;
    }
    if (step + 1 >= MAX_STEPS) return { ok: false, returnCode: 5, reason: `enhanced authentication took more than ${MAX_STEPS} steps` };
    if (conn.isClosed) return { ok: false, returnCode: 5, reason: "closed during authentication" };
    conn.write(encodeAuth5(CONTINUE, { authenticationMethod: method, authenticationData: r.challenge }));
    const answer = await conn.awaitAuth();
    if (answer.reasonCode !== CONTINUE || answer.props?.authenticationMethod !== method) {
      throw new Disconnect5(0x82, "AUTH must continue the exchange with the same method (4.12)");
    }
    data = answer.props.authenticationData;
    state = r.state;
  }
}
