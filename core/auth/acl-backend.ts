/**
 * The ACL file as a chain backend (docs/auth.md, "The chain"). The file owns the user names it lists: a wrong
 * password for one of them is refused here (0x04), never passed on. A user name the file does not list, and an
 * anonymous client when the file does not allow anonymous clients, are "not mine" (next): a later backend (the
 * store, a JWT...) may know them. Alone in the chain, an unknown user still ends in 0x04 (the chain's end).
 */
import type { AuthBackend, AuthRequest, BackendVerdict } from "./backend.js";
import type { Auth, ClientInfo, ClientPolicy } from "./types.js";

export function aclBackend(acl: Auth): AuthBackend {
  const knows = (client: ClientInfo): boolean => (acl.policyFor?.(client) ?? null) !== null;
  return Object.freeze({
    name: "acl",
    async authenticate(request: AuthRequest, password: Buffer | undefined, signal?: AbortSignal): Promise<BackendVerdict> {
      if (!knows(request)) return { kind: "next" };
      const d = await acl.connect(request, password, signal);
      return d.ok ? { kind: "allow", policy: d.policy } : { kind: "deny", returnCode: d.returnCode, reason: d.reason };
    },
    policyFor(client: ClientInfo): ClientPolicy | undefined {
      return acl.policyFor?.(client) ?? undefined;
    },
  });
}

/**
 * Development: everyone is allowed everything. Only useful last in a chain (the config refuses it elsewhere). Its
 * "allow" is not cached (`cacheMs: 0`): asking again costs nothing, and a cached entry costs about 200 bytes per
 * client (entry, key and table slot; decision 052).
 */
export function allowAllBackend(allowAll: Auth): AuthBackend {
  return Object.freeze({
    name: "allow-all",
    async authenticate(request: AuthRequest, password: Buffer | undefined): Promise<BackendVerdict> {
      const d = await allowAll.connect(request, password);
      return d.ok ? { kind: "allow", policy: d.policy, cacheMs: 0 } : { kind: "deny", returnCode: d.returnCode, reason: d.reason };
    },
    policyFor: (client: ClientInfo): ClientPolicy | null | undefined => allowAll.policyFor?.(client),
  });
}
