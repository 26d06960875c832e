// The shapes of scripts/conformance.mjs (plain JavaScript, run by node without a build) for the test that drives
// it: test/unit/conformance.test.ts.

export type Party = "server" | "client" | "both";

export interface Statement {
  id: string;
  section: string;
  party: Party;
  summary: string;
  note?: string;
}

export interface Citation {
  id: string;
  title: string;
  kind: "describe" | "test" | "case";
  pending: boolean;
  line: number;
  file?: string;
}

/** One version of the spec (scripts/lib/conformance/specs.mjs). */
export interface Spec {
  key: string;
  title: string;
  statementsFile: string;
  docFile: string;
  owns(file: string): boolean;
  aliases: Map<string, string>;
}

export interface Analysis {
  rows: { statement: Statement; tests: Citation[]; pending: Citation[]; status: "tested" | "noted" | "gap" | "client" }[];
  unknown: (Citation & { file: string; suggestion: string | null })[];
  gaps: Statement[];
  staleNotes: Statement[];
  counts: Record<"total" | "server" | "client" | "serverTested" | "serverNoted" | "serverGaps", number>;
}

export interface CheckResult {
  spec: Spec;
  statements: Statement[];
  statementProblems: string[];
  citations: (Citation & { file: string })[];
  analysis: Analysis;
  expected: string;
  actual: string | null;
  upToDate: boolean;
}

export interface ConformanceModule {
  ROOT: string;
  DOC_FILE: string;
  STATEMENTS_FILE: string;
  GENERATE_COMMAND: string;
  V311: Spec;
  V5: Spec;
  V5_TEST_DIR: string;
  UNTESTED_NOTE_PREFIXES: string[];
  check(root?: string, spec?: Spec): CheckResult;
  checkAll(root?: string): CheckResult[];
  main(argv?: string[], root?: string): number;
  validateStatements(statements: unknown, spec?: Spec): string[];
  isWellFormedId(id: string, spec?: Spec): boolean;
  sectionOfId(id: string, spec?: Spec): string | null;
  isServerSide(statement: Statement): boolean;
  scanTestSource(src: string): Citation[];
  suggestId(id: string, knownIds: string[], aliases?: Map<string, string>): string | null;
  renderDoc(analysis: Analysis, spec?: Spec): string;
  analyze(statements: Statement[], citations: Citation[], aliases?: Map<string, string>): Analysis;
}

export async function loadConformance(): Promise<ConformanceModule> {
  return (await import(new URL("../../scripts/conformance.mjs", import.meta.url).href)) as ConformanceModule;
}

/** A bracketed citation, built at run time so that a test file's own text cites nothing. */
export function cite(id: string): string {
  return ["[", id, "]"].join("");
}
