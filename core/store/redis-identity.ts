import { compareUtf8, decodeCursor, encodeCursor } from "./codec.js";
import { StoreDataError } from "./errors.js";
import type { Identity, IdentityChanges, IdentityStore, RoleRecord, UserRecord } from "./identity-types.js";
import * as check from "./identity-validate.js";
import { IDENTITY_KEYS } from "./keys.js";
import { changesFrom } from "./memory-identity.js";
import { asArray, asInt, asString } from "./redis-replies.js";
import * as S from "./scripts-identity.js";
import type { RedisClient } from "./transport.js";
import { checkLimit } from "./validate.js";

const [USERS_KEY, NAMES_KEY, ROLES_KEY] = IDENTITY_KEYS as [string, string, string];

function encodeUser(u: UserRecord): string {
  return `${u.roles.join(",")} ${JSON.stringify(u)}`;
}

function decodeUser(v: unknown): UserRecord {
  const s = asString(v, "user");
  const i = s.indexOf(" ");
  try {
    return JSON.parse(s.slice(i + 1)) as UserRecord;
  } catch {
    throw new StoreDataError("unreadable user record");
  }
}

function decodeRole(v: unknown): RoleRecord {
  try {
    return JSON.parse(asString(v, "role")) as RoleRecord;
  } catch {
    throw new StoreDataError("unreadable role record");
  }
}

/** Users and roles on Redis (either transport): keys in keys.ts (IDENTITY_KEYS), scripts in scripts-identity.ts. */
export class RedisIdentities implements IdentityStore {
  constructor(private readonly client: RedisClient) {}

  async putUser(user: UserRecord): Promise<void> {
    check.checkUser(user);
    await this.client.eval(S.USER_PUT, IDENTITY_KEYS, [user.username, encodeUser(user)]);
  }

  async getUser(username: string): Promise<UserRecord | null> {
    check.checkUsername(username);
    const v = await this.client.command(["HGET", USERS_KEY, username]);
    return v === null ? null : decodeUser(v);
  }

  async listUsers(opts: { cursor?: string | null; limit: number }): Promise<{ items: UserRecord[]; cursor: string | null }> {
    checkLimit(opts.limit);
    const after = decodeCursor(opts.cursor);
    const min = after === null ? "-" : `(${after}`;
    const names = asArray(await this.client.command(["ZRANGEBYLEX", NAMES_KEY, min, "+", "LIMIT", "0", String(opts.limit + 1)]), "ZRANGEBYLEX")
      .map((n) => asString(n, "username"));
    const more = names.length > opts.limit;
    const page = names.slice(0, opts.limit);
    if (page.length === 0) return { items: [], cursor: null };
    const values = asArray(await this.client.command(["HMGET", USERS_KEY, ...page]), "HMGET");
    const items = values.filter((v) => v !== null).map(decodeUser);
    return { items, cursor: more ? encodeCursor(page[page.length - 1]!) : null };
  }

  async deleteUser(username: string): Promise<boolean> {
    check.checkUsername(username);
    return asInt(await this.client.eval(S.USER_DELETE, IDENTITY_KEYS, [username]), "delete") === 1;
  }

  async putRole(role: RoleRecord): Promise<void> {
    check.checkRole(role);
    await this.client.eval(S.ROLE_PUT, IDENTITY_KEYS, [role.name, JSON.stringify(role)]);
  }

  async getRole(name: string): Promise<RoleRecord | null> {
    check.checkRoleName(name);
    const v = await this.client.command(["HGET", ROLES_KEY, name]);
    return v === null ? null : decodeRole(v);
  }

  async listRoles(): Promise<RoleRecord[]> {
    const values = asArray(await this.client.command(["HVALS", ROLES_KEY]), "HVALS");
    return values.map(decodeRole).sort((a, b) => compareUtf8(a.name, b.name));
  }

  async deleteRole(name: string): Promise<boolean> {
    check.checkRoleName(name);
    return asInt(await this.client.eval(S.ROLE_DELETE, IDENTITY_KEYS, [name]), "delete") === 1;
  }

  async getIdentity(username: string): Promise<Identity | null> {
    check.checkUsername(username);
    const v = await this.client.eval(S.IDENTITY_GET, IDENTITY_KEYS, [username]);
    if (v === null || v === false) return null;
    const parts = asArray(v, "identity");
    const user = decodeUser(parts[0]);
    const roles = parts.slice(1).filter((r) => r !== "" && r !== null).map(decodeRole);
    return { user, roles };
  }

  async identityChanges(since: number): Promise<IdentityChanges> {
    check.checkSince(since);
    const parts = asArray(await this.client.eval(S.IDENTITY_CHANGES, IDENTITY_KEYS, [String(since)]), "changes");
    const version = asInt(parts[0], "version");
    // Entries come newest first; changesFrom wants the newest n (order does not matter for the sets).
    return changesFrom(version, since, () => parts.slice(1).map((e) => asString(e, "change")));
  }
}
