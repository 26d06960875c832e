/**
 * ACL file authentication and authorization (see docs/auth.md).
 *
 * Load time: the file is parsed (YAML, or JSON by extension), validated with zod, password
 * hashes are decoded and every user's applicable rules are collected once.
 * CONNECT: the password is checked through the node's PasswordVerifier (cache, fair bounded queue,
 * then scrypt or PBKDF2 on the libuv pool), then %c / %u are substituted and the client's patterns
 * are split into exact topics (a Set) and wildcard patterns.
 * PUBLISH / SUBSCRIBE: `ClientPolicy` walks those precompiled lists without allocating.
 *
 * Semantics:
 * - A rule applies to a client when its `users` list names the client's user, contains "*"
 *   (any authenticated user) or "$anonymous" (a client that sent no user name).
 * - Deny wins: rule order does not matter, any matching deny refuses whatever the allows say.
 *   Nothing allowed means refused.
 * - PUBLISH to a topic: allowed when an allow publish pattern matches it and no deny publish
 *   pattern does.
 * - SUBSCRIBE to a filter: allowed when an allow subscribe pattern covers the whole filter
 *   (`filterCovers`) and no deny subscribe pattern covers it. Granted QoS = min(requested,
 *   highest maxQos among the covering allows).
 * - Exact authorization of deliveries: a granted filter that overlaps deny subscribe patterns
 *   (`filtersOverlap`: some topic would match both) carries a guard over those patterns, and
 *   every message delivered through it is checked against them ("allow #, deny secrets/#"
 *   subscribing to "#" receives everything but secrets/...). A message whose topic matches a
 *   deny subscribe pattern is never delivered to the client (docs/auth.md).
 * - Substitution: %c = client id, %u = user name. A value that is empty, contains '+', '#',
 *   '/' or U+0000, or starts with '$' would give the pattern a different shape than the
 *   administrator wrote (client id "#" turning "devices/%c/#" into "devices/#/#"...), so:
 *   an allow pattern using it is dropped (does not match anything), and a deny pattern using
 *   it denies everything for that action (fail closed). %u is always unsafe for anonymous clients.
 *
 * The file format (schema, reserved user names, AclError) lives in acl-schema.ts.
 */
import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { addressKey } from "./address.js";
import { type AclDoc, AclError, type AclIssue, aclSchema, ANONYMOUS, ANY_USER, type RawIssue, toAclIssues } from "./acl-schema.js";
import { AuthBusyError, AuthCancelledError } from "./fair-queue.js";
import { decoyFor } from "./password.js";
import type { StoredHash } from "./password.js";
import { parsePasswordFile } from "./password-file.js";
import { addRule, compilePolicy, emptyRuleSet, type RuleSet } from "./rules.js";
import type { Auth, ClientInfo, ClientPolicy, ConnectDecision } from "./types.js";
import { PasswordVerifier } from "./verifier.js";

export { AclError, ANONYMOUS, ANY_USER, type AclIssue } from "./acl-schema.js";

// ---- auth ---------------------------------------------------------------------------------

interface UserEntry {
  hash: StoredHash;
  rules: RuleSet;
}

/** A user with a password: from `users`, or from the `passwordFile`. */
interface Credential {
  username: string;
  hash: StoredHash;
  /** Where it was given, for messages: "users[2]" or "passwordFile line 7". */
  where: string;
}

function crossCheck(doc: AclDoc, credentials: readonly Credential[]): AclIssue[] {
  const issues: AclIssue[] = [];
  const seen = new Map<string, string>();
  for (const c of credentials) {
    const first = seen.get(c.username);
    const path = c.where.startsWith("users[") ? `${c.where}.username` : c.where;
    if (first !== undefined) issues.push({ path, message: `duplicate user ${JSON.stringify(c.username)} (also ${first})` });
    else seen.set(c.username, c.where);
  }
  (doc.rules ?? []).forEach((r, i) => {
    r.users.forEach((name, j) => {
      if (name !== ANY_USER && name !== ANONYMOUS && !seen.has(name)) {
        issues.push({
          path: `rules[${i}].users[${j}]`,
          message: `unknown user ${JSON.stringify(name)}: not listed under users (use '*' for any authenticated user, '$anonymous' for clients without user name)`,
        });
      }
    });
  });
  return issues;
}

function refuse(returnCode: 3 | 4 | 5, reason: string): ConnectDecision {
  return { ok: false, returnCode, reason };
}

export interface AclAuthOptions {
  /** The node's password checker (queue, cache); default: one with the default limits. */
  verifier?: PasswordVerifier;
  /** Content of the file named by `passwordFile` (loadAclFile reads it). */
  passwordFile?: { path: string; text: string };
}

/**
 * ACL auth from an already parsed document (the content of the file). Throws AclError listing
 * every problem; `source` names the file in messages.
 */
