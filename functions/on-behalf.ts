import type { QoS } from "mqtt-packet";
import type { ClientPolicy } from "../core/auth/types.js";
import { ConflictError, ForbiddenError, type FieldError } from "./errors.js";

/**
 * REST "subscribe on behalf" honours the client's own rules (docs/auth.md, "Acting on behalf of a client"): each
 * filter is checked with the client's policy as its SUBSCRIBE would be. All or nothing: a filter the rules refuse
 * (SUBACK 0x80) refuses the request (403) and nothing is subscribed; a lower granted QoS is what is subscribed.
 * When the client's rules cannot be determined (`policy` null: an identity the auth configuration does not know,
 * or a gateway without the ACL), the request is refused (409): subscribing on behalf of an unknown identity would
 * bypass its rules.
 */
export function grantOnBehalf(
  clientId: string,
  username: string | null,
  policy: ClientPolicy | null,
  add: Readonly<Record<string, QoS>>,
  why = "the auth configuration does not know this identity",
): Record<string, QoS> {
  const who = username === null ? "anonymous" : `user '${username}'`;
  if (policy === null) {
    throw new ConflictError(`cannot determine the rules of client '${clientId}' (${who}): ${why}; nothing was subscribed`);
  }
  const granted: Record<string, QoS> = {};
  const refused: FieldError[] = [];
  for (const [filter, qos] of Object.entries(add)) {
    const q = policy.canSubscribe(filter, qos);
    if (q === null) refused.push({ pointer: "#/subscriptions", detail: `'${filter}' is refused by the client's own rules (SUBACK 0x80)` });
    else granted[filter] = q;
  }
  if (refused.length > 0) {
    const first = Object.keys(add).find((f) => !(f in granted)) ?? "";
    throw new ForbiddenError(`client '${clientId}' (${who}) may not subscribe to '${first}'${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ""}; nothing was subscribed`, refused);
  }
  return granted;
}
