#!/usr/bin/env node
// Generates the conformance docs: every normative statement of a version of MQTT with the tests whose names cite
// it as "[MQTT-x.x.x-y]", or the note that explains why no test is needed. Two versions, one doc each:
//
//   MQTT 3.1.1  docs/conformance-statements.json   -> docs/conformance.md    (tests in test/ outside test/protocol5/)
//   MQTT 5.0    docs/conformance5-statements.json  -> docs/conformance5.md   (tests in test/protocol5/ only)
//
// MQTT 5.0 reuses the id format with other meanings, so where a test is decides which list its citations mean.
//
//   node scripts/conformance.mjs           regenerate both docs
//   node scripts/conformance.mjs --check   exit 1 if a doc is stale, a cited id is unknown, a statement list is
//                                          invalid, a server-side statement has neither a test nor a note, or a
//                                          note says "no test" (or "not built yet") of a statement a test cites
//
// The logic lives in scripts/lib/conformance/ (scan.mjs: citations in test names; statements.mjs: ids, lists and
// analysis; render.mjs: the doc; specs.mjs: the two versions). This file joins them, keeps the API that
// test/unit/conformance.test.ts uses (3.1.1 unless a spec is given), and runs main() when executed.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATE_COMMAND, displayTitle, renderDoc as renderSpecDoc } from "./lib/conformance/render.mjs";
import { scanTests } from "./lib/conformance/scan.mjs";
import { SPECS, V311, V5, V5_TEST_DIR } from "./lib/conformance/specs.mjs";
import * as st from "./lib/conformance/statements.mjs";

export { GENERATE_COMMAND, displayTitle, SPECS, V311, V5, V5_TEST_DIR };
export { CITATION, TEST_DIR, citationsIn, findTestFiles, scanTestSource, scanTests, tokenize } from "./lib/conformance/scan.mjs";
export { PARTIES, UNTESTED_NOTE_PREFIXES, analyze, groupOfSection, isServerSide, suggestId } from "./lib/conformance/statements.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The 3.1.1 files, as before MQTT 5 had its own list. */
export const STATEMENTS_FILE = V311.statementsFile;
export const DOC_FILE = V311.docFile;

export const sectionOfId = (id, spec = V311) => st.sectionOfId(id, spec);
export const isWellFormedId = (id, spec = V311) => st.isWellFormedId(id, spec);
export const validateStatements = (statements, spec = V311) => st.validateStatements(statements, spec);
export const loadStatements = (root = ROOT, spec = V311) => st.loadStatements(root, spec);
export const renderDoc = (analysis, spec = V311) => renderSpecDoc(analysis, spec);

/**
 * Everything --check looks at for one version, without exiting: statement-list problems, the citations of the
 * tests that version owns, unknown citations, server-side gaps, and whether its doc on disk equals what would be
 * generated now. `allCitations` lets several versions share one scan of the tests.
 */
export function check(root = ROOT, spec = V311, allCitations = scanTests(root)) {
  let statements = [];
  let statementProblems;
  if (existsSync(join(root, spec.statementsFile))) {
    statements = st.loadStatements(root, spec);
    statementProblems = st.validateStatements(statements, spec);
    if (!Array.isArray(statements)) statements = [];
  } else {
    statementProblems = [`${spec.statementsFile} is missing`];
  }
  const citations = allCitations.filter((c) => spec.owns(c.file));
  const analysis = st.analyze(statements, citations, spec.aliases);
  const expected = renderSpecDoc(analysis, spec);
  const docPath = join(root, spec.docFile);
  const actual = existsSync(docPath) ? readFileSync(docPath, "utf8").replace(/\r\n/g, "\n") : null;
  return { spec, statements, statementProblems, citations, analysis, expected, actual, upToDate: actual === expected };
}

/** check() for every version, with one scan of the tests. */
export function checkAll(root = ROOT) {
  const citations = scanTests(root);
  return SPECS.map((spec) => check(root, spec, citations));
}

function describeUnknown(u) {
  return `${u.file}:${u.line}: [${u.id}] in "${displayTitle(u.title)}"${u.suggestion !== null ? ` (the spec spells it ${u.suggestion})` : ""}`;
}

function summaryOf({ spec, analysis: { counts } }) {
  return (
    `${spec.title}: ${counts.total} statements (${counts.server} server-side): ${counts.serverTested} covered by tests, ` +
    `${counts.serverNoted} justified by notes, ${counts.serverGaps} gaps`
  );
}

export function main(argv = process.argv.slice(2), root = ROOT) {
  const checkMode = argv.includes("--check");
  const results = checkAll(root);
  let failed = false;
  for (const result of results) {
    const { spec, analysis, statementProblems } = result;
    for (const p of statementProblems) console.error(`statement list: ${p}`);
    for (const u of analysis.unknown) console.error(`unknown ${spec.title} id cited: ${describeUnknown(u)}`);
    if (!checkMode) {
      writeFileSync(join(root, spec.docFile), result.expected);
      console.log(`wrote ${spec.docFile}: ${summaryOf(result)}`);
      if (analysis.gaps.length > 0) console.log(`gaps: ${analysis.gaps.map((s) => s.id).join(" ")}`);
      failed ||= statementProblems.length > 0;
      continue;
    }
    if (statementProblems.length > 0 || analysis.unknown.length > 0) failed = true;
    if (!result.upToDate) {
      failed = true;
      console.error(`${spec.docFile} is out of date: run \`${GENERATE_COMMAND}\``);
    }
    if (analysis.staleNotes.length > 0) {
      failed = true;
      console.error(`${spec.title}: notes that say there is no test, on statements a test now cites (${analysis.staleNotes.length}): rewrite them in ${spec.statementsFile}`);
      for (const s of analysis.staleNotes) console.error(`  ${s.id}: ${s.note}`);
    }
    if (analysis.gaps.length > 0) {
      failed = true;
      console.error(`${spec.title}: server-side statements with neither a test nor a note (${analysis.gaps.length}):`);
      for (const s of analysis.gaps) console.error(`  ${s.id} (${s.section}): ${s.summary}`);
    }
  }
  if (checkMode) console.log(`${failed ? "conformance check failed" : "conformance check passed"}: ${results.map(summaryOf).join("; ")}`);
  return failed ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
