import type { QoS } from "mqtt-packet";
import type { AuthStats } from "./verifier.js";

export type { AuthStats } from "./verifier.js";

/** What the broker knows about a client when it asks the auth layer. */
export interface ClientInfo {
  clientId: string;
  username?: string | undefined;
  remoteAddress?: string | undefined;
  /** 3 = MQTT 3.1, 4 = MQTT 3.1.1, 5 = MQTT 5. */
  protocolVersion: 3 | 4 | 5;
}

/**
 * Per-client authorization, computed once at CONNECT (patterns with %c/%u already substituted).
 * Both methods are synchronous: they run on the PUBLISH hot path.
 */
export interface ClientPolicy {
  /** May this client publish to `topic` (also used for its will message)? */
  canPublish(topic: string): boolean;
  /** The QoS granted for a subscription request (may be lower than requested), or null to refuse (SUBACK 0x80). */
  canSubscribe(filter: string, requestedQos: QoS): QoS | null;
}

/**
 * Outcome of CONNECT authentication (CONNACK codes): 3 = server unavailable (the authentication queue is
 * full: retry later), 4 = bad user name or password, 5 = not authorized.
 */
export type ConnectDecision = { ok: true; policy: ClientPolicy } | { ok: false; returnCode: 3 | 4 | 5; reason: string };

/** Authenticates CONNECT and hands back the client's policy. Async: it may consult a store. */
export interface Auth {
  readonly name: string;
  /** `signal` fires when the client's connection closes: queued work for it is dropped. */
  connect(client: ClientInfo, password: Buffer | undefined, signal?: AbortSignal): Promise<ConnectDecision>;
  /** Counters of the password checks (queue and cache), for metrics; absent when the backend hashes nothing. */
  stats?(): AuthStats;
}
