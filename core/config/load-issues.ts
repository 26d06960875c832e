/**
 * How the configuration loader (core/config/load.ts) reports zod issues as ConfigIssues: values of secret keys
 * (core/config/secrets.ts) are never echoed, nor a URL's password; unknown keys get a "did you mean" hint or the
 * list of accepted keys.
 */
import type { z } from "zod";
import type { ConfigIssue, ConfigIssueSource } from "./errors.js";
import { keysAt } from "./schema.js";
import { isSecretKey, maskUrlPasswords } from "./secrets.js";

export function describeValue(v: unknown): string {
  if (typeof v === "string") {
    const shown = maskUrlPasswords(v);
    return `'${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}'`;
  }
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

export function zodIssues(
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
    const secret = isSecretKey(keyPath);
    const got = "input" in issue && !secret ? `, got ${describeValue(issue.input)}` : "";
    push(keyPath, `${subject} ${message}${got}`);
  }
  return out;
}
