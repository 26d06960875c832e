// Finding the statement ids that test names cite: test/**/*.test.ts is read as text and split into string literals
// and code, so that ids in comments never count and the describe/it/test call a title belongs to is known.
// Part of scripts/conformance.mjs (see there); no knowledge of any one version of the spec.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

export const TEST_DIR = "test";

/** test/**\/*.test.ts, as sorted paths relative to `root` with forward slashes. */
export function findTestFiles(root) {
  const out = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && e.name.endsWith(".test.ts")) out.push(relative(root, path).split(sep).join("/"));
    }
  };
  walk(join(root, TEST_DIR));
  return out.sort();
}

const REGEX_PRECEDERS = new Set(["", "(", ",", "=", ":", "[", "!", "&", "|", "?", "{", "}", ";", "+", "-", "*", "%", "<", ">", "~", "^"]);
const REGEX_KEYWORDS = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/;

/**
 * Splits TypeScript source into string literals and "masked" code (the same text with every comment and literal
 * blanked out, so that parentheses inside them do not confuse the call detection). Template literals keep their
 * static text, with `${…}` for each substitution; literals inside substitutions are found too.
 */
export function tokenize(src) {
  const masked = src.split("");
  const literals = [];
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (masked[k] !== "\n") masked[k] = " ";
  };
  let lastSignificant = "";
  let i = 0;

  // Scans code until an unmatched "}" (when inTemplate) or the end. Returns the index after it.
  const scanCode = (inTemplate) => {
    let depth = 0;
    while (i < src.length) {
      const c = src[i];
      const next = src[i + 1];
      if (c === "/" && next === "/") {
        const end = src.indexOf("\n", i);
        const stop = end === -1 ? src.length : end;
        blank(i, stop);
        i = stop;
        continue;
      }
      if (c === "/" && next === "*") {
        const end = src.indexOf("*/", i + 2);
        const stop = end === -1 ? src.length : end + 2;
        blank(i, stop);
        i = stop;
        continue;
      }
      if (c === "'" || c === '"') {
        const start = i;
        let text = "";
        i++;
        while (i < src.length && src[i] !== c && src[i] !== "\n") {
          if (src[i] === "\\" && i + 1 < src.length) {
            text += unescapeChar(src[i + 1]);
            i += 2;
            continue;
          }
          text += src[i++];
        }
        i++;
        literals.push({ start, end: i, text });
        blank(start + 1, i - 1);
        lastSignificant = "a";
        continue;
      }
      if (c === "`") {
        const start = i;
        i++;
        let text = "";
        while (i < src.length && src[i] !== "`") {
          if (src[i] === "\\" && i + 1 < src.length) {
            text += unescapeChar(src[i + 1]);
            i += 2;
            continue;
          }
          if (src[i] === "$" && src[i + 1] === "{") {
            // A substitution is code: scan it for nested literals, up to its closing brace.
            text += "${…}";
            i += 2;
            lastSignificant = "";
            scanCode(true);
            continue;
          }
          text += src[i++];
        }
        i++;
        literals.push({ start, end: i, text });
        // The whole template is one token for call detection, substitutions included.
        blank(start + 1, i - 1);
        lastSignificant = "a";
        continue;
      }
      if (c === "/" && (REGEX_PRECEDERS.has(lastSignificant) || REGEX_KEYWORDS.test(src.slice(Math.max(0, i - 12), i).trimEnd()))) {
        // A regular expression literal: skip it (a quote inside it is not a string).
        const start = i;
        i++;
        let inClass = false;
        while (i < src.length && src[i] !== "\n") {
          if (src[i] === "\\") {
            i += 2;
            continue;
          }
          if (src[i] === "[") inClass = true;
          else if (src[i] === "]") inClass = false;
          else if (src[i] === "/" && !inClass) break;
          i++;
        }
        i++;
        while (i < src.length && /[a-z]/i.test(src[i])) i++;
        blank(start, i);
        lastSignificant = "a";
        continue;
      }
      if (inTemplate) {
        if (c === "{") depth++;
        else if (c === "}") {
          if (depth === 0) {
            i++;
            return;
          }
          depth--;
        }
      }
      if (!/\s/.test(c)) lastSignificant = /[\w$)\]]/.test(c) ? "a" : c;
      i++;
    }
  };

  scanCode(false);
  literals.sort((a, b) => a.start - b.start);
  return { masked: masked.join(""), literals };
}

