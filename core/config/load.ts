import { randomBytes } from "node:crypto";
/**
 * The one configuration loader. Call once at startup, pass the typed result down.
 *
 * Precedence (later wins): DEFAULTS < config file < MQGATE_* environment < overrides.
 * Every problem of every source is collected and thrown together as one ConfigError.
 * Cross-field rules (TLS port needs cert and key, acl mode needs aclFile, port clashes)
 * are checked on the merged result once every source is valid on its own.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import type { z } from "zod";
import { CONFIG_FILE_ENV, configFromEnv } from "./env.js";
import { ConfigError, type ConfigIssue, type ConfigIssueSource } from "./errors.js";
import { configFileSchema, configSchema, DEFAULTS, keysAt } from "./schema.js";
import type { DeepPartial, MqgateConfig } from "./types.js";

export interface LoadConfigOptions {
  /** Environment to read MQGATE_* variables from. Default: process.env. Tests should pass `{}`. */
  env?: NodeJS.ProcessEnv;
  /** Config file (.json, .yaml, .yml). Default: env.MQGATE_CONFIG; none if both are unset. */
  file?: string;
  /** Highest-precedence values (tests, embedding). Validated like a config file. */
  overrides?: DeepPartial<MqgateConfig>;
}

/** Default node id: `<hostname>-<pid>`, unique per process on a host. */
export function defaultNodeId(): string {
  // A random suffix: in containers the pid is always 1 and host names get reused, so hostname-pid alone could
  // give a replacement task the id (and the queue, and the sessions) of a dead node.
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** Key paths whose values are secret: never echoed in error messages, masked by redactConfig. */
const SECRET_KEYS = new Set(["apiKey", "redisUrl", "cluster.linkSecret", "auth.jwt.secret", "auth.http.authorization", "auth.http.headers"]);
/** File-path keys: relative values in a config file are resolved against the file's directory. */
const FILE_PATH_KEYS = [
  ["tls", "certFile"],
  ["tls", "keyFile"],
  ["tls", "caFile"],
  ["auth", "aclFile"],
  ["auth", "jwt", "publicKeyFile"],
  ["auth", "jwt", "secretFile"],
  ["auth", "x509", "rulesFile"],
] as const;

type Plain = Record<string, unknown>;

function isPlainObject(v: unknown): v is Plain {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return `'${v.length > 80 ? `${v.slice(0, 77)}...` : v}'`;
  if (v === null || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return typeof v;
}

// ---- "did you mean" for unknown keys ------------------------------------------------------

function normalizeKey(k: string): string {
  return k.toLowerCase().replace(/[-_\s]/g, "");
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const n = normalizeKey(unknown);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(n, normalizeKey(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(n.length / 3)) ? best : undefined;
}

// ---- zod issues -> ConfigIssues -----------------------------------------------------------

function zodIssues(
  error: z.ZodError,
  source: ConfigIssueSource,
  origin: string | undefined,
  prefix: string,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  const push = (keyPath: string, message: string): void => {
    const key = `${keyPath}\0${message}`;
    if (seen.has(key)) return; // z.int() may report one bad number twice
    seen.add(key);
    out.push({ source, origin, keyPath: keyPath || undefined, message: `${prefix}${message}` });
  };
  for (const issue of error.issues) {
    const keyPath = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) {
        const full = keyPath === "" ? k : `${keyPath}.${k}`;
        const known = keysAt(keyPath);
        const hint = suggestKey(k, known);
        const where = keyPath === "" ? "at the top level" : `in '${keyPath}'`;
        push(
          full,
          hint === undefined
            ? `unknown key '${full}' (accepted ${where}: ${known.join(", ")})`
            : `unknown key '${full}' (did you mean '${keyPath === "" ? hint : `${keyPath}.${hint}`}'?)`,
        );
      }
      continue;
    }
    const subject = keyPath === "" ? "configuration" : keyPath;
    if (issue.code === "custom") {
      push(keyPath, `${subject} ${issue.message}`);
      continue;
    }
    let message = issue.message;
    if (issue.code === "invalid_type" && issue.expected === "object") message = "must be a mapping of keys";
    const secret = SECRET_KEYS.has(keyPath);
    const got = "input" in issue && !secret ? `, got ${describeValue(issue.input)}` : "";
    push(keyPath, `${subject} ${message}${got}`);
  }
  return out;
}

// ---- config file --------------------------------------------------------------------------

type FileText = { path: string; text: string } | { path: string; error: unknown };

function readErrorIssue(file: string, err: unknown): ConfigIssue {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === "ENOENT"
      ? "config file not found"
      : code === "EISDIR"
        ? "config file is a directory"
        : `cannot read config file: ${err instanceof Error ? err.message : String(err)}`;
  return { source: "file", origin: file, message: `${file}: ${reason}` };
}

function parseFileText(file: string, text: string): { data?: unknown; issues: ConfigIssue[] } {
  const issue = (message: string): ConfigIssue => ({ source: "file", origin: file, message: `${file}: ${message}` });
  const ext = path.extname(file).toLowerCase();
  const body = text.replace(/^\uFEFF/, "");
  if (ext === ".json") {
    try {
      return { data: JSON.parse(body), issues: [] };
    } catch (err) {
      return { issues: [issue(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`)] };
    }
  }
  if (ext === ".yaml" || ext === ".yml") {
    const doc = YAML.parseDocument(body, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return {
        issues: doc.errors.map((e) => issue(`invalid YAML: ${(e.message.split("\n")[0] ?? "").replace(/:$/, "")}`)),
      };
    }
    return { data: doc.toJS() as unknown, issues: [] };
  }
  return { issues: [issue(`unsupported config file extension '${ext}' (use .json, .yaml or .yml)`)] };
}

function resolveFilePaths(data: DeepPartial<MqgateConfig>, file: string): void {
  const dir = path.dirname(file);
  for (const keys of FILE_PATH_KEYS) {
    let obj: unknown = data;
    for (const k of keys.slice(0, -1)) obj = isPlainObject(obj) ? obj[k] : undefined;
    const key = keys[keys.length - 1]!;
    if (isPlainObject(obj) && typeof obj[key] === "string") obj[key] = path.resolve(dir, obj[key]);
  }
}

function configFromFile(source: FileText): { patch?: DeepPartial<MqgateConfig>; issues: ConfigIssue[] } {
  if ("error" in source) return { issues: [readErrorIssue(source.path, source.error)] };
  const { data, issues } = parseFileText(source.path, source.text);
  if (issues.length > 0) return { issues };
  const content = data ?? {}; // an empty YAML file is an empty configuration
  if (!isPlainObject(content)) {
    return {
      issues: [
        {
          source: "file",
          origin: source.path,
          message: `${source.path}: must contain a mapping of configuration keys at the top level, got ${describeValue(content)}`,
        },
      ],
    };
  }
  const r = configFileSchema.safeParse(content, { reportInput: true });
  if (!r.success) return { issues: zodIssues(r.error, "file", source.path, `${source.path}: `) };
  const patch = r.data as DeepPartial<MqgateConfig>;
  resolveFilePaths(patch, source.path);
  return { patch, issues: [] };
}

// ---- merge + validate ---------------------------------------------------------------------

/** Deep-merges `patch` into `target` in place; undefined values in `patch` are ignored. */
function mergeInto(target: Plain, patch: Plain): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) mergeInto(current, value);
    else target[key] = isPlainObject(value) ? structuredClone(value) : value;
  }
}

function fileFromOptions(opts: LoadConfigOptions, env: NodeJS.ProcessEnv): string | undefined {
  const raw = opts.file ?? env[CONFIG_FILE_ENV]?.trim();
  return raw === undefined || raw === "" ? undefined : path.resolve(raw);
}

function buildConfig(opts: LoadConfigOptions, env: NodeJS.ProcessEnv, file: FileText | undefined): MqgateConfig {
  const issues: ConfigIssue[] = [];
  const patches: Plain[] = [];

  if (file) {
    const r = configFromFile(file);
    issues.push(...r.issues);
    if (r.patch) patches.push(r.patch as Plain);
  }

  const fromEnv = configFromEnv(env);
  issues.push(...fromEnv.issues);
  patches.push(fromEnv.patch);

  if (opts.overrides !== undefined) {
    const r = configFileSchema.safeParse(opts.overrides, { reportInput: true });
    if (r.success) patches.push(r.data as Plain);
    else issues.push(...zodIssues(r.error, "overrides", undefined, "overrides: "));
  }

  if (issues.length > 0) throw new ConfigError(issues);

  const merged = structuredClone(DEFAULTS) as unknown as Plain;
  merged.nodeId = defaultNodeId();
  for (const patch of patches) mergeInto(merged, patch);

  const r = configSchema.safeParse(merged, { reportInput: true });
  if (!r.success) throw new ConfigError(zodIssues(r.error, "config", undefined, ""));
  const config: MqgateConfig = r.data;
  return config;
}

/**
 * Loads, merges and validates the configuration (see module comment for precedence).
 * @throws ConfigError listing every problem found.
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<MqgateConfig> {
  const env = opts.env ?? process.env;
  const filePath = fileFromOptions(opts, env);
  let file: FileText | undefined;
  if (filePath !== undefined) {
    try {
      file = { path: filePath, text: await readFile(filePath, "utf8") };
    } catch (error) {
      file = { path: filePath, error };
    }
  }
  return buildConfig(opts, env, file);
}

/** Synchronous `loadConfig`, for entry points that cannot await. */
export function loadConfigSync(opts: LoadConfigOptions = {}): MqgateConfig {
  const env = opts.env ?? process.env;
  const filePath = fileFromOptions(opts, env);
  let file: FileText | undefined;
  if (filePath !== undefined) {
    try {
      file = { path: filePath, text: readFileSync(filePath, "utf8") };
    } catch (error) {
      file = { path: filePath, error };
    }
  }
  return buildConfig(opts, env, file);
}

/** A copy safe to log: apiKey, the JWT secret and authorizer credentials masked, password removed from redisUrl. */
export function redactConfig(config: MqgateConfig): MqgateConfig {
  const copy = structuredClone(config);
  if (copy.apiKey !== undefined) copy.apiKey = "[redacted]";
  if (copy.auth.jwt?.secret !== undefined) copy.auth.jwt.secret = "[redacted]";
  if (copy.cluster.linkSecret !== undefined) copy.cluster.linkSecret = "[redacted]";
  if (copy.auth.http?.authorization !== undefined) copy.auth.http.authorization = "[redacted]";
  const headers = copy.auth.http?.headers;
  if (headers !== undefined) for (const k of Object.keys(headers)) headers[k] = "[redacted]";
  if (copy.redisUrl !== undefined) {
    try {
      const u = new URL(copy.redisUrl);
      if (u.password !== "") u.password = "redacted";
      copy.redisUrl = u.toString();
    } catch {
      copy.redisUrl = "[redacted]";
    }
  }
  return copy;
}