export function createAclAuth(doc: unknown, source?: string, opts: AclAuthOptions = {}): Auth {
  const parsed = aclSchema.safeParse(doc);
  if (!parsed.success) throw new AclError(source, toAclIssues(parsed.error.issues as unknown as RawIssue[]));
  const acl = parsed.data;
  const credentials: Credential[] = (acl.users ?? []).map((u, i) => ({ username: u.username, hash: u.password, where: `users[${i}]` }));
  if (acl.passwordFile !== undefined) {
    if (opts.passwordFile === undefined) {
      throw new AclError(source, [{ path: "passwordFile", message: "is only read when the ACL is loaded from a file (loadAclFile)" }]);
    }
    const { entries, issues } = parsePasswordFile(opts.passwordFile.text);
    if (issues.length > 0) {
      throw new AclError(source, issues.map((i) => ({ path: `passwordFile ${opts.passwordFile!.path} line ${i.line}`, message: i.message })));
    }
    for (const e of entries) credentials.push({ username: e.username, hash: e.hash, where: `passwordFile line ${e.line}` });
  }
  const problems = crossCheck(acl, credentials);
  if (problems.length > 0) throw new AclError(source, problems);

  const rules = acl.rules ?? [];
  const users = new Map<string, UserEntry>();
  for (const c of credentials) {
    const set = emptyRuleSet();
    for (const r of rules) if (r.users.includes(ANY_USER) || r.users.includes(c.username)) addRule(set, r);
    users.set(c.username, { hash: c.hash, rules: set });
  }
  const anonymousAllowed = acl.anonymous === true;
  const anonymousRules = emptyRuleSet();
  for (const r of rules) if (r.users.includes(ANONYMOUS)) addRule(anonymousRules, r);
  const decoy = decoyFor(credentials[0]?.hash);
  const verifier = opts.verifier ?? new PasswordVerifier();

  return Object.freeze({
    name: "acl",
    async connect(client: ClientInfo, password: Buffer | undefined, signal?: AbortSignal): Promise<ConnectDecision> {
      const { clientId, username } = client;
      if (username === undefined) {
        if (!anonymousAllowed) return refuse(5, "anonymous clients are not allowed");
        if (password !== undefined) return refuse(4, "password without user name");
        return { ok: true, policy: compilePolicy(anonymousRules, clientId, undefined) };
      }
      if (password === undefined) return refuse(4, `no password for user ${JSON.stringify(username)}`);
      const user = users.get(username);
      const from = addressKey(client.remoteAddress ?? "unknown");
      let ok: boolean;
      try {
        // Unknown users wait in the same queue and pay the same hash as a wrong password (decision 010).
        ok = await verifier.verify(username, password, user?.hash ?? decoy, from, signal, user !== undefined);
      } catch (err) {
        if (err instanceof AuthBusyError || err instanceof AuthCancelledError) return refuse(3, err.message);
        throw err;
      }
      if (user === undefined) return refuse(4, `unknown user ${JSON.stringify(username)}`);
      if (!ok) return refuse(4, `wrong password for user ${JSON.stringify(username)}`);
      return { ok: true, policy: compilePolicy(user.rules, clientId, username) };
    },
    policyFor(client: ClientInfo): ClientPolicy | null {
      const { clientId, username } = client;
      if (username === undefined) return anonymousAllowed ? compilePolicy(anonymousRules, clientId, undefined) : null;
      const user = users.get(username);
      return user === undefined ? null : compilePolicy(user.rules, clientId, username);
    },
    stats: () => verifier.stats(),
  });
}

/** Parses file content by extension: .json with JSON.parse, .yaml / .yml with the YAML parser. */
function parseAclText(text: string, path: string): unknown {
  const ext = extname(path).toLowerCase();
  if (ext === ".json") {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new AclError(path, [{ path: "", message: `invalid JSON: ${(err as Error).message}` }]);
    }
  }
  if (ext === ".yaml" || ext === ".yml") {
    const doc = parseDocument(text, { prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new AclError(
        path,
        doc.errors.map((e) => ({ path: "", message: `invalid YAML: ${(e.message.split("\n")[0] ?? e.code).replace(/:$/, "")}` })),
      );
    }
    try {
      return doc.toJS() as unknown;
    } catch (err) {
      throw new AclError(path, [{ path: "", message: `invalid YAML: ${(err as Error).message}` }]);
    }
  }
  throw new AclError(path, [{ path: "", message: `unsupported file extension '${ext}': use .yaml, .yml or .json` }]);
}

/**
 * Reads, validates and compiles an ACL file, and the Mosquitto password file it names (`passwordFile`,
 * relative to the ACL file's directory). Throws AclError (with every problem found).
 */
export async function loadAclFile(path: string, verifier?: PasswordVerifier): Promise<Auth> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AclError(path, [{ path: "", message: `cannot read the file: ${(err as Error).message}` }]);
  }
  const doc = parseAclText(text, path);
  const named = (doc as { passwordFile?: unknown } | null)?.passwordFile;
  let passwordFile: AclAuthOptions["passwordFile"];
  if (typeof named === "string" && named !== "") {
    const file = resolve(dirname(path), named);
    try {
      passwordFile = { path: file, text: await readFile(file, "utf8") };
    } catch (err) {
      throw new AclError(path, [{ path: "passwordFile", message: `cannot read ${file}: ${(err as Error).message}` }]);
    }
  }
  return createAclAuth(doc, path, { ...(verifier !== undefined ? { verifier } : {}), ...(passwordFile !== undefined ? { passwordFile } : {}) });
}
