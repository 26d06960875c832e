// Statement ids, the hand-maintained statement lists, and how they meet the citations found in tests. Every
// function takes the spec it works for (scripts/lib/conformance/specs.mjs): MQTT 3.1.1 and MQTT 5.0 use the same
// id format with different meanings, and each spells a few ids irregularly.
// Part of scripts/conformance.mjs (see there).
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Regular statement ids: MQTT-<chapter>.<section>.<subsection>-<n>. */
const REGULAR_ID = /^MQTT-(\d+)\.(\d+)\.(\d+)-([1-9]\d*)$/;

export const PARTIES = ["server", "client", "both"];

/** The section an id belongs to: "MQTT-3.1.2-4" -> "3.1.2", "MQTT-3.1.0-1" -> "3.1", "MQTT-6.0.0-1" -> "6". */
export function sectionOfId(id, spec) {
  const special = spec.specSpelledIds.get(id);
  if (special !== undefined) return special;
  const m = REGULAR_ID.exec(id);
  if (m === null) return null;
  const parts = [m[1], m[2], m[3]];
  while (parts.length > 1 && parts[parts.length - 1] === "0") parts.pop();
  return parts.join(".");
}

/** Whether `id` has the form of a statement id (or is one of the spec's irregular spellings). */
export function isWellFormedId(id, spec) {
  return REGULAR_ID.test(id) || spec.specSpelledIds.has(id);
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
function idSortKey(id, spec) {
  const section = sectionOfId(id, spec) ?? "999";
  const n = /(\d+)$/.exec(id);
  return [...section.split(".").map(Number), ...Array(3 - section.split(".").length).fill(0), Number(n?.[1] ?? 0)];
}

export function compareIds(a, b, spec) {
  const ka = idSortKey(a, spec);
  const kb = idSortKey(b, spec);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

// --- statements ------------------------------------------------------------------------------------------------

export function loadStatements(root, spec) {
  return JSON.parse(readFileSync(join(root, spec.statementsFile), "utf8"));
}

/** Problems with a hand-maintained statement list: shape, id form, duplicates, section consistency. */
export function validateStatements(statements, spec) {
  const file = spec.statementsFile;
  const problems = [];
  if (!Array.isArray(statements)) return [`${file} must hold a JSON array`];
  const seen = new Set();
  statements.forEach((s, i) => {
    const where = `${file}[${i}]${typeof s?.id === "string" ? ` (${s.id})` : ""}`;
    if (s === null || typeof s !== "object") {
      problems.push(`${where}: not an object`);
      return;
    }
    for (const key of Object.keys(s)) {
      if (!["id", "section", "party", "summary", "note"].includes(key)) problems.push(`${where}: unknown field "${key}"`);
    }
    const wellFormed = typeof s.id === "string" && isWellFormedId(s.id, spec);
    if (!wellFormed) problems.push(`${where}: malformed id ${JSON.stringify(s.id)}`);
    else if (seen.has(s.id)) problems.push(`${where}: duplicate id`);
    else seen.add(s.id);
    if (wellFormed && s.section !== sectionOfId(s.id, spec)) {
      problems.push(`${where}: section ${JSON.stringify(s.section)} does not match the id (expected "${sectionOfId(s.id, spec)}")`);
    }
    if (typeof s.section === "string" && !spec.groupTitles.has(groupOfSection(s.section))) {
      problems.push(`${where}: no group title for section ${s.section} (add it to the spec's groupTitles)`);
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

// --- analysis --------------------------------------------------------------------------------------------------

/**
 * Suggests the spec's spelling for an unknown id: one that differs only in its separators (3.8.3-4 vs 3-8.3-4),
 * or another spelling the spec itself uses for the same statement (`aliases`: spelling -> id).
 */
export function suggestId(id, knownIds, aliases = new Map()) {
  const alias = aliases.get(id);
  if (alias !== undefined && knownIds.includes(alias)) return alias;
  const norm = (s) => s.replace(/[.-]/g, ".");
  return knownIds.find((k) => norm(k) === norm(id)) ?? null;
}

/**
 * How a note starts when it says the statement has no test yet. Such a note is wrong once a test cites the id, so
 * analyze() reports it (`staleNotes`) and --check fails until the note is rewritten.
 */
export const UNTESTED_NOTE_PREFIXES = ["No test name cites this id yet", "No MQTT 5 protocol test yet", "Not built yet"];

/**
 * Joins statements and citations. Status of a statement: "tested" (an active test cites it), "noted" (no test,
 * but a note), "gap" (server-side, neither), "client" (client-only, neither).
 */
export function analyze(statements, citations, aliases = new Map()) {
  const byId = new Map(statements.map((s) => [s.id, s]));
  const knownIds = statements.map((s) => s.id);
  const rows = statements.map((statement) => {
    const cites = citations.filter((c) => c.id === statement.id);
    const tests = cites.filter((c) => !c.pending);
    const pending = cites.filter((c) => c.pending);
    const status = tests.length > 0 ? "tested" : statement.note !== undefined ? "noted" : isServerSide(statement) ? "gap" : "client";
    return { statement, tests, pending, status };
  });
  const unknown = citations.filter((c) => !byId.has(c.id)).map((c) => ({ ...c, suggestion: suggestId(c.id, knownIds, aliases) }));
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
  const staleNotes = rows.filter((r) => r.status === "tested" && UNTESTED_NOTE_PREFIXES.some((p) => r.statement.note?.startsWith(p) === true));
  return { rows, unknown, counts, gaps: rows.filter((r) => r.status === "gap").map((r) => r.statement), staleNotes: staleNotes.map((r) => r.statement) };
}
