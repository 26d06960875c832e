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
 * A copy safe to log: apiKey, the JWT secret, the link secret and the authorizer's credentials masked, and the
 * password of every URL (redisUrl, sqsEndpoint, events.queueUrl, auth.jwt.jwksUrl, auth.http.url) replaced.
 */
export function redactConfig(config: MqgateConfig): MqgateConfig {
  const copy = structuredClone(config);
  if (copy.apiKey !== undefined) copy.apiKey = "[redacted]";
  if (copy.auth.jwt?.secret !== undefined) copy.auth.jwt.secret = "[redacted]";
  if (copy.cluster.linkSecret !== undefined) copy.cluster.linkSecret = "[redacted]";
  if (copy.auth.http?.authorization !== undefined) copy.auth.http.authorization = "[redacted]";
  const headers = copy.auth.http?.headers;
  if (headers !== undefined) for (const k of Object.keys(headers)) headers[k] = "[redacted]";
  if (copy.redisUrl !== undefined) copy.redisUrl = redactUrl(copy.redisUrl);
  if (copy.sqsEndpoint !== undefined) copy.sqsEndpoint = redactUrl(copy.sqsEndpoint);
  if (copy.events.queueUrl !== undefined) copy.events.queueUrl = redactUrl(copy.events.queueUrl);
  if (copy.auth.jwt?.jwksUrl !== undefined) copy.auth.jwt.jwksUrl = redactUrl(copy.auth.jwt.jwksUrl);
  if (copy.auth.http !== undefined) copy.auth.http.url = redactUrl(copy.auth.http.url);
  return copy;
}

/** A URL with its password replaced by `redacted`; text that is not a URL, whole. */
function redactUrl(text: string): string {
  try {
    const u = new URL(text);
    if (u.password !== "") u.password = "redacted";
    return u.toString();
  } catch {
    return "[redacted]";
  }
}
