/**
 * `npm run users -- <command>`: users and roles of the `store` auth backend, against the configured store
 * (MQGATE_REDIS_URL; without it an in-memory store that ends with the command, which is only useful for trying).
 * scripts/users.ts wires it to the process; tests call it directly. Passwords are read from stdin
 * (`--password-stdin`), never from the command line (it shows in `ps` and shell history).
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { hashPassword } from "../../core/auth/password.js";
import { parseRoleRules } from "../../core/auth/role-schema.js";
import type { RoleRules, UserRecord } from "../../core/store/identity-types.js";
import type { Store } from "../../core/store/types.js";
import { importAclFile, importDynsec, importPasswordFile, type ImportPlan, usableHash } from "./identity-import.js";

export const USERS_USAGE = `usage:
  npm run users -- add USER (--password-stdin | --hash HASH) [--roles R1,R2] [--client-id PATTERN] [--disabled]
  npm run users -- passwd USER (--password-stdin | --hash HASH)
  npm run users -- set USER [--roles R1,R2] [--client-id PATTERN | --any-client-id] [--disabled | --enabled]
  npm run users -- remove USER
  npm run users -- list [--json]
  npm run users -- role-set NAME [--allow-publish P]... [--allow-subscribe F]... [--deny-publish P]... [--deny-subscribe F]... | --json RULES
  npm run users -- role-remove NAME
  npm run users -- role-list [--json]
  npm run users -- import FILE --format acl|passwd|dynsec [--roles R1,R2] [--dry-run]`;

export interface UsersIo {
  store: Store;
  /** The password for --password-stdin (the first line of stdin). */
  readPassword(): Promise<string>;
  out(line: string): void;
  err(line: string): void;
  now?: () => number;
}

class UsageError extends Error {}

