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
 */
import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { parseDocument } from "yaml";
import * as z from "zod";
import { DEFAULT_TOPIC_LIMITS } from "../topic/types.js";
import { validateTopicFilter } from "../topic/validate.js";
import { addressKey } from "./address.js";
import { AuthBusyError, AuthCancelledError } from "./fair-queue.js";
import { decoyFor, parseStoredHash } from "./password.js";
import type { StoredHash } from "./password.js";
import { parsePasswordFile } from "./password-file.js";
import { addRule, compilePolicy, emptyRuleSet, type RuleSet } from "./rules.js";
import type { Auth, ClientInfo, ClientPolicy, ConnectDecision } from "./types.js";
import { PasswordVerifier } from "./verifier.js";

/** In a rule's `users`: any client that authenticated with a user name. */
export const ANY_USER = "*";
/** In a rule's `users`: clients that connected without a user name (needs `anonymous: true`). */
export const ANONYMOUS = "$anonymous";

// ---- errors -------------------------------------------------------------------------------

export interface AclIssue {
  /** Where in the file, e.g. "rules[1].allow.subscribe[0].maxQos"; "" for the file as a whole. */
  path: string;
  /** What is wrong, e.g. "must be 0, 1 or 2, got 3". */
  message: string;
}

/** The ACL file cannot be read, parsed or validated. Lists every problem found. */
export class AclError extends Error {
  override readonly name = "AclError";
  /** File path (or the label given to createAclAuth). */
  readonly source: string | undefined;
  readonly issues: readonly AclIssue[];

  constructor(source: string | undefined, issues: readonly AclIssue[]) {
    const n = issues.length;
    super(
      `Invalid ACL${source === undefined ? "" : ` file ${source}`} (${n} problem${n === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.path === "" ? "" : `${i.path}: `}${i.message}`).join("\n"),
    );
    this.source = source;
    this.issues = issues;
  }
}

// ---- schema -------------------------------------------------------------------------------

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return `${typeof v} ${String(v)}`;
}

type ZodIssueLike = { code?: string; input?: unknown; keys?: readonly string[] };

/** zod error map: "is required" when missing, else `expected` plus what was found. */
function expect(expected: string, opts: { keys?: readonly string[]; secret?: boolean } = {}) {
  return (iss: ZodIssueLike): string => {
    if (iss.code === "unrecognized_keys" && iss.keys) {
      const k = iss.keys.map((x) => `'${x}'`).join(", ");
      return `unknown key${iss.keys.length === 1 ? "" : "s"} ${k}${opts.keys ? ` (expected ${opts.keys.join(", ")})` : ""}`;
    }
    if (iss.input === undefined) return "is required";
    return opts.secret ? expected : `${expected}, got ${describe(iss.input)}`;
  };
}

function strict<T extends z.ZodRawShape>(shape: T, what: string) {
  return z.strictObject(shape, { error: expect(what, { keys: Object.keys(shape) }) });
}

function list<T extends z.ZodType>(item: T, what: string) {
  return z.array(item, { error: expect(what) });
}

const topicPattern = z.string({ error: expect("must be a topic filter string") }).superRefine((s, ctx) => {
  const bad = validateTopicFilter(s, DEFAULT_TOPIC_LIMITS);
  if (bad !== null) ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} is not a valid topic filter: ${bad}` });
});

const qosError = expect("must be 0, 1 or 2");
const qos = z.int({ error: qosError }).min(0, { error: qosError }).max(2, { error: qosError });

const subscribeAllowEntry = z.union(
  [topicPattern, strict({ filter: topicPattern, maxQos: qos.optional() }, "must be a mapping")],
  { error: expect("must be a topic filter string or a mapping { filter, maxQos }") },
);

const permissionKeys = "publish, subscribe";
const allowSchema = strict(
  {
    publish: list(topicPattern, "must be a list of topic filters").optional(),
    subscribe: list(subscribeAllowEntry, "must be a list of topic filters or { filter, maxQos } mappings").optional(),
  },
  `must be a mapping with ${permissionKeys}`,
);
const denySchema = strict(
  {
    publish: list(topicPattern, "must be a list of topic filters").optional(),
    subscribe: list(topicPattern, "must be a list of topic filters").optional(),
  },
  `must be a mapping with ${permissionKeys}`,
);

const passwordHash = z
  .string({
    error: (iss) =>
      iss.input === undefined
        ? "is required: every user needs an scrypt password hash (generate one with `npm run passwd`); for clients without credentials use 'anonymous: true' and '$anonymous' rules"
        : "must be a string (an scrypt or Mosquitto hash)",
  })
  .transform((s, ctx): StoredHash => {
    try {
      return parseStoredHash(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

const userSchema = strict(
  {
    username: z
      .string({ error: expect("must be a string (quote it in YAML if it looks like a number or boolean)") })
      .min(1, { error: "must not be empty" })
      .refine((u) => u !== ANY_USER && u !== ANONYMOUS, { error: `'${ANY_USER}' and '${ANONYMOUS}' are reserved for rules` }),
    password: passwordHash,
  },
  "must be a mapping { username, password }",
);

const ruleSchema = strict(
  {
    users: list(
      z.string({ error: expect("must be a user name, '*' or '$anonymous'") }).min(1, { error: "must not be empty" }),
      "must be a list of user names ('*' = any authenticated user, '$anonymous' = clients without user name)",
    ).min(1, { error: "must name at least one user, '*' or '$anonymous'" }),
    allow: allowSchema.optional(),
    deny: denySchema.optional(),
  },
  "must be a mapping { users, allow, deny }",
).refine((r) => r.allow !== undefined || r.deny !== undefined, { error: "must have 'allow' or 'deny' (or both)" });

const aclSchema = strict(
  {
    anonymous: z.boolean({ error: expect("must be true or false") }).optional(),
    users: list(userSchema, "must be a list of { username, password }").optional(),
    rules: list(ruleSchema, "must be a list of rules { users, allow, deny }").optional(),
    passwordFile: z.string({ error: expect("must be a file path") }).min(1, { error: "must not be empty" }).optional(),
  },
  "the ACL must be a mapping with anonymous, users, rules and passwordFile",
);

type AclDoc = z.output<typeof aclSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out === "" ? String(k) : `.${String(k)}`;
  return out;
}

interface RawIssue {
  code: string;
  path: readonly PropertyKey[];
  message: string;
  errors?: RawIssue[][];
  expected?: string;
}

/**
 * Flattens zod issues to "path: message". For a union (subscribe entries), the branch that got
 * past the type check explains the problem better than "expected string or mapping".
 */
function toAclIssues(issues: readonly RawIssue[], prefix: readonly PropertyKey[] = []): AclIssue[] {
  const out: AclIssue[] = [];
  for (const iss of issues) {
    const path = [...prefix, ...iss.path];
    if (iss.code === "invalid_union" && iss.errors) {
      const typeMismatch = (b: RawIssue[]) => b.length === 1 && b[0]!.code === "invalid_type" && b[0]!.path.length === 0;
      const relevant = iss.errors.filter((b) => !typeMismatch(b));
      if (relevant.length === 1) {
        out.push(...toAclIssues(relevant[0]!, path));
        continue;
      }
    }
    out.push({ path: formatPath(path), message: iss.message });
  }
  return out;
}

// ---- compiled form ------------------------------------------------------------------------

/** A pattern as written in the file, with what it needs substituted. */
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
