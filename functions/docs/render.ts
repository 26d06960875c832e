import { PROBLEM_TYPES, type ProblemType } from "../errors.js";
import type { JsonSchema, OpenApiDocument, Operation } from "../openapi.js";

/**
 * Renders the OpenAPI document as the reference part of docs/rest-api.md (between the GENERATED markers).
 * Deterministic: the test in test/functions/docs.test.ts compares it with the file.
 */

export const BEGIN = "<!-- BEGIN GENERATED REFERENCE: node functions/docs/generate.mjs -->";
export const END = "<!-- END GENERATED REFERENCE -->";

const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\n+/g, " ");

function refName(s: JsonSchema): string | null {
  const r = s.$ref;
  return typeof r === "string" ? r.replace("#/components/schemas/", "") : null;
}

const anchor = (name: string) => `schema-${name.toLowerCase()}`;

/** A short type: `string`, `integer ≥ 0`, `0 \| 1 \| 2`, `array of [Subscription](#…)`, `string \| null`. */
export function typeOf(s: JsonSchema): string {
  const name = refName(s);
  if (name !== null) return `[${name}](#${anchor(name)})`;
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.anyOf)) return (s.anyOf as JsonSchema[]).map(typeOf).join(" \\| ");
  if (Array.isArray(s.prefixItems)) return `[${(s.prefixItems as JsonSchema[]).map(typeOf).join(", ")}]`;
  const t = Array.isArray(s.type) ? (s.type as string[]).join(" \\| ") : typeof s.type === "string" ? s.type : "any";
  if (s.type === "array" && s.items !== undefined) {
    const bounds = [s.minItems !== undefined ? `${String(s.minItems)}` : "", s.maxItems !== undefined ? `${String(s.maxItems)}` : ""];
    const count = bounds[0] !== "" || bounds[1] !== "" ? ` (${bounds[0] || "0"}..${bounds[1] || "n"} items)` : "";
    return `array of ${typeOf(s.items as JsonSchema)}${count}`;
  }
  if (s.type === "object" && s.additionalProperties !== undefined && typeof s.additionalProperties === "object") {
    return `map of ${typeOf(s.additionalProperties as JsonSchema)}`;
  }
  const extra: string[] = [];
  if (typeof s.format === "string") extra.push(s.format);
  if (typeof s.minimum === "number" && s.minimum !== 0) extra.push(`≥ ${s.minimum}`);
  if (typeof s.minimum === "number" && s.minimum === 0) extra.push("≥ 0");
  if (typeof s.maximum === "number" && s.maximum < Number.MAX_SAFE_INTEGER) extra.push(`≤ ${s.maximum}`);
  return extra.length > 0 ? `${t} (${extra.join(", ")})` : t;
}

function description(s: JsonSchema): string {
  const parts: string[] = [];
  if (typeof s.description === "string") parts.push(s.description);
  if (s.default !== undefined) parts.push(`Default \`${JSON.stringify(s.default)}\`.`);
  return esc(parts.join(" "));
}

function fields(s: JsonSchema): string[] {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required ?? []) as string[]);
  const lines = ["| field | type | required | description |", "| --- | --- | --- | --- |"];
  for (const [name, p] of Object.entries(props)) lines.push(`| \`${name}\` | ${typeOf(p)} | ${required.has(name) ? "yes" : "no"} | ${description(p)} |`);
  return lines;
}

function operation(method: string, path: string, op: Operation): string[] {
  const out = [`### ${method.toUpperCase()} ${path}`, "", `**${op.summary}.** ${op.description ?? ""}`.trimEnd(), ""];
  if (op.security !== undefined && op.security.length === 0) out.push("No API key.", "");
  if (op.parameters !== undefined) {
    out.push("| parameter | in | type | required | description |", "| --- | --- | --- | --- | --- |");
    for (const p of op.parameters) {
      out.push(`| \`${p.name}\` | ${p.in} | ${typeOf(p.schema)} | ${p.required ? "yes" : "no"} | ${esc([p.description ?? "", p.schema.default !== undefined ? `Default \`${String(p.schema.default)}\`.` : ""].filter((x) => x !== "").join(" "))} |`);
    }
    out.push("");
  }
  if (op.requestBody !== undefined) {
    const [type, media] = Object.entries(op.requestBody.content)[0] as [string, { schema: JsonSchema }];
    const what = refName(media.schema) !== null ? typeOf(media.schema) : (op.requestBody.description ?? "raw bytes");
    out.push(`Request body (\`${type}\`): ${what}`, "");
  }
  out.push("| status | response |", "| --- | --- |");
  for (const [status, r] of Object.entries(op.responses)) {
    const media = r.content === undefined ? undefined : Object.values(r.content)[0];
    const schema = media === undefined ? "" : ` ${typeOf(media.schema)}`;
    out.push(`| ${status} | ${esc(r.description)}${schema} |`);
  }
  out.push("");
  return out;
}

/** The generated reference: endpoint table, one section per operation, error types, schemas. */
export function renderReference(doc: OpenApiDocument): string {
  const out: string[] = [BEGIN, "", "## Endpoints", "", "| method | path | scope | summary |", "| --- | --- | --- | --- |"];
  const ops: [string, string, Operation][] = [];
  for (const [path, methods] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(methods)) ops.push([method, path, op]);
  for (const [method, path, op] of ops) {
    const scope = op["x-mqgate-scope"] === undefined ? "none" : `\`${op["x-mqgate-scope"]}\``;
    out.push(`| ${method.toUpperCase()} | \`${path}\` | ${scope} | ${esc(op.summary)} |`);
  }
  out.push("");
  for (const tag of doc.tags) {
    out.push(`## ${tag.name[0]?.toUpperCase()}${tag.name.slice(1)}`, "", tag.description, "");
    for (const [method, path, op] of ops) if (op.tags.includes(tag.name)) out.push(...operation(method, path, op));
  }
  out.push("## Problem types", "", "Every error is `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`, `instance`, `requestId`, and for invalid input `errors` (one entry per field: `pointer` for a body field, `parameter`, or `header`, with its `detail`).", "");
  out.push("| type | status | title |", "| --- | --- | --- |");
  for (const [type, p] of Object.entries(PROBLEM_TYPES) as [ProblemType, { status: number; title: string }][]) {
    out.push(`| \`urn:mqgate:problem:${type}\` | ${p.status} | ${p.title} |`);
  }
  out.push("", "## Schemas", "");
  for (const [name, s] of Object.entries(doc.components.schemas)) {
    out.push(`<a id="${anchor(name)}"></a>`, "", `### ${name}`, "");
    if (typeof s.description === "string") out.push(esc(s.description), "");
    out.push(...fields(s), "");
  }
  out.push(END);
  return out.join("\n") + "\n";
}

/** Replaces the generated part of docs/rest-api.md (everything from BEGIN to END) with `reference`. */
export function spliceReference(markdown: string, reference: string): string {
  const start = markdown.indexOf(BEGIN);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/rest-api.md lacks the ${BEGIN} ... ${END} markers`);
  return markdown.slice(0, start) + reference + markdown.slice(end + END.length + 1);
}
