import type { QoS } from "mqtt-packet";
import type { Auth, ClientPolicy, ConnectDecision } from "./types.js";

/** Grants every publish and every subscription at the requested QoS. */
const ALLOW_ALL_POLICY: ClientPolicy = Object.freeze({
  canPublish: (_topic: string): boolean => true,
  canSubscribe: (_filter: string, requestedQos: QoS): QoS => requestedQos,
});

const ACCEPT: ConnectDecision = Object.freeze({ ok: true, policy: ALLOW_ALL_POLICY });

/**
 * Development mode: every CONNECT is accepted (any or no user name and password), every client
 * may publish and subscribe anywhere. Never use it on a listener reachable from untrusted networks.
 */
export function createAllowAll(): Auth {
  return Object.freeze({
    name: "allow-all",
    connect: (): Promise<ConnectDecision> => Promise.resolve(ACCEPT),
    policyFor: (): ClientPolicy => ALLOW_ALL_POLICY,
  });
}
