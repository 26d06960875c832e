import { randomBytes } from "node:crypto";
import type { IConnectPacket, QoS } from "mqtt-packet";
import { decidedIdentity } from "../../core/auth/identity.js";
import type { ClientInfo } from "../../core/auth/types.js";
import { validateTopicName } from "../../core/topic/index.js";
import type { Connection } from "../connection.js";
import { ProtocolError } from "../errors.js";
import type { Properties } from "../properties.js";
import { Disconnect5, Link5 } from "../link5.js";
import { adoptDecision, authRequest, enhancedExchange } from "./auth5.js";
import { grantedExpiry, readConnect5, type SessionTerms, terms311, type WillTerms } from "./connect5.js";

/**
 * CONNECT: protocol checks, client identifier rules, authentication, session take-over or resume, CONNACK.
 * Authentication is asynchronous; packets that arrive meanwhile wait in the connection.
 */
export function handleConnect(conn: Connection, packet: IConnectPacket & { props?: Properties; will?: { props?: Properties } }): void {
  const broker = conn.broker;
  const { limits } = broker.config;
  const version = packet.protocolVersion ?? 4;

  // "MQTT" goes with levels 4 (3.1.1) and 5, "MQIsdp" with level 3 (3.1); anything else is refused [MQTT-3.1.2-2].
  const v5 = packet.protocolId === "MQTT" && version === 5;
  if (!((packet.protocolId === "MQTT" && version === 4) || (packet.protocolId === "MQIsdp" && version === 3) || v5)) {
    conn.refuse(1, new ProtocolError(`unsupported protocol ${packet.protocolId} level ${version}`, "MQTT-3.1.2-2"));
    return;
  }
  // Will QoS 3 is malformed [MQTT-3.1.2-14]; before MQTT 5 a password without a user name is malformed
  // [MQTT-3.1.2-22] (MQTT 5 allows it, 3.1.2.9).
  if (packet.will && packet.will.qos !== undefined && packet.will.qos > 2) {
    throw new ProtocolError("will QoS 3", "MQTT-3.1.2-14");
  }
  if (!v5 && packet.password !== undefined && packet.username === undefined) {
    throw new ProtocolError("password flag set without user name flag", "MQTT-3.1.2-22");
  }
  // From here on an MQTT 5 client is answered in MQTT 5 (reason codes), refusals included.
  if (v5) conn.useV5(new Link5(packet.props, grantedExpiry(packet.props, limits)));
  if (packet.will) {
    const invalid = validateTopicName(packet.will.topic, broker.topicLimits);
    if (invalid !== null) throw new ProtocolError(`invalid will topic: ${invalid}`, "MQTT-3.1.3-10");
  }

  let clientId = packet.clientId;
  const clean = packet.clean !== false;
  if (clientId.length === 0) {
    // 3.1 requires 1-23 characters; 3.1.1 allows an empty id only with clean session [MQTT-3.1.3-7] [MQTT-3.1.3-8],
    // and then the server assigns a unique one [MQTT-3.1.3-6].
    // MQTT 5 assigns one whatever Clean Start says, and tells the client in CONNACK [MQTT-3.1.3-6] (5.0).
    if (version === 3 || (!clean && !v5)) {
      conn.refuse(2, new ProtocolError("empty client id with clean session 0", "MQTT-3.1.3-8"));
      return;
    }
    clientId = `mqgate-${randomBytes(9).toString("base64url")}`;
  }
  if (Buffer.byteLength(clientId) > limits.maxClientIdLength) {
    conn.refuse(2, new ProtocolError(`client id longer than ${limits.maxClientIdLength} bytes`));
    return;
  }
  // auth.clientIdPattern, checked before any authentication work; an id the server assigned is always fine.
  if (clientId === packet.clientId && !broker.clientIdAllowed(clientId, packet.username)) {
    broker.stats.sessionsRefused["client-id"]++;
    conn.refuse(5, new Error("client id not allowed for this user (auth.clientIdPattern)"));
    return;
  }

  // Keepalive: a server maximum clamps longer values and replaces 0 (off) [MQTT-3.1.2-24].
  let keepalive = packet.keepalive ?? 0;
  const maxKeepalive = limits.maxKeepaliveSeconds;
  if (maxKeepalive > 0 && (keepalive === 0 || keepalive > maxKeepalive)) keepalive = maxKeepalive;

  let terms: SessionTerms = terms311(clean, limits);
  let will5: WillTerms | null = null;
  let enhanced: { method: string; data: Buffer | undefined } | null = null;
  if (v5) {
    const read = readConnect5(packet, limits, clientId === packet.clientId ? null : clientId, keepalive, broker.auth.enhanced?.methods ?? []);
    if (!read.ok) {
      conn.refuse(5, new Error(read.reason), read.reasonCode);
      return;
    }
    conn.acceptWith(read.connack);
    terms = read.terms;
    will5 = read.will;
    enhanced = read.auth;
  }
  const client: ClientInfo = {
    clientId,
    username: packet.username,
    remoteAddress: conn.remoteAddress,
    protocolVersion: version,
  };
  conn.identify(client);
  if (packet.will) {
    const payload = packet.will.payload;
    const props = will5?.props;
    conn.keepWill(
      {
        topic: packet.will.topic,
        payload: typeof payload === "string" ? Buffer.from(payload) : payload,
        qos: (packet.will.qos ?? 0) as QoS,
        retain: packet.will.retain === true,
        ...(props === undefined ? {} : { props }),
        // The will's Message Expiry Interval counts from when it is published (Publisher.fromClient, broker/publishing.ts).
      },
      will5?.delay ?? 0,
    );
  }
  const signal = conn.beginConnect(keepalive);
  const request = authRequest(conn, client);
  // MQTT 5 enhanced authentication runs the backend's exchange instead of the password check (4.12).
  const decided =
    enhanced !== null && broker.auth.enhanced !== undefined
      ? enhancedExchange(conn, broker.auth.enhanced, request, enhanced.method, enhanced.data, signal)
      : broker.auth.connect(request, packet.password, signal);
  decided.then(
    async (decision) => {
      if (conn.isClosed) return;
      if (!decision.ok) {
        conn.refuse(decision.returnCode, new Error(decision.reason));
        return;
      }
      await adoptDecision(conn, decision);
      if (conn.isClosed) return;
      return broker.connectSession(conn, clientId, terms, decidedIdentity(decision, packet));
    },
    (err: unknown) => {
      if (conn.isClosed) return;
      // A client that broke the exchange is closed; a backend failure is the server's problem: CONNACK 0x03.
      if (err instanceof Disconnect5) conn.refuse(5, err, err.reasonCode);
      else conn.refuse(3, err instanceof Error ? err : new Error(String(err)));
    },
  ).catch((err: unknown) => {
    // A failure while starting the session closes this connection only.
    if (!conn.isClosed) conn.close("protocol-error", err instanceof Error ? err : new Error(String(err)));
  });
}
