#!/usr/bin/env node
// Generates docs/conformance.md: every normative statement of MQTT 3.1.1 (docs/conformance-statements.json) with
// the tests whose names cite it as "[MQTT-x.x.x-y]", or the note that explains why no test is needed.
//
//   node scripts/conformance.mjs           regenerate docs/conformance.md
//   node scripts/conformance.mjs --check   exit 1 if the doc is stale, a cited id is unknown, the statement list is
//                                          invalid, or a server-side statement has neither a test nor a note
//
// The functions are exported for test/unit/conformance.test.ts; main() only runs when the file is executed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const STATEMENTS_FILE = "docs/conformance-statements.json";
export const DOC_FILE = "docs/conformance.md";
export const TEST_DIR = "test";
export const GENERATE_COMMAND = "node scripts/conformance.mjs";

/** Regular statement ids: MQTT-<chapter>.<section>.<subsection>-<n>. */
const REGULAR_ID = /^MQTT-(\d+)\.(\d+)\.(\d+)-([1-9]\d*)$/;

/**
 * Ids that the specification itself spells irregularly. They are kept exactly as the spec writes them, so that a
 * test cites the same string a reader finds in the spec. Value: the section the statement belongs to.
 */
export const SPEC_SPELLED_IDS = new Map([
  ["MQTT-3.1.2.7", "3.1.2"],
  ["MQTT-3-8.3-4", "3.8.3"],
]);

export const PARTIES = ["server", "client", "both"];

/** Titles of the chapter-level groups the doc has one table for. */
export const GROUP_TITLES = new Map([
  ["1.5", "1.5 Data representation"],
  ["2.2", "2.2 Fixed header"],
  ["2.3", "2.3 Variable header: packet identifier"],
  ["3.1", "3.1 CONNECT"],
  ["3.2", "3.2 CONNACK"],
  ["3.3", "3.3 PUBLISH"],
  ["3.4", "3.4 PUBACK"],
  ["3.5", "3.5 PUBREC"],
  ["3.6", "3.6 PUBREL"],
  ["3.7", "3.7 PUBCOMP"],
  ["3.8", "3.8 SUBSCRIBE"],
  ["3.9", "3.9 SUBACK"],
  ["3.10", "3.10 UNSUBSCRIBE"],
  ["3.11", "3.11 UNSUBACK"],
  ["3.12", "3.12 PINGREQ"],
  ["3.13", "3.13 PINGRESP"],
  ["3.14", "3.14 DISCONNECT"],
  ["4.1", "4.1 Storing state"],
  ["4.3", "4.3 Quality of Service levels and protocol flows"],
  ["4.4", "4.4 Message delivery retry"],
  ["4.5", "4.5 Message receipt"],
  ["4.6", "4.6 Message ordering"],
  ["4.7", "4.7 Topic names and topic filters"],
  ["4.8", "4.8 Handling errors"],
  ["6", "6 Using WebSocket as a network transport"],
  ["7", "7 Conformance"],
]);

/** The section an id belongs to: "MQTT-3.1.2-4" -> "3.1.2", "MQTT-3.1.0-1" -> "3.1", "MQTT-6.0.0-1" -> "6". */
export function sectionOfId(id) {
  const special = SPEC_SPELLED_IDS.get(id);
  if (special !== undefined) return special;
  const m = REGULAR_ID.exec(id);
  if (m === null) return null;
  const parts = [m[1], m[2], m[3]];
  while (parts.length > 1 && parts[parts.length - 1] === "0") parts.pop();
  return parts.join(".");
}

/** Whether `id` has the form of a statement id (or is one of the spec's irregular spellings). */
export function isWellFormedId(id) {
  return REGULAR_ID.test(id) || SPEC_SPELLED_IDS.has(id);
}

/**
 * The group (one table in the doc) of a section: chapters 1 to 4 by their second level ("3.1.2" -> "3.1",
 * "4.7.1" -> "4.7"), the short chapters 6 and 7 as a whole ("7.1.1" -> "7").
 */
export function groupOfSection(section) {
  const parts = section.split(".");
  return Number(parts[0]) >= 5 ? parts[0] : parts.slice(0, 2).join(".");
}

/** Numeric sort key of an id, so that tables follow the spec's order whatever the JSON order. */
function idSortKey(id) {
  const section = sectionOfId(id) ?? "999";
  const n = /(\d+)$/.exec(id);
  return [...section.split(".").map(Number), ...Array(3 - section.split(".").length).fill(0), Number(n?.[1] ?? 0)];
}

