import type { IConnectPacket, IPublishPacket } from "mqtt-packet";
import { expect } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import type { Auth, ClientPolicy } from "../../core/auth/types.js";
import type { RawClient } from "../helpers/raw-client.js";

/**
 * Reads every PUBLISH `c` gets into `got`, acknowledging QoS 1 and completing QoS 2 (unless `ack` is false: the
 * client then holds them unacknowledged). `stop()` ends the reading.
 */
export function collect(c: RawClient, ack = true, got: IPublishPacket[] = []): { got: IPublishPacket[]; stop(): void } {
  let stopped = false;
  void (async () => {
    while (!stopped && !c.closed) {
      const p = await c.next(60_000).catch(() => null);
      if (p === null) return;
      if (p.cmd === "publish") {
        got.push(p);
        if (ack && p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId as number });
        if (ack && p.qos === 2) c.send({ cmd: "pubrec", messageId: p.messageId as number });
      } else if (p.cmd === "pubrel") c.send({ cmd: "pubcomp", messageId: p.messageId });
    }
  })();
  return { got, stop: () => (stopped = true) };
}

/** Allow-all, except publishing to topics and subscribing to filters that start with the prefixes given. */
export function restrictedAuth(deny: { publish?: string; subscribe?: string }): Auth {
  const allowAll = createAllowAll();
  return {
    name: "restricted",
    async connect(client, password) {
      const decision = await allowAll.connect(client, password);
      return decision.ok ? { ...decision, policy: restrictedPolicy(decision.policy, deny) } : decision;
    },
  };
}

/** `base`, except publishing to topics and subscribing to filters that start with the prefixes given. */
function restrictedPolicy(base: ClientPolicy, deny: { publish?: string; subscribe?: string }): ClientPolicy {
  const refused = (s: string, prefix: string | undefined): boolean => prefix !== undefined && s.startsWith(prefix);
  return {
    canPublish: (topic) => !refused(topic, deny.publish) && base.canPublish(topic),
    canSubscribe: (filter, qos) => (refused(filter, deny.subscribe) ? null : base.canSubscribe(filter, qos)),
  };
}

/** The enhanced authentication method of `nonceAuth`. */
export const NONCE_METHOD = "TEST-NONCE";
/** The challenge `nonceAuth` sends; the client answers it reversed (`NONCE_ANSWER`). */
export const NONCE = Buffer.from("n-123");
export const NONCE_ANSWER = Buffer.from([...NONCE].reverse());
/** The Authentication Data `nonceAuth` ends a successful exchange with. */
export const NONCE_WELCOME = Buffer.from("welcome");

/** `nonceAuth`, with what its backend was asked to do. */
export interface NonceAuth extends Auth {
  /** Calls of `enhanced.step`, all exchanges together. */
  readonly steps: { count: number; aborted: number };
}

/**
 * Enhanced authentication (MQTT 5.0 section 4.12) for tests, at CONNECT and at re-authentication: method
 * TEST-NONCE; the client's first Authentication Data says what it asks for, the server challenges with `NONCE`, and
 * the client answers `NONCE_ANSWER`. What it may ask for: "all" (allow-all, the default), "no-secret" (allow-all but
 * publishing and subscribing under "secret/"), "as:<identity>" (allow-all, the decision names that identity),
 * "expires:<ms>" (allow-all, the credentials expire `ms` after the answer), "deny" (refused with 0x05 after the
 * answer), "loop" (challenges for ever), "hang" (the backend never answers; it gives up when its signal fires).
 */
export function nonceAuth(): NonceAuth {
  const allowAll = createAllowAll();
  const steps = { count: 0, aborted: 0 };
  return {
    name: "nonce",
    steps,
    connect: (client, password) => allowAll.connect(client, password),
    enhanced: {
      methods: [NONCE_METHOD],
      async step(client, _method, data, state, signal) {
        steps.count++;
        if (state === undefined) {
          const ask = data?.toString() ?? "all";
          if (ask === "hang") {
            return new Promise((_resolve, reject) =>
              signal.addEventListener("abort", () => {
                steps.aborted++;
                reject(new Error("aborted"));
              }),
            );
          }
          return { challenge: NONCE, state: ask };
        }
        const ask = state as string;
        if (ask === "loop") return { challenge: NONCE, state };
        if (data?.equals(NONCE_ANSWER) !== true) return { decision: { ok: false, returnCode: 4, reason: "wrong response" } };
        if (ask === "deny") return { decision: { ok: false, returnCode: 5, reason: "this client may not re-authenticate" } };
        const decision = await allowAll.connect(client, undefined);
        if (!decision.ok) return { decision };
        const policy = ask === "no-secret" ? restrictedPolicy(decision.policy, { publish: "secret/", subscribe: "secret/" }) : decision.policy;
        const identity = ask.startsWith("as:") ? ask.slice(3) : undefined;
        const expiresAt = ask.startsWith("expires:") ? Date.now() + Number(ask.slice(8)) : undefined;
        return { decision: { ok: true, policy, identity, expiresAt }, data: NONCE_WELCOME };
      },
    },
  };
}

/** CONNECT with the TEST-NONCE method asking for `ask` (see `nonceAuth`), through the challenge, to CONNACK 0x00. */
export async function connectNonce(c: RawClient, clientId: string, ask = "all", fields: Partial<IConnectPacket> = {}): Promise<void> {
  c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId, properties: { authenticationMethod: NONCE_METHOD, authenticationData: Buffer.from(ask) }, ...fields });
  expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE } });
  c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
  expect(await c.expect("connack")).toMatchObject({ reasonCode: 0 });
}

/** AUTH 0x19 with the TEST-NONCE method asking for `ask`: what starts a re-authentication (4.12.1). */
export function sendReauth(c: RawClient, ask = "all", method = NONCE_METHOD): void {
  c.send({ cmd: "auth", reasonCode: 0x19, properties: { authenticationMethod: method, authenticationData: Buffer.from(ask) } });
}

/** A whole re-authentication asking for `ask`: AUTH 0x19, the challenge in AUTH 0x18, the answer, AUTH 0x00. */
export async function reauthenticate(c: RawClient, ask = "all"): Promise<void> {
  sendReauth(c, ask);
  expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE } });
  c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
  expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x00, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_WELCOME } });
}
