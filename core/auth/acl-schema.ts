/**
 * The ACL file format (see docs/auth.md): the reserved user names, the zod schema of an ACL document,
 * and the AclError / AclIssue its problems are reported with. core/auth/acl.ts builds the Auth from it.
 */
import * as z from "zod";
import { DEFAULT_TOPIC_LIMITS } from "../topic/types.js";
import { validateTopicFilter } from "../topic/validate.js";
import { parseStoredHash } from "./password.js";
import type { StoredHash } from "./password.js";

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

export const aclSchema = strict(
  {
    anonymous: z.boolean({ error: expect("must be true or false") }).optional(),
    users: list(userSchema, "must be a list of { username, password }").optional(),
    rules: list(ruleSchema, "must be a list of rules { users, allow, deny }").optional(),
    passwordFile: z.string({ error: expect("must be a file path") }).min(1, { error: "must not be empty" }).optional(),
  },
  "the ACL must be a mapping with anonymous, users, rules and passwordFile",
);

export type AclDoc = z.output<typeof aclSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out === "" ? String(k) : `.${String(k)}`;
  return out;
}

export interface RawIssue {
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
export function toAclIssues(issues: readonly RawIssue[], prefix: readonly PropertyKey[] = []): AclIssue[] {
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
