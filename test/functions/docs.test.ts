import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openApiJson, referenceMarkdown } from "../../functions/docs/reference.js";
import { BEGIN, END } from "../../functions/docs/render.js";
import { routes } from "../../functions/routes/index.js";

const root = new URL("../..", import.meta.url).pathname;
const HOW = "regenerate with: node functions/docs/generate.mjs";

describe("OpenAPI document and docs/rest-api.md", () => {
  const doc = JSON.parse(openApiJson());

  it("is OpenAPI 3.1 with every route, unique operation ids and resolvable $refs", () => {
    expect(doc.openapi).toBe("3.1.0");
    const ops = Object.entries(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, id: op.operationId })),
    );
    expect(ops.map((o) => o.key).sort()).toEqual(routes.map((r) => `${r.method} ${r.path.replace("+}", "}")}`).sort());
    expect(new Set(ops.map((o) => o.id)).size).toBe(ops.length);
    const refs = [...openApiJson().matchAll(/"\$ref": "#\/components\/schemas\/(\w+)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(doc.components.schemas[ref], ref).toBeDefined();
    // Path parameters are declared for every template variable.
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>)) {
      const vars = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(methods)) expect((op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name)).toEqual(vars);
    }
    expect(doc.paths["/v1/health"].get.security).toEqual([]);
    expect(doc.paths["/v1/publish"].post["x-mqgate-scope"]).toBe("publish");
    expect(doc.components.schemas.PublishBatchRequest.properties.messages.maxItems).toBe(100);
  });

  it("docs/openapi.json is up to date", () => {
    expect(readFileSync(`${root}docs/openapi.json`, "utf8"), HOW).toBe(openApiJson());
  });

  it("the reference in docs/rest-api.md is up to date", () => {
    const md = readFileSync(`${root}docs/rest-api.md`, "utf8");
    const start = md.indexOf(BEGIN);
    const end = md.indexOf(END);
    expect(start, HOW).toBeGreaterThanOrEqual(0);
    expect(md.slice(start, end + END.length + 1), HOW).toBe(referenceMarkdown());
  });
});
