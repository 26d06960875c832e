#!/usr/bin/env node
// Writes docs/openapi.json and the generated reference part of docs/rest-api.md from the REST API's route table
// and zod schemas (functions/docs/reference.ts, bundled on the fly with esbuild). test/functions/docs.test.ts
// fails when the files are not what this script writes.
//
//   node functions/docs/generate.mjs
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "mqgate-docs-"));
try {
  const outfile = join(dir, "reference.mjs");
  // Bundled whole (zod included) so the temporary file needs nothing from node_modules.
  await build({ absWorkingDir: root, entryPoints: ["functions/docs/reference.ts"], outfile, bundle: true, platform: "node", format: "esm", logLevel: "warning" });
  const { openApiJson, referenceMarkdown, spliceReference } = await import(pathToFileURL(outfile).href);
  writeFileSync(join(root, "docs/openapi.json"), openApiJson());
  const mdPath = join(root, "docs/rest-api.md");
  writeFileSync(mdPath, spliceReference(readFileSync(mdPath, "utf8"), referenceMarkdown()));
  console.error("wrote docs/openapi.json and the reference in docs/rest-api.md");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