function unescapeChar(c) {
  return c === "n" ? "\n" : c === "t" ? "\t" : c;
}

const TEST_FUNCTIONS = new Set(["describe", "it", "test", "suite"]);
const PENDING_MODIFIERS = new Set(["skip", "todo"]);

/** If the literal at `lit` is the first argument of describe/it/test(...), returns the call's details. */
function callOfTitle(masked, lit) {
  let k = lit.start - 1;
  while (k >= 0 && /\s/.test(masked[k])) k--;
  if (masked[k] !== "(") return null;
  const open = k;
  k--;
  while (k >= 0 && /\s/.test(masked[k])) k--;
  // it.each([...])("title", ...): skip the argument list of the modifier call.
  if (masked[k] === ")") {
    let depth = 0;
    for (; k >= 0; k--) {
      if (masked[k] === ")") depth++;
      else if (masked[k] === "(") {
        depth--;
        if (depth === 0) break;
      }
    }
    k--;
    while (k >= 0 && /\s/.test(masked[k])) k--;
  }
  // Read the callee backwards: identifiers joined by dots (it, it.skip, describe.each, test.concurrent.only).
  const parts = [];
  for (;;) {
    const identEnd = k + 1;
    while (k >= 0 && /[\w$]/.test(masked[k])) k--;
    const ident = masked.slice(k + 1, identEnd);
    if (!/^[A-Za-z_$][\w$]*$/.test(ident)) return null;
    parts.unshift(ident);
    let j = k;
    while (j >= 0 && /\s/.test(masked[j])) j--;
    if (masked[j] !== ".") break;
    k = j - 1;
    while (k >= 0 && /\s/.test(masked[k])) k--;
  }
  const root = parts[0];
  if (!TEST_FUNCTIONS.has(root)) return null;
  // Find the end of the call: the ")" matching the "(" before the title.
  let depth = 0;
  let close = masked.length;
  for (let j = open; j < masked.length; j++) {
    if (masked[j] === "(") depth++;
    else if (masked[j] === ")") {
      depth--;
      if (depth === 0) {
        close = j;
        break;
      }
    }
  }
  return {
    kind: root === "describe" || root === "suite" ? "describe" : "test",
    pending: parts.slice(1).some((p) => PENDING_MODIFIERS.has(p)),
    start: open,
    end: close,
  };
}

export const CITATION = /\[(MQTT-[^\]\n]*)\]/g;

/** The bracketed citations in a piece of text, in order, without duplicates. */
export function citationsIn(text) {
  const ids = [];
  for (const m of text.matchAll(CITATION)) {
    const id = m[1].trim();
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * Citations in one test file's source. A citation counts when it is in a string literal (never in a comment):
 * the title of a describe/it/test call (kind "describe" or "test"), or another literal such as the name of a
 * table-driven case that becomes a test title (kind "case"). Titles of skipped or todo tests, and everything
 * inside a skipped describe, are marked pending.
 */
export function scanTestSource(src) {
  const { masked, literals } = tokenize(src);
  const calls = [];
  for (const lit of literals) {
    const call = callOfTitle(masked, lit);
    if (call !== null) calls.push({ ...call, lit });
  }
  const pendingRanges = calls.filter((c) => c.pending && c.kind === "describe").map((c) => [c.start, c.end]);
  const out = [];
  for (const lit of literals) {
    const ids = citationsIn(lit.text);
    if (ids.length === 0) continue;
    const call = calls.find((c) => c.lit === lit);
    const pending = (call?.pending ?? false) || pendingRanges.some(([s, e]) => lit.start > s && lit.start < e);
    const line = src.slice(0, lit.start).split("\n").length;
    for (const id of ids) out.push({ id, title: lit.text, kind: call?.kind ?? "case", pending, line });
  }
  return out;
}

/** Every citation in test/**\/*.test.ts, each with its file (relative to root). */
export function scanTests(root) {
  const out = [];
  for (const file of findTestFiles(root)) {
    for (const c of scanTestSource(readFileSync(join(root, file), "utf8"))) out.push({ ...c, file });
  }
  return out;
}

