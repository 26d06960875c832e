/**
 * Users and roles in the store (issue 15): the identities the `store` auth backend reads, managed over REST
 * (/v1/users, /v1/roles) and the CLI (`npm run users`). See docs/auth.md, "Users and roles in the store".
 */

/** A role's rules: the ACL file's `allow` / `deny` form and semantics (core/auth/rules.ts). */
export interface RoleRules {
  allow: { publish: string[]; subscribe: (string | { filter: string; maxQos?: 0 | 1 | 2 })[] };
  deny: { publish: string[]; subscribe: string[] };
}

export interface RoleRecord extends RoleRules {
  name: string;
  /** Epoch ms of the last write. */
  updatedAt: number;
}

export interface UserRecord {
  username: string;
  /** Encoded password hash (`scrypt$...`, or what `parsePasswordHash` accepts). Never a password. */
  passwordHash: string;
  /**
   * Client ids this user may connect with: exact text, `*` = any run of characters, `%u` = the user name
   * (e.g. "%u-*"). Null = any client id.
   */
  clientIdPattern: string | null;
  /** Role names, in the order given; a role that does not exist contributes nothing. */
  roles: string[];
  /** A disabled user is refused at CONNECT (0x05) and its live connections are closed. */
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** A user with the roles it names that exist, read in one round trip (CONNECT). */
export interface Identity {
  user: UserRecord;
  roles: RoleRecord[];
}

/**
 * What changed since a version (`identityChanges`). Every user or role write bumps the version by one and logs
 * the name; the log keeps the most recent IDENTITY_LOG_MAX entries. `complete` false: `since` is older than the
 * log (or from before a store reset), so the caller must treat every identity as changed.
 */
export interface IdentityChanges {
  version: number;
  users: string[];
  roles: string[];
  complete: boolean;
}

/** Entries kept in the identity change log. */
export const IDENTITY_LOG_MAX = 1000;
/** Bounds checked by every store (core/store/identity-validate.ts). */
export const IDENTITY_LIMITS = Object.freeze({
  maxUsernameBytes: 1024,
  maxRoleNameLength: 128,
  maxRolesPerUser: 64,
  maxRulesPerRole: 1000,
  maxHashLength: 1024,
  maxClientIdPatternLength: 1024,
});

export interface IdentityStore {
  /** Creates or replaces a user. */
  putUser(user: UserRecord): Promise<void>;
  getUser(username: string): Promise<UserRecord | null>;
  /** Users in byte order of their names. */
  listUsers(opts: { cursor?: string | null; limit: number }): Promise<{ items: UserRecord[]; cursor: string | null }>;
  deleteUser(username: string): Promise<boolean>;
  /** Creates or replaces a role. */
  putRole(role: RoleRecord): Promise<void>;
  getRole(name: string): Promise<RoleRecord | null>;
  /** Every role, by name. */
  listRoles(): Promise<RoleRecord[]>;
  deleteRole(name: string): Promise<boolean>;
  /** The user and its existing roles (one round trip), or null for an unknown user. */
  getIdentity(username: string): Promise<Identity | null>;
  /** The identity version and the users / roles changed after `since` (cheap when nothing changed). */
  identityChanges(since: number): Promise<IdentityChanges>;
}
