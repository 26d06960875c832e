import type { IdempotencyBegin, IdempotencyStore } from "./idempotency-types.js";
import type { Identity, IdentityChanges, IdentityStore, RoleRecord, UserRecord } from "./identity-types.js";
import type { TakenWill, WillOps, WillRecord } from "./will-types.js";

/**
 * The parts of a store that live in classes of their own (users and roles, wills, idempotency records), with the
 * Store methods that hand each call to its part, written once for every store: MemoryStore and RedisStore give
 * their own parts (`MemoryWills` / `RedisWills`, ...) and implement the rest of the Store themselves.
 */
export abstract class StoreParts implements IdentityStore, WillOps, IdempotencyStore {
  protected abstract readonly identities: IdentityStore;
  protected abstract readonly wills: WillOps;
  protected abstract readonly idempotency: IdempotencyStore;

  // users and roles (issue 15)
  putUser(user: UserRecord): Promise<void> {
    return this.identities.putUser(user);
  }

  getUser(username: string): Promise<UserRecord | null> {
    return this.identities.getUser(username);
  }

  listUsers(opts: { cursor?: string | null; limit: number }): Promise<{ items: UserRecord[]; cursor: string | null }> {
    return this.identities.listUsers(opts);
  }

  deleteUser(username: string): Promise<boolean> {
    return this.identities.deleteUser(username);
  }

  putRole(role: RoleRecord): Promise<void> {
    return this.identities.putRole(role);
  }

  getRole(name: string): Promise<RoleRecord | null> {
    return this.identities.getRole(name);
  }

  listRoles(): Promise<RoleRecord[]> {
    return this.identities.listRoles();
  }

  deleteRole(name: string): Promise<boolean> {
    return this.identities.deleteRole(name);
  }

  getIdentity(username: string): Promise<Identity | null> {
    return this.identities.getIdentity(username);
  }

  identityChanges(since: number): Promise<IdentityChanges> {
    return this.identities.identityChanges(since);
  }

  // wills (decision 019)
  putWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<void> {
    return this.wills.putWill(clientId, epoch, node, will);
  }

  replaceWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<boolean> {
    return this.wills.replaceWill(clientId, epoch, node, will);
  }

  clearWill(clientId: string, epoch: number, node: string): Promise<boolean> {
    return this.wills.clearWill(clientId, epoch, node);
  }

  takeWill(clientId: string, epoch: number, node: string): Promise<WillRecord | null> {
    return this.wills.takeWill(clientId, epoch, node);
  }

  takeWillsOf(node: string, limit: number, upTo?: number): Promise<TakenWill[]> {
    return this.wills.takeWillsOf(node, limit, upTo);
  }

  // idempotency records of REST publishes (decision 022)
  beginIdempotent(scope: string, key: string, fingerprint: string, pendingMs: number): Promise<IdempotencyBegin> {
    return this.idempotency.beginIdempotent(scope, key, fingerprint, pendingMs);
  }

  finishIdempotent(scope: string, key: string, fingerprint: string, token: string, answer: string, ttlMs: number): Promise<boolean> {
    return this.idempotency.finishIdempotent(scope, key, fingerprint, token, answer, ttlMs);
  }

  abandonIdempotent(scope: string, key: string, fingerprint: string, token: string): Promise<void> {
    return this.idempotency.abandonIdempotent(scope, key, fingerprint, token);
  }
}
