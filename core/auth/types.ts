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
 * Which delivered topics a client may not read: the deny patterns that apply, precompiled. `refuses` runs per
 * delivered message and allocates nothing.
 */
export interface DeliveryGuard {
  /** True when a message on `topic` (a topic name) must not be delivered to the client. */
  refuses(topic: string): boolean;
}

/**
 * Per-client authorization, computed once at CONNECT (patterns with %c/%u already substituted).
 * Every method is synchronous: they run on the PUBLISH hot path.
 */
export interface ClientPolicy {
  /** May this client publish to `topic` (also used for its will message)? */
  canPublish(topic: string): boolean;
  /**
   * The QoS granted for a subscription request (may be lower than requested), or null to refuse (SUBACK 0x80).
   * A granted filter may still overlap deny patterns: `deliveryGuard(filter)` then says which deliveries through
   * it are refused (docs/auth.md, "Exact authorization").
   */
  canSubscribe(filter: string, requestedQos: QoS): QoS | null;
  /**
   * Exact authorization of deliveries. With a filter (one `canSubscribe` granted): a guard over the deny patterns
   * that overlap it, attached to the subscription and checked for each message delivered through it; null when
   * it overlaps none (its deliveries are not checked). Without a filter: a guard over every deny pattern, for
   * messages whose subscription is not known (routed from another node, queued in the store); null when the
   * policy denies nothing. Optional: a policy without deny patterns may leave it out.
   */
  deliveryGuard?(filter?: string): DeliveryGuard | null;
}

/**
 * Outcome of CONNECT authentication (CONNACK codes): 3 = server unavailable (the authentication queue is
 * full: retry later), 4 = bad user name or password, 5 = not authorized. `identity`: who owns the client's
 * sessions, when the authenticator knows better than the user name (core/auth/identity.ts). `expiresAt` (epoch
 * ms): the broker closes the connection then (a JWT's exp).
 */
export type ConnectDecision =
  | { ok: true; policy: ClientPolicy; identity?: string | undefined; expiresAt?: number | undefined }
  | { ok: false; returnCode: 3 | 4 | 5; reason: string };

/** Authenticates CONNECT and hands back the client's policy. Async: it may consult a store. */
export interface Auth {
  readonly name: string;
  /** `signal` fires when the client's connection closes: queued work for it is dropped. */
  connect(client: ClientInfo, password: Buffer | undefined, signal?: AbortSignal): Promise<ConnectDecision>;
  /**
   * The policy a client with this identity gets, without authenticating it: for acting on behalf of a client that
   * is not connected (REST subscribe on behalf of an offline session). Null when it cannot be determined (an
   * unknown or removed user, anonymous clients not allowed). Optional: callers refuse when it is missing.
   */
  policyFor?(client: ClientInfo): ClientPolicy | null;
  /** Counters of the password checks (queue and cache), for metrics; absent when the backend hashes nothing. */
  stats?(): AuthStats;
  /**
   * Like `policyFor`, but may read the store first (users and roles in the store, issue 15), so it also answers for
   * identities this process has not seen. Optional: callers without it use `policyFor`.
   */
  resolvePolicy?(client: ClientInfo): Promise<ClientPolicy | null>;
  /**
   * MQTT 5 enhanced authentication (4.12): challenge and response in AUTH packets, for the methods listed. A
   * CONNECT naming another method is refused with CONNACK 0x8C. Optional: without it every method is refused.
   */
  enhanced?: EnhancedAuth;
}

/** One step of an enhanced authentication exchange: go on with a challenge, or end with a decision. */
export type EnhancedStep = { challenge: Buffer; state: unknown } | { decision: ConnectDecision; data?: Buffer };

/**
 * An MQTT 5 enhanced authentication backend (SCRAM, Kerberos, a signed nonce…). The broker calls `step` with the
 * client's Authentication Data: first from CONNECT (`state` undefined), then from each AUTH the client answers a
 * challenge with (`state` as the previous step returned it). At most 8 steps, all within `limits.connectTimeoutMs`.
 * A client that connected this way may re-authenticate after CONNACK (AUTH 0x19, 4.12.1): the same exchange again,
 * `state` undefined at its first step; an accepting decision then replaces the connection's policy and expiry, and
 * must name the identity that owns the session (docs/auth.md, "Re-authentication").
 */
export interface EnhancedAuth {
  readonly methods: readonly string[];
  step(client: ClientInfo, method: string, data: Buffer | undefined, state: unknown, signal: AbortSignal): Promise<EnhancedStep>;
}
