/** Structural checks of user and role records, shared by every store (the REST routes validate rules further). */
import { InvalidStoreInput } from "./errors.js";
import { IDENTITY_LIMITS as L, type RoleRecord, type UserRecord } from "./identity-types.js";

const ROLE_NAME = /^[A-Za-z0-9_.:@-]+$/;

function fail(msg: string): never {
  throw new InvalidStoreInput(msg);
}

export function checkUsername(username: string): void {
  if (typeof username !== "string" || username.length === 0) fail("username must be a non-empty string");
  if (Buffer.byteLength(username) > L.maxUsernameBytes) fail(`username must be at most ${L.maxUsernameBytes} bytes`);
  if (username.includes("\0")) fail("username must not contain U+0000");
}

export function checkRoleName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length > L.maxRoleNameLength || !ROLE_NAME.test(name)) {
    fail(`role name must be 1..${L.maxRoleNameLength} letters, digits, '_', '.', ':', '@' or '-'`);
  }
}

function checkTime(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer`);
}

function strings(v: unknown, what: string): void {
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s.length === 0)) fail(`${what} must be a list of non-empty strings`);
}

export function checkUser(user: UserRecord): void {
  checkUsername(user.username);
  if (typeof user.passwordHash !== "string" || user.passwordHash.length === 0 || user.passwordHash.length > L.maxHashLength) {
    fail(`passwordHash must be 1..${L.maxHashLength} characters`);
  }
  const p = user.clientIdPattern;
  if (p !== null && (typeof p !== "string" || p.length === 0 || p.length > L.maxClientIdPatternLength)) {
    fail(`clientIdPattern must be null or 1..${L.maxClientIdPatternLength} characters`);
  }
  strings(user.roles, "roles");
  if (user.roles.length > L.maxRolesPerUser) fail(`a user has at most ${L.maxRolesPerUser} roles`);
  user.roles.forEach(checkRoleName);
  if (typeof user.disabled !== "boolean") fail("disabled must be a boolean");
  checkTime(user.createdAt, "createdAt");
  checkTime(user.updatedAt, "updatedAt");
}

export function checkRole(role: RoleRecord): void {
  checkRoleName(role.name);
  checkTime(role.updatedAt, "updatedAt");
  const a = role.allow;
  const d = role.deny;
  if (typeof a !== "object" || a === null || typeof d !== "object" || d === null) fail("allow and deny must be objects");
  strings(a.publish, "allow.publish");
  strings(d.publish, "deny.publish");
  strings(d.subscribe, "deny.subscribe");
  if (!Array.isArray(a.subscribe)) fail("allow.subscribe must be a list");
  for (const e of a.subscribe) {
    const ok = typeof e === "string" ? e.length > 0 : typeof e === "object" && e !== null && typeof e.filter === "string" && e.filter.length > 0;
    if (!ok) fail("allow.subscribe entries must be topic filters or { filter, maxQos }");
  }
  const n = a.publish.length + a.subscribe.length + d.publish.length + d.subscribe.length;
  if (n > L.maxRulesPerRole) fail(`a role has at most ${L.maxRulesPerRole} patterns, got ${n}`);
}

export function checkSince(since: number): void {
  if (!Number.isSafeInteger(since) || since < 0) fail("since must be a non-negative integer");
}
