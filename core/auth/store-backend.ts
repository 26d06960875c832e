/**
 * Users and roles in the store as a chain backend ("store"; docs/auth.md, "Users and roles in the store").
 *
 * CONNECT: one store read (`getIdentity`: the user and its roles), then the password against the stored hash.
 * An unknown user name, and a client without user name, are "not mine" (next). A known user: disabled -> 0x05,
 * client id outside its pattern -> 0x05, no or wrong password -> 0x04, else allowed with the rules of its roles
 * (ACL file semantics: deny wins, nothing allowed = refused, %c / %u substituted).
 *
 * Identities read recently are kept (bounded) so `policyFor` (REST acting for an offline client, synchronous)
 * can answer for them; `revalidate` re-reads one for a live connection after a change (broker/identity-sync.ts).
 */
import type { Identity, IdentityStore } from "../store/identity-types.js";
import type { AuthBackend, AuthRequest, BackendVerdict } from "./backend.js";
import { clientIdMatches } from "./client-id-pattern.js";
import { addressKey } from "./address.js";
import { checkUsername } from "../store/identity-validate.js";
import { parseStoredHash } from "./password.js";
import type { PasswordVerifier } from "./verifier.js";
import { policyFromRules } from "./rules.js";
import type { ClientInfo, ClientPolicy } from "./types.js";

/** Identities remembered for `policyFor`. */
const KNOWN_MAX = 10_000;

export interface StoreAuthBackend extends AuthBackend {
  readonly name: "store";
  /** Forgets remembered identities (after they changed in the store); no argument = all. */
  forget(usernames?: Iterable<string>): void;
  /**
   * The policy a live client of `username` has now, or null when it may no longer be connected (user deleted or
   * disabled, client id outside its pattern). Reads the store.
   */
  revalidate(clientId: string, username: string): Promise<ClientPolicy | null>;
  /** The user name a policy this backend handed out belongs to, or undefined for another backend's policy. */
  userOf(policy: ClientPolicy): string | undefined;
  /** `policyFor` after reading the user from the store: undefined = not a store user (next backend). */
  resolve(client: ClientInfo): Promise<ClientPolicy | null | undefined>;
}

/** `verifier`: the node's password checks (fair queue and cache, decision 010); every store user's check goes through it. */
export function createStoreBackend(deps: { store: IdentityStore; verifier: PasswordVerifier }): StoreAuthBackend {
  const store = deps.store;
  const known = new Map<string, Identity>();
  const owners = new WeakMap<ClientPolicy, string>();

  function remember(username: string, identity: Identity | null): void {
    known.delete(username);
    if (identity === null) return;
    if (known.size >= KNOWN_MAX) known.delete(known.keys().next().value as string);
    known.set(username, identity);
  }

  function refusal(identity: Identity, clientId: string): string | null {
    if (identity.user.disabled) return `user ${JSON.stringify(identity.user.username)} is disabled`;
    const p = identity.user.clientIdPattern;
    if (p !== null && !clientIdMatches(p, clientId, identity.user.username)) {
      return `client id ${JSON.stringify(clientId)} is not allowed for user ${JSON.stringify(identity.user.username)}`;
    }
    return null;
  }

  function policyOf(identity: Identity, clientId: string): ClientPolicy {
    const policy = policyFromRules(identity.roles, clientId, identity.user.username);
    owners.set(policy, identity.user.username);
    return policy;
  }

  return {
    name: "store",
    async authenticate(request: AuthRequest, password: Buffer | undefined, signal?: AbortSignal): Promise<BackendVerdict> {
      const { username, clientId } = request;
      if (username === undefined) return { kind: "next" };
      // A user name the store cannot hold (empty, over its length limit) is not a store user: the next backend's.
      if (!storableUsername(username)) return { kind: "next" };
      const identity = await store.getIdentity(username);
      remember(username, identity);
      if (identity === null) return { kind: "next" };
      const refused = refusal(identity, clientId);
      if (refused !== null) return { kind: "deny", returnCode: 5, reason: refused };
      if (password === undefined) return { kind: "deny", returnCode: 4, reason: `no password for user ${JSON.stringify(username)}` };
      let stored;
      try {
        stored = parseStoredHash(identity.user.passwordHash);
      } catch (err) {
        return { kind: "deny", returnCode: 4, reason: `unusable password hash for user ${JSON.stringify(username)}: ${(err as Error).message}` };
      }
      // AuthBusyError / AuthCancelledError propagate: the CONNECT handler answers 0x03 (or nothing: the client left).
      const ok = await deps.verifier.verify(username, password, stored, addressKey(request.remoteAddress ?? "unknown"), signal);
      if (!ok) return { kind: "deny", returnCode: 4, reason: `wrong password for user ${JSON.stringify(username)}` };
      return { kind: "allow", policy: policyOf(identity, clientId), identity: username };
    },
    policyFor(client: ClientInfo): ClientPolicy | null | undefined {
      if (client.username === undefined) return undefined;
      const identity = known.get(client.username);
      if (identity === undefined) return undefined;
      return refusal(identity, client.clientId) === null ? policyOf(identity, client.clientId) : null;
    },
    forget(usernames?: Iterable<string>): void {
      if (usernames === undefined) known.clear();
      else for (const u of usernames) known.delete(u);
    },
    async revalidate(clientId: string, username: string): Promise<ClientPolicy | null> {
      const identity = await store.getIdentity(username);
      remember(username, identity);
      if (identity === null || refusal(identity, clientId) !== null) return null;
      return policyOf(identity, clientId);
    },
    userOf(policy: ClientPolicy): string | undefined {
      return owners.get(policy);
    },
    async resolve(client: ClientInfo): Promise<ClientPolicy | null | undefined> {
      if (client.username === undefined || !storableUsername(client.username)) return undefined;
      const identity = await store.getIdentity(client.username);
      remember(client.username, identity);
      if (identity === null) return undefined;
      return refusal(identity, client.clientId) === null ? policyOf(identity, client.clientId) : null;
    },
  };
}

/** Whether the store can hold this user name (its validation would throw otherwise). */
function storableUsername(username: string): boolean {
  try {
    checkUsername(username);
    return true;
  } catch {
    return false;
  }
}
