/**
 * The one configuration loader. Call once at startup, pass the typed result down.
 *
 * Precedence (later wins): DEFAULTS < config file < MQGATE_* environment < overrides.
 * Every problem of every source is collected and thrown together as one ConfigError.
 * Cross-field rules (TLS port needs cert and key, acl mode needs aclFile, port clashes)
 * are checked on the merged result once every source is valid on its own.
 *
 * The file step lives in load-file.ts, the wording of problems in load-issues.ts.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CONFIG_FILE_ENV, configFromEnv } from "./env.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { configFromFile, type FileText, isPlainObject, type Plain } from "./load-file.js";
import { zodIssues } from "./load-issues.js";
import { configFileSchema, configSchema, DEFAULTS } from "./schema.js";
import { SECRET_KEY_PATHS, URL_KEY_PATHS } from "./secrets.js";
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

/**
 * A copy safe to log: every URL key (`URL_KEY_PATHS`, redisUrl among them) with its password replaced, every other
 * secret key (`SECRET_KEY_PATHS`: apiKey, the JWT secret, the link secret, the authorizer's credentials, each of its
 * headers) masked.
 */
export function redactConfig(config: MqgateConfig): MqgateConfig {
  const copy = structuredClone(config) as unknown as Plain;
  for (const key of URL_KEY_PATHS) replaceAt(copy, key.split("."), (v) => redactUrl(v as string));
  for (const key of SECRET_KEY_PATHS) if (!URL_KEY_PATHS.includes(key)) replaceAt(copy, key.split("."), mask);
  return copy as unknown as MqgateConfig;
}

/** Replaces the value at `path` under `node` with `replace(value)`; an absent value (or section) stays absent. */
function replaceAt(node: Plain, path: readonly string[], replace: (value: unknown) => unknown): void {
  const [head, ...rest] = path as [string, ...string[]];
  const value = node[head];
  if (value === undefined || value === null) return;
  if (rest.length === 0) node[head] = replace(value);
  else if (isPlainObject(value)) replaceAt(value, rest, replace);
}

/** A secret: a string masked whole, a mapping (the authorizer's headers) with each of its values masked. */
function mask(value: unknown): unknown {
  return isPlainObject(value) ? Object.fromEntries(Object.keys(value).map((k) => [k, "[redacted]"])) : "[redacted]";
}

/** A URL with its password replaced by `redacted`; text that is not a URL is masked whole. */
function redactUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password !== "") u.password = "redacted";
    return u.toString();
  } catch {
    return "[redacted]";
  }
}
