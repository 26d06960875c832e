/**
 * Imports into users and roles in the store (`npm run users -- import`; docs/auth.md, "Migrating from Mosquitto"):
 * an mqgate ACL file, a Mosquitto password file and a Mosquitto dynamic-security JSON file. Each importer returns
 * the users and roles to write plus warnings for what it could not carry over; nothing is written when a user's
 * password hash cannot be verified by mqgate (see `usableHash`).
 */
import { parseDocument } from "yaml";
import { createAclAuth } from "../../core/auth/acl.js";
import { parseStoredHash } from "../../core/auth/password.js";
import { parseRoleRules } from "../../core/auth/role-schema.js";
import type { RoleRecord, RoleRules, UserRecord } from "../../core/store/identity-types.js";

export interface ImportPlan {
  users: UserRecord[];
  roles: RoleRecord[];
  /** What was not carried over, one line each. */
  warnings: string[];
  /** Problems that stop the import (nothing is written). */
  errors: string[];
}

const ROLE_NAME = /^[A-Za-z0-9_.:@-]{1,128}$/;

function newPlan(): ImportPlan {
  return { users: [], roles: [], warnings: [], errors: [] };
}

function user(username: string, passwordHash: string, roles: string[], now: number, over: Partial<UserRecord> = {}): UserRecord {
  return { username, passwordHash, clientIdPattern: null, roles, disabled: false, createdAt: now, updatedAt: now, ...over };
}

/** Null when mqgate can verify passwords against `hash`, else why not. */
export function usableHash(hash: string): string | null {
  try {
    parseStoredHash(hash);
    return null;
  } catch (err) {
    if (hash.startsWith("$6$") || hash.startsWith("$7$")) return `an unusable Mosquitto hash (${(err as Error).message})`;
    if (hash.startsWith("$argon2")) return "an argon2 hash, which mqgate does not verify: set a new password";
    return (err as Error).message;
  }
}

function addRole(plan: ImportPlan, name: string, rules: unknown, now: number): void {
  if (!ROLE_NAME.test(name)) {
    plan.errors.push(`role name ${JSON.stringify(name)} must be 1..128 letters, digits, '_', '.', ':', '@' or '-'`);
    return;
  }
  const parsed = parseRoleRules(rules);
  if (!parsed.ok) {
    plan.errors.push(...parsed.issues.map((i) => `role ${name}: ${i.path === "" ? "" : `${i.path}: `}${i.message}`));
    return;
  }
  plan.roles.push({ name, ...parsed.rules, updatedAt: now });
}

// ---- the ACL file -----------------------------------------------------------------------------------

interface AclDocShape {
  anonymous?: boolean;
  users?: { username: string; password: string }[];
  rules?: { users: string[]; allow?: RoleRules["allow"]; deny?: RoleRules["deny"] }[];
}

/** Every rule becomes a role `<prefix>rule-<n>`; each user gets the roles of the rules naming it or '*'. */
export function importAclFile(text: string, path: string, now: number, prefix = "acl."): ImportPlan {
  const plan = newPlan();
  const doc = (path.endsWith(".json") ? JSON.parse(text) : parseDocument(text).toJS()) as unknown;
  createAclAuth(doc, path); // validates exactly like the broker (throws AclError listing every problem)
  const acl = doc as AclDocShape;
  if (acl.anonymous === true) plan.warnings.push("anonymous: true is not imported: store users always have a user name; keep the ACL file in the chain (auth.backends store,acl) for anonymous clients");
  const ruleRoles: { users: string[]; name: string }[] = [];
  (acl.rules ?? []).forEach((r, i) => {
    const name = `${prefix}rule-${i + 1}`;
    if (r.users.includes("$anonymous")) plan.warnings.push(`rules[${i}] applies to $anonymous: that part is not imported`);
    addRole(plan, name, { allow: r.allow, deny: r.deny }, now);
    ruleRoles.push({ users: r.users, name });
  });
  for (const u of acl.users ?? []) {
    const roles = ruleRoles.filter((r) => r.users.includes("*") || r.users.includes(u.username)).map((r) => r.name);
    plan.users.push(user(u.username, u.password, roles, now));
  }
  if (ruleRoles.some((r) => r.users.includes("*"))) plan.warnings.push("rules for '*' became roles given to every imported user; users created later need them too");
  return plan;
}

// ---- Mosquitto password file ------------------------------------------------------------------------

/** Lines `user:hash` (blank lines and # comments skipped); every user gets `roles`. */
export function importPasswordFile(text: string, roles: string[], now: number): ImportPlan {
  const plan = newPlan();
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const at = line.lastIndexOf(":");
    if (at <= 0) {
      plan.errors.push(`line ${i + 1}: expected 'user:hash'`);
      return;
    }
    const name = line.slice(0, at);
    const hash = line.slice(at + 1).trim();
    if (seen.has(name)) plan.errors.push(`line ${i + 1}: duplicate user ${JSON.stringify(name)}`);
    seen.add(name);
    const bad = usableHash(hash);
    if (bad !== null) plan.errors.push(`line ${i + 1} (user ${JSON.stringify(name)}): ${bad}`);
    else plan.users.push(user(name, hash, roles, now));
  });
  return plan;
}

