import { compareUtf8, decodeCursor, encodeCursor } from "./codec.js";
import {
  IDENTITY_LOG_MAX, type Identity, type IdentityChanges, type IdentityStore, type RoleRecord, type UserRecord,
} from "./identity-types.js";
import * as check from "./identity-validate.js";
import { SortedKeys } from "./sorted.js";
import { checkLimit } from "./validate.js";

/** Users and roles of the memory store: same semantics as the Redis scripts (contract suite). */
export class MemoryIdentities implements IdentityStore {
  private readonly users = new Map<string, UserRecord>();
  private readonly userNames = new SortedKeys();
  private readonly roles = new Map<string, RoleRecord>();
  private version = 0;
  /** Change log, oldest first: "u:<name>" / "r:<name>", the last entry written at `version`. */
  private readonly log: string[] = [];

  private changed(entry: string): void {
    this.version++;
    this.log.push(entry);
    if (this.log.length > IDENTITY_LOG_MAX) this.log.splice(0, this.log.length - IDENTITY_LOG_MAX);
  }

  async putUser(user: UserRecord): Promise<void> {
    check.checkUser(user);
    this.users.set(user.username, structuredClone(user));
    this.userNames.add(user.username);
    this.changed(`u:${user.username}`);
  }

  async getUser(username: string): Promise<UserRecord | null> {
    check.checkUsername(username);
    const u = this.users.get(username);
    return u === undefined ? null : structuredClone(u);
  }

  async listUsers(opts: { cursor?: string | null; limit: number }): Promise<{ items: UserRecord[]; cursor: string | null }> {
    checkLimit(opts.limit);
    const names = this.userNames.after(decodeCursor(opts.cursor), opts.limit + 1);
    const more = names.length > opts.limit;
    const items = names.slice(0, opts.limit).map((n) => structuredClone(this.users.get(n) as UserRecord));
    return { items, cursor: more ? encodeCursor(items[items.length - 1]!.username) : null };
  }

  async deleteUser(username: string): Promise<boolean> {
    check.checkUsername(username);
    if (!this.users.delete(username)) return false;
    this.userNames.delete(username);
    this.changed(`u:${username}`);
    return true;
  }

  async putRole(role: RoleRecord): Promise<void> {
    check.checkRole(role);
    this.roles.set(role.name, structuredClone(role));
    this.changed(`r:${role.name}`);
  }

  async getRole(name: string): Promise<RoleRecord | null> {
    check.checkRoleName(name);
    const r = this.roles.get(name);
    return r === undefined ? null : structuredClone(r);
  }

  async listRoles(): Promise<RoleRecord[]> {
    return [...this.roles.values()].map((r) => structuredClone(r)).sort((a, b) => compareUtf8(a.name, b.name));
  }

  async deleteRole(name: string): Promise<boolean> {
    check.checkRoleName(name);
    if (!this.roles.delete(name)) return false;
    this.changed(`r:${name}`);
    return true;
  }

  async getIdentity(username: string): Promise<Identity | null> {
    check.checkUsername(username);
    const u = this.users.get(username);
    if (u === undefined) return null;
    const roles: RoleRecord[] = [];
    for (const name of u.roles) {
      const r = this.roles.get(name);
      if (r !== undefined) roles.push(structuredClone(r));
    }
    return { user: structuredClone(u), roles };
  }

  async identityChanges(since: number): Promise<IdentityChanges> {
    check.checkSince(since);
    return changesFrom(this.version, since, (n) => this.log.slice(this.log.length - n));
  }
}

/** Shared by both stores: the changes after `since` from the newest `n` log entries. */
export function changesFrom(version: number, since: number, newest: (n: number) => readonly string[]): IdentityChanges {
  if (since === version) return { version, users: [], roles: [], complete: true };
  if (since > version || version - since > IDENTITY_LOG_MAX) return { version, users: [], roles: [], complete: false };
  const users = new Set<string>();
  const roles = new Set<string>();
  for (const e of newest(version - since)) (e.startsWith("u:") ? users : roles).add(e.slice(2));
  return { version, users: [...users], roles: [...roles], complete: true };
}