function compareIds(a, b) {
  const ka = idSortKey(a);
  const kb = idSortKey(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- statements ------------------------------------------------------------------------------------------------

export function loadStatements(root = ROOT) {
  return JSON.parse(readFileSync(join(root, STATEMENTS_FILE), "utf8"));
}

/** Problems with the hand-maintained statement list: shape, id form, duplicates, section consistency. */
export function validateStatements(statements) {
  const problems = [];
  if (!Array.isArray(statements)) return [`${STATEMENTS_FILE} must hold a JSON array`];
  const seen = new Set();
  statements.forEach((s, i) => {
    const where = `${STATEMENTS_FILE}[${i}]${typeof s?.id === "string" ? ` (${s.id})` : ""}`;
    if (s === null || typeof s !== "object") {
      problems.push(`${where}: not an object`);
      return;
    }
    for (const key of Object.keys(s)) {
      if (!["id", "section", "party", "summary", "note"].includes(key)) problems.push(`${where}: unknown field "${key}"`);
    }
    if (typeof s.id !== "string" || !isWellFormedId(s.id)) problems.push(`${where}: malformed id ${JSON.stringify(s.id)}`);
    else if (seen.has(s.id)) problems.push(`${where}: duplicate id`);
    else seen.add(s.id);
    if (typeof s.id === "string" && isWellFormedId(s.id) && s.section !== sectionOfId(s.id)) {
      problems.push(`${where}: section ${JSON.stringify(s.section)} does not match the id (expected "${sectionOfId(s.id)}")`);
    }
    if (typeof s.section === "string" && !GROUP_TITLES.has(groupOfSection(s.section))) {
      problems.push(`${where}: no group title for section ${s.section} (add it to GROUP_TITLES)`);
    }
    if (!PARTIES.includes(s.party)) problems.push(`${where}: party must be one of ${PARTIES.join(", ")}`);
    if (typeof s.summary !== "string" || s.summary.trim() === "") problems.push(`${where}: empty summary`);
    if (s.note !== undefined && (typeof s.note !== "string" || s.note.trim() === "")) problems.push(`${where}: note must be a non-empty string`);
  });
  return problems;
}

/** Server-side statements are the ones the broker must satisfy: party "server" or "both". */
export function isServerSide(statement) {
  return statement.party === "server" || statement.party === "both";
}

// --- scanning the tests ----------------------------------------------------------------------------------------

/** test/**\/*.test.ts, as sorted paths relative to `root` with forward slashes. */
export function findTestFiles(root = ROOT) {
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

const CITATION = /\[(MQTT-[^\]\n]*)\]/g;

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
export function scanTests(root = ROOT) {
  const out = [];
  for (const file of findTestFiles(root)) {
    for (const c of scanTestSource(readFileSync(join(root, file), "utf8"))) out.push({ ...c, file });
  }
  return out;
}

// --- analysis --------------------------------------------------------------------------------------------------

/** Suggests the spec's spelling for an unknown id that differs only in its separators (3.8.3-4 vs 3-8.3-4). */
export function suggestId(id, knownIds) {
  const norm = (s) => s.replace(/[.-]/g, ".");
  return knownIds.find((k) => norm(k) === norm(id)) ?? null;
}

/**
 * Joins statements and citations. Status of a statement: "tested" (an active test cites it), "noted" (no test,
 * but a note), "gap" (server-side, neither), "client" (client-only, neither).
 */
export function analyze(statements, citations) {
  const byId = new Map(statements.map((s) => [s.id, s]));
  const knownIds = statements.map((s) => s.id);
  const rows = statements.map((statement) => {
    const cites = citations.filter((c) => c.id === statement.id);
    const tests = cites.filter((c) => !c.pending);
    const pending = cites.filter((c) => c.pending);
    const status = tests.length > 0 ? "tested" : statement.note !== undefined ? "noted" : isServerSide(statement) ? "gap" : "client";
    return { statement, tests, pending, status };
  });
  const unknown = citations.filter((c) => !byId.has(c.id)).map((c) => ({ ...c, suggestion: suggestId(c.id, knownIds) }));
  const count = (pred) => rows.filter(pred).length;
  const server = (r) => isServerSide(r.statement);
  const counts = {
    total: rows.length,
    server: count(server),
    client: count((r) => !server(r)),
    serverTested: count((r) => server(r) && r.status === "tested"),
    serverNoted: count((r) => server(r) && r.status === "noted"),
    serverGaps: count((r) => r.status === "gap"),
    clientTested: count((r) => !server(r) && r.status === "tested"),
    clientNoted: count((r) => !server(r) && r.status === "noted"),
    clientNone: count((r) => r.status === "client"),
  };
  return { rows, unknown, counts, gaps: rows.filter((r) => r.status === "gap").map((r) => r.statement) };
}

// --- rendering -------------------------------------------------------------------------------------------------

const MAX_TITLES_PER_FILE = 4;

function escapeMd(text) {
  return text.replace(/[\\`*_[\]<>|]/g, "\\$&").replace(/\s+/g, " ").trim();
}

/** A test title for display: citations removed (the row already says which id), whitespace collapsed. */
export function displayTitle(title) {
  const stripped = title.replace(CITATION, " ").replace(/\s+/g, " ").trim();
  return stripped === "" ? "(title holds only citations)" : stripped;
}

function linkToFile(file) {
  const name = file.split("/").pop();
  return `[${escapeMd(name)}](../${file})`;
}

function renderCitations(cites) {
  const byFile = new Map();
  for (const c of cites) {
    const list = byFile.get(c.file) ?? [];
    const title = displayTitle(c.title);
    if (!list.some((t) => t.title === title)) list.push({ title, kind: c.kind });
    byFile.set(c.file, list);
  }
  const parts = [];
  for (const file of [...byFile.keys()].sort()) {
    const titles = byFile.get(file);
    const shown = titles.slice(0, MAX_TITLES_PER_FILE).map((t) => `“${escapeMd(t.title)}”${t.kind === "describe" ? " (describe)" : ""}`);
    const more = titles.length - shown.length;
    parts.push(`${linkToFile(file)}: ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`);
  }
  return parts.join("<br>");
}

function anchorOf(id) {
  return id.toLowerCase().replace(/\./g, "-");
}

function renderCell(row) {
  const bits = [];
  if (row.tests.length > 0) bits.push(renderCitations(row.tests));
  else if (row.status === "gap") bits.push("**Gap: not covered by any test.**");
  if (row.statement.note !== undefined) bits.push(`${row.tests.length > 0 ? "Note: " : "*Not tested:* "}${escapeMd(row.statement.note)}`);
  if (row.status === "client" && row.statement.note === undefined) bits.push("Client obligation; no server test needed.");
  if (row.pending.length > 0) bits.push(`Pending (skipped or todo): ${renderCitations(row.pending)}`);
  return bits.join("<br>");
}

export function renderDoc(analysis) {
  const { rows, unknown, counts } = analysis;
  const L = [];
  L.push("# MQTT 3.1.1 conformance");
  L.push("");
  L.push(`<!-- Generated by \`${GENERATE_COMMAND}\` from ${STATEMENTS_FILE} and the test names in test/. Do not edit by hand. -->`);
  L.push("");
  L.push(
    "This page lists every normative statement of the OASIS MQTT Version 3.1.1 standard (the `[MQTT-x.x.x-y]` ids " +
      "of its Appendix B, client-side and server-side) and says how mqgate covers each one: by the tests that cite it, " +
      "by a note explaining why it does not apply or how it is met without a dedicated test, or not at all (a gap).",
  );
  L.push("");
  L.push("How to read it:");
  L.push("");
  L.push("- **party**: who the statement binds. `server` and `both` are *server-side*: mqgate must satisfy them. `client` statements bind clients only and are listed for completeness.");
  L.push("- **covered by**: the test files and test names that cite the id. A test covers a statement by putting `[MQTT-x.x.x-y]` in its `describe`/`it`/`test` name, or in the name of a table-driven case that becomes a test name; ids in comments do not count, nor do skipped or todo tests (shown as pending). The id is removed from the quoted names.");
  L.push("- **Not tested**: the statement's note (from the statement list) explains why no test is needed.");
  L.push("- **Gap**: a server-side statement with neither a test nor a note.");
  L.push("");
  L.push(
    `The summaries are our own short paraphrases, not the spec's wording: read the standard for the exact text. ` +
      "Ids are kept exactly as the spec spells them, including its two irregular ones, `MQTT-3.1.2.7` and `MQTT-3-8.3-4`.",
  );
  L.push("");
  L.push(
    `This file is generated: edit [${STATEMENTS_FILE.split("/").pop()}](${STATEMENTS_FILE.split("/").pop()}) (statements, parties, notes) or the test names, then run ` +
      `\`${GENERATE_COMMAND}\`. \`${GENERATE_COMMAND} --check\` fails when this file is out of date, when a test cites an unknown id, ` +
      "or when a server-side statement has neither a test nor a note; test/unit/conformance.test.ts checks the first two and that the gaps below are listed.",
  );
  L.push("");
  L.push("## Summary");
  L.push("");
  L.push("| statements | total | covered by tests | justified by a note | gaps |");
  L.push("| --- | ---: | ---: | ---: | ---: |");
  L.push(`| server-side (server or both) | ${counts.server} | ${counts.serverTested} | ${counts.serverNoted} | ${counts.serverGaps} |`);
  L.push(`| client-only | ${counts.client} | ${counts.clientTested} | ${counts.clientNoted} | n/a (${counts.clientNone} without test or note) |`);
  L.push(`| all | ${counts.total} | ${counts.serverTested + counts.clientTested} | ${counts.serverNoted + counts.clientNoted} | ${counts.serverGaps} |`);
  L.push("");
  L.push(`Server statements: ${counts.serverTested} covered by tests, ${counts.serverNoted} justified by notes, ${counts.serverGaps} gaps.`);
  L.push("");
  L.push("## Gaps");
  L.push("");
  if (analysis.gaps.length === 0) {
    L.push("None: every server-side statement is covered by a test or justified by a note.");
  } else {
    L.push(`Server-side statements with neither a test nor a note (${analysis.gaps.length}):`);
    L.push("");
    for (const s of analysis.gaps) L.push(`- [${s.id}](#${anchorOf(s.id)}) (${s.section}, ${s.party}): ${escapeMd(s.summary)}`);
  }
  L.push("");
  if (unknown.length > 0) {
    L.push("## Unknown ids cited by tests");
    L.push("");
    L.push("These citations match no statement of MQTT 3.1.1 (a typo, or an id from another version of the spec). Fix the test names.");
    L.push("");
    L.push("| cited | suggestion | file | name |");
    L.push("| --- | --- | --- | --- |");
    const seen = new Set();
    for (const u of [...unknown].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line))) {
      const key = `${u.id}\u0000${u.file}\u0000${u.title}`;
      if (seen.has(key)) continue;
      seen.add(key);
      L.push(`| ${escapeMd(u.id)} | ${u.suggestion ?? ""} | ${linkToFile(u.file)} | “${escapeMd(displayTitle(u.title))}” |`);
    }
    L.push("");
  }
  const groups = new Map();
  for (const row of [...rows].sort((a, b) => compareIds(a.statement.id, b.statement.id))) {
    const g = groupOfSection(row.statement.section);
    const list = groups.get(g) ?? [];
    list.push(row);
    groups.set(g, list);
  }
  for (const [group, list] of groups) {
    L.push(`## ${GROUP_TITLES.get(group) ?? group}`);
    L.push("");
    L.push("| id | party | summary | covered by / note |");
    L.push("| --- | --- | --- | --- |");
    for (const row of list) {
      const s = row.statement;
      L.push(`| <a id="${anchorOf(s.id)}"></a>${s.id} | ${s.party} | ${escapeMd(s.summary)} | ${renderCell(row)} |`);
    }
    L.push("");
  }
  return L.join("\n");
}

// --- check and main --------------------------------------------------------------------------------------------

/**
 * Everything --check looks at, without exiting: statement-list problems, unknown citations, server-side gaps, and
 * whether the doc on disk equals what would be generated now.
 */
export function check(root = ROOT) {
  const statements = loadStatements(root);
  const statementProblems = validateStatements(statements);
  const citations = scanTests(root);
  const analysis = analyze(statements, citations);
  const expected = renderDoc(analysis);
  const docPath = join(root, DOC_FILE);
  const actual = existsSync(docPath) ? readFileSync(docPath, "utf8").replace(/\r\n/g, "\n") : null;
  return { statements, statementProblems, citations, analysis, expected, actual, upToDate: actual === expected };
}

function describeUnknown(u) {
  return `${u.file}:${u.line}: [${u.id}] in "${displayTitle(u.title)}"${u.suggestion !== null ? ` (the spec spells it ${u.suggestion})` : ""}`;
}

export function main(argv = process.argv.slice(2), root = ROOT) {
  const checkMode = argv.includes("--check");
  const result = check(root);
  const { analysis, statementProblems } = result;
  const { counts } = analysis;
  const summary =
    `${counts.total} statements (${counts.server} server-side): ${counts.serverTested} covered by tests, ` +
    `${counts.serverNoted} justified by notes, ${counts.serverGaps} gaps`;
  for (const p of statementProblems) console.error(`statement list: ${p}`);
  for (const u of analysis.unknown) console.error(`unknown id cited: ${describeUnknown(u)}`);
  if (!checkMode) {
    writeFileSync(join(root, DOC_FILE), result.expected);
    console.log(`wrote ${DOC_FILE}: ${summary}`);
    if (analysis.gaps.length > 0) console.log(`gaps: ${analysis.gaps.map((s) => s.id).join(" ")}`);
    return statementProblems.length > 0 ? 1 : 0;
  }
  let failed = statementProblems.length > 0 || analysis.unknown.length > 0;
  if (!result.upToDate) {
    failed = true;
    console.error(`${DOC_FILE} is out of date: run \`${GENERATE_COMMAND}\``);
  }
  if (analysis.gaps.length > 0) {
    failed = true;
    console.error(`server-side statements with neither a test nor a note (${analysis.gaps.length}):`);
    for (const s of analysis.gaps) console.error(`  ${s.id} (${s.section}): ${s.summary}`);
  }
  console.log(`${failed ? "conformance check failed" : "conformance check passed"}: ${summary}`);
  return failed ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