// ---- Mosquitto dynamic security ---------------------------------------------------------------------

interface DynsecAcl {
  acltype: string;
  topic: string;
  allow: boolean;
  priority?: number;
}
interface DynsecDoc {
  clients?: { username: string; password?: string; salt?: string; iterations?: number; clientid?: string; disabled?: boolean; roles?: { rolename: string }[]; groups?: { groupname: string }[] }[];
  groups?: { groupname: string; roles?: { rolename: string }[] }[];
  roles?: { rolename: string; acls?: DynsecAcl[] }[];
  defaultACLAccess?: Record<string, boolean>;
}

/**
 * Clients become users (PBKDF2 hash as `$7$<iterations>$<salt>$<hash>`, `clientid` as an exact client-id
 * pattern, roles of their groups added), roles keep their names. ACL entries: publishClientSend -> publish;
 * subscribeLiteral / subscribePattern -> subscribe; a denied publishClientReceive -> deny subscribe (deliveries on
 * it are refused). Not mappable (warned): priorities (deny always wins here), unsubscribe entries (unsubscribing is
 * always allowed), allowed publishClientReceive (receiving follows subscribe rules), defaultACLAccess other than
 * Mosquitto's defaults, clients without password.
 */
export function importDynsec(text: string, now: number): ImportPlan {
  const plan = newPlan();
  const doc = JSON.parse(text) as DynsecDoc;
  for (const r of doc.roles ?? []) {
    const rules: RoleRules = { allow: { publish: [], subscribe: [] }, deny: { publish: [], subscribe: [] } };
    const priorities = new Set<number>();
    for (const a of r.acls ?? []) {
      priorities.add(a.priority ?? 0);
      const side = a.allow ? rules.allow : rules.deny;
      switch (a.acltype) {
        case "publishClientSend":
          side.publish.push(a.topic);
          break;
        case "subscribeLiteral":
        case "subscribePattern":
          (side.subscribe as string[]).push(a.topic);
          break;
        case "publishClientReceive":
          if (a.allow) plan.warnings.push(`role ${r.rolename}: allow publishClientReceive ${a.topic} not imported (receiving follows the subscribe rules)`);
          else rules.deny.subscribe.push(a.topic);
          break;
        case "unsubscribeLiteral":
        case "unsubscribePattern":
          plan.warnings.push(`role ${r.rolename}: ${a.acltype} ${a.topic} not imported (unsubscribing is always allowed)`);
          break;
        default:
          plan.warnings.push(`role ${r.rolename}: unknown acltype ${JSON.stringify(a.acltype)} not imported`);
      }
    }
    if (priorities.size > 1) plan.warnings.push(`role ${r.rolename}: ACL priorities are not imported; in mqgate a matching deny always wins`);
    addRole(plan, r.rolename, rules, now);
  }
  const groupRoles = new Map((doc.groups ?? []).map((g) => [g.groupname, (g.roles ?? []).map((x) => x.rolename)]));
  for (const c of doc.clients ?? []) {
    if (c.password === undefined || c.salt === undefined || c.iterations === undefined) {
      plan.warnings.push(`client ${JSON.stringify(c.username)} has no password: not imported`);
      continue;
    }
    const hash = `$7$${c.iterations}$${c.salt}$${c.password}`;
    const bad = usableHash(hash);
    if (bad !== null) {
      plan.errors.push(`client ${JSON.stringify(c.username)}: ${bad}`);
      continue;
    }
    const roles = [...new Set([...(c.roles ?? []).map((x) => x.rolename), ...(c.groups ?? []).flatMap((g) => groupRoles.get(g.groupname) ?? [])])];
    const clientIdPattern = c.clientid !== undefined && c.clientid !== "" ? c.clientid.replace(/[*]/g, "") : null;
    if (c.clientid?.includes("*") === true) plan.warnings.push(`client ${c.username}: '*' in its clientid was dropped (it is a wildcard in mqgate patterns)`);
    plan.users.push(user(c.username, hash, roles, now, { clientIdPattern, disabled: c.disabled === true }));
  }
  const defaults = doc.defaultACLAccess ?? {};
  const mosquittoDefaults: Record<string, boolean> = { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true };
  for (const [k, v] of Object.entries(defaults)) {
    if (mosquittoDefaults[k] !== v) plan.warnings.push(`defaultACLAccess.${k}=${String(v)} is not imported: mqgate refuses what no role allows`);
  }
  return plan;
}
