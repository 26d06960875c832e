import type { ClientInfo, ConnectDecision } from "./types.js";

/**
 * Who a client is, for session ownership (docs/security.md, "Sessions and identities"): `user:<name>` for a client
 * that gave a user name, `anonymous` for one that did not. An authenticator that knows better (a certificate
 * subject, later) returns `identity` in its decision (`cert:<subject>`), and that wins. The prefixes keep the kinds
 * apart: a user named "anonymous" is `user:anonymous`.
 */
export function clientIdentity(client: Pick<ClientInfo, "username">): string {
  return client.username === undefined ? ANONYMOUS : `user:${client.username}`;
}

export const ANONYMOUS = "anonymous";

/** Who an accepting decision says the client is: the authenticator's identity when it gave one, else `clientIdentity`. */
export function decidedIdentity(decision: Extract<ConnectDecision, { ok: true }>, client: Pick<ClientInfo, "username">): string {
  return decision.identity ?? clientIdentity(client);
}

/**
 * `auth.clientIdPattern`: the client ids a user may use. `%u` stands for the user name, `*` for any run of
 * characters (also none), `%%` for a literal `%`; everything else is literal. A pattern with `%u` matches no
 * anonymous client. Returns a matcher for (clientId, username).
 */
export function compileClientIdPattern(pattern: string): (clientId: string, username: string | undefined) => boolean {
  const problem = clientIdPatternProblem(pattern);
  if (problem !== null) throw new Error(`auth.clientIdPattern ${problem}`);
  const needsUser = /%u/.test(pattern.replace(/%%/g, ""));
  // Literal pieces between the `*`s, with %u left as a marker to substitute per client.
  const pieces = pattern.split("*");
  return (clientId, username) => {
    if (needsUser && username === undefined) return false;
    const parts = pieces.map((p) => p.replace(/%(%|u)/g, (_m, c: string) => (c === "%" ? "%" : (username as string))));
    return globMatch(parts, clientId);
  };
}

/** Why `pattern` is not a valid client id pattern, or null. */
export function clientIdPatternProblem(pattern: string): string | null {
  if (pattern.length === 0) return "must not be empty";
  if (/%(?![u%])/.test(pattern.replace(/%%/g, ""))) return "may only use %u (user name) and %% (a literal %)";
  return null;
}

/** `parts` are the literal pieces of a pattern split at `*`: the text must start with the first, end with the last. */
function globMatch(parts: string[], text: string): boolean {
  if (parts.length === 1) return parts[0] === text;
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let pos = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] as string;
    const at = text.indexOf(part, pos);
    if (at === -1 || at + part.length > end) return false;
    pos = at + part.length;
  }
  return true;
}