export async function runUsersCommand(argv: readonly string[], io: UsersIo): Promise<number> {
  const [command, ...rest] = argv;
  const now = io.now ?? Date.now;
  try {
    switch (command) {
      case "add":
      case "passwd":
      case "set":
        return await writeUser(command, rest, io, now());
      case "remove": {
        const name = one(rest, "USER");
        if (!(await io.store.deleteUser(name))) throw new Error(`no user ${JSON.stringify(name)}`);
        io.out(`removed user ${name}`);
        return 0;
      }
      case "list":
        return await listUsers(rest, io);
      case "role-set":
        return await roleSet(rest, io, now());
      case "role-remove": {
        const name = one(rest, "NAME");
        if (!(await io.store.deleteRole(name))) throw new Error(`no role ${JSON.stringify(name)}`);
        io.out(`removed role ${name}`);
        return 0;
      }
      case "role-list": {
        const { values } = parseArgs({ args: [...rest], options: { json: { type: "boolean" } }, strict: true });
        const roles = await io.store.listRoles();
        if (values.json === true) io.out(JSON.stringify(roles, null, 2));
        else for (const r of roles) io.out(`${r.name}\tallow ${JSON.stringify(r.allow)}\tdeny ${JSON.stringify(r.deny)}`);
        return 0;
      }
      case "import":
        return await importFile(rest, io, now());
      case undefined:
      case "-h":
      case "--help":
      case "help":
        io.err(USERS_USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    io.err(`users: ${(err as Error).message}${usage ? `\n${USERS_USAGE}` : ""}`);
    return usage ? 2 : 1;
  }
}

function one(args: readonly string[], what: string): string {
  const { positionals } = parseArgs({ args: [...args], strict: true, allowPositionals: true });
  if (positionals.length !== 1 || positionals[0] === "") throw new UsageError(`expected one ${what}`);
  return positionals[0]!;
}

function roleList(s: string | undefined): string[] | undefined {
  return s === undefined ? undefined : s.split(",").map((r) => r.trim()).filter((r) => r !== "");
}

async function writeUser(command: "add" | "passwd" | "set", args: readonly string[], io: UsersIo, now: number): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      "password-stdin": { type: "boolean" },
      hash: { type: "string" },
      roles: { type: "string" },
      "client-id": { type: "string" },
      "any-client-id": { type: "boolean" },
      disabled: { type: "boolean" },
      enabled: { type: "boolean" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("expected one USER");
  const name = positionals[0]!;
  const wantsPassword = command !== "set";
  if (wantsPassword && values["password-stdin"] !== true && values.hash === undefined) throw new UsageError("give --password-stdin or --hash");
  if (!wantsPassword && (values["password-stdin"] === true || values.hash !== undefined)) throw new UsageError("'set' does not change the password: use 'passwd'");
  if (values["password-stdin"] === true && values.hash !== undefined) throw new UsageError("give either --password-stdin or --hash");
  let passwordHash: string | undefined;
  if (values.hash !== undefined) {
    const bad = usableHash(values.hash);
    if (bad !== null) throw new Error(`--hash: ${bad}`);
    passwordHash = values.hash;
  } else if (values["password-stdin"] === true) {
    const password = await io.readPassword();
    if (password === "") throw new Error("empty password on stdin");
    passwordHash = await hashPassword(password);
  }
  const old = await io.store.getUser(name);
  if (command === "add" && old !== null) throw new Error(`user ${JSON.stringify(name)} exists: use 'passwd' or 'set'`);
  if (command !== "add" && old === null) throw new Error(`no user ${JSON.stringify(name)}`);
  const base: UserRecord = old ?? { username: name, passwordHash: "", clientIdPattern: null, roles: [], disabled: false, createdAt: now, updatedAt: now };
  const roles = roleList(values.roles);
  const next: UserRecord = {
    ...base,
    ...(passwordHash !== undefined ? { passwordHash } : {}),
    ...(roles !== undefined ? { roles } : {}),
    ...(values["client-id"] !== undefined ? { clientIdPattern: values["client-id"] } : {}),
    ...(values["any-client-id"] === true ? { clientIdPattern: null } : {}),
    ...(values.disabled === true ? { disabled: true } : {}),
    ...(values.enabled === true ? { disabled: false } : {}),
    updatedAt: now,
  };
  await io.store.putUser(next);
  io.out(`${command === "add" ? "added" : "updated"} user ${name}${next.roles.length > 0 ? ` (roles ${next.roles.join(", ")})` : ""}${next.disabled ? " (disabled)" : ""}`);
  return 0;
}

async function listUsers(args: readonly string[], io: UsersIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" } }, strict: true });
  const all: Omit<UserRecord, "passwordHash">[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: UserRecord[]; cursor: string | null } = await io.store.listUsers({ cursor, limit: 500 });
    for (const { passwordHash: _hidden, ...u } of page.items) all.push(u);
    cursor = page.cursor;
  } while (cursor !== null);
  if (values.json === true) io.out(JSON.stringify(all, null, 2));
  else for (const u of all) io.out(`${u.username}\troles=${u.roles.join(",")}\tclient-id=${u.clientIdPattern ?? "*"}${u.disabled ? "\tdisabled" : ""}`);
  return 0;
}

async function roleSet(args: readonly string[], io: UsersIo, now: number): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      "allow-publish": { type: "string", multiple: true },
      "allow-subscribe": { type: "string", multiple: true },
      "deny-publish": { type: "string", multiple: true },
      "deny-subscribe": { type: "string", multiple: true },
      json: { type: "string" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("expected one NAME");
  const input: unknown =
    values.json !== undefined
      ? JSON.parse(values.json)
      : {
          allow: { publish: values["allow-publish"] ?? [], subscribe: values["allow-subscribe"] ?? [] },
          deny: { publish: values["deny-publish"] ?? [], subscribe: values["deny-subscribe"] ?? [] },
        };
  const parsed = parseRoleRules(input);
  if (!parsed.ok) throw new Error(`invalid rules:\n${parsed.issues.map((i) => `  - ${i.path === "" ? "" : `${i.path}: `}${i.message}`).join("\n")}`);
  const rules: RoleRules = parsed.rules;
  await io.store.putRole({ name: positionals[0]!, ...rules, updatedAt: now });
  io.out(`set role ${positionals[0]!}`);
  return 0;
}

async function importFile(args: readonly string[], io: UsersIo, now: number): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { format: { type: "string" }, roles: { type: "string" }, "dry-run": { type: "boolean" } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("expected one FILE");
  const path = positionals[0]!;
  const text = await readFile(path, "utf8");
  let plan: ImportPlan;
  switch (values.format) {
    case "acl":
      plan = importAclFile(text, path, now);
      break;
    case "passwd":
      plan = importPasswordFile(text, roleList(values.roles) ?? [], now);
      break;
    case "dynsec":
      plan = importDynsec(text, now);
      break;
    default:
      throw new UsageError("--format must be acl, passwd or dynsec");
  }
  for (const w of plan.warnings) io.err(`warning: ${w}`);
  if (plan.errors.length > 0) {
    io.err(`users: nothing imported from ${path} (${plan.errors.length} problem${plan.errors.length === 1 ? "" : "s"}):\n${plan.errors.map((e) => `  - ${e}`).join("\n")}`);
    return 1;
  }
  if (values["dry-run"] !== true) {
    // Roles first: a user never points at a role that is not there yet.
    for (const r of plan.roles) await io.store.putRole(r);
    for (const u of plan.users) await io.store.putUser(u);
  }
  io.out(`${values["dry-run"] === true ? "would import" : "imported"} ${plan.users.length} user(s) and ${plan.roles.length} role(s) from ${path}`);
  return 0;
}
