/**
 * The config file step of the configuration loader (core/config/load.ts): parsing JSON or YAML by
 * extension, validating against `configFileSchema`, resolving relative file paths against the file's directory.
 */
import path from "node:path";
import YAML from "yaml";
import type { ConfigIssue } from "./errors.js";
import { describeValue, zodIssues } from "./load-issues.js";
import { configFileSchema } from "./schema.js";
import type { DeepPartial, MqgateConfig } from "./types.js";

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

export type Plain = Record<string, unknown>;

export function isPlainObject(v: unknown): v is Plain {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// ---- config file --------------------------------------------------------------------------

export type FileText = { path: string; text: string } | { path: string; error: unknown };

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

export function configFromFile(source: FileText): { patch?: DeepPartial<MqgateConfig>; issues: ConfigIssue[] } {
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
