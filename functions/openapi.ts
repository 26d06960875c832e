import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../core/store/idempotency-types.js";
import { IDEMPOTENCY_HEADER } from "./idempotency.js";
import * as z from "zod";
import { PROBLEM_TYPES, type ProblemType } from "./errors.js";
import type { Route } from "./route.js";
import { requestSchemas, responseSchemas } from "./schemas.js";

/**
 * The OpenAPI 3.1 document, generated from the route table and the same zod schemas that validate requests
 * (JSON Schema 2020-12 is OpenAPI 3.1's dialect). Served at /v1/openapi.json, written to docs/openapi.json and
 * rendered into docs/rest-api.md by functions/docs/generate.mjs.
 */

export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: Record<string, unknown>;
  tags: { name: string; description: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security?: Record<string, string[]>[];
  "x-mqgate-scope"?: string;
  parameters?: Parameter[];
  requestBody?: { required: true; content: Record<string, { schema: JsonSchema }>; description?: string };
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
}

export interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

const ref = (id: string): JsonSchema => ({ $ref: `#/components/schemas/${id}` });

const TAGS = [
  { name: "publish", description: "Publish messages, with the broker's semantics." },
  { name: "clients", description: "Sessions, disconnecting clients, subscriptions on behalf of a client." },
  { name: "retained", description: "Retained messages." },
  { name: "cluster", description: "Broker nodes and counters." },
  { name: "identity", description: "MQTT users and roles of the `store` auth backend (docs/auth.md)." },
  { name: "meta", description: "Health and this document (no API key)." },
];

const STATUS_TO_PROBLEM = new Map<number, ProblemType>();
for (const [type, { status }] of Object.entries(PROBLEM_TYPES) as [ProblemType, { status: number }][]) {
  if (!STATUS_TO_PROBLEM.has(status)) STATUS_TO_PROBLEM.set(status, type);
}

function clean(schema: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function components(): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [registry, io] of [
    [requestSchemas, "input"],
    [responseSchemas, "output"],
  ] as const) {
    const { schemas } = z.toJSONSchema(registry, { target: "draft-2020-12", io, uri: (id) => `#/components/schemas/${id}` });
    for (const [id, s] of Object.entries(schemas)) out[id] = clean(s as JsonSchema);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The header of the idempotent routes (functions/idempotency.ts, decision 022). */
const IDEMPOTENCY_PARAMETER: Parameter = {
  name: IDEMPOTENCY_HEADER,
  in: "header",
  required: false,
  description:
    "Makes a retry safe: a request repeated with the same key (per API key, for 24 h) and the same method, path, query and body " +
    "publishes nothing again and answers what the first answered, with the header `Idempotent-Replayed: true`. The same key with " +
    "another request is 422; a repeat while the first is still being handled is 409. Only successful answers are remembered.",
  schema: { type: "string", minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH, pattern: "^[\\x20-\\x7E]+$" },
};

/** Path, query or header parameters of an object schema (input side: defaults make a parameter optional). */
function parameters(schema: z.ZodType | undefined, where: Parameter["in"]): Parameter[] {
  if (schema === undefined) return [];
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input" }) as JsonSchema;
  const props = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    const p: Parameter = { name, in: where, required: where === "path" || required.has(name), schema: rest };
    if (typeof description === "string") p.description = description;
    return p;
  });
}

function schemaRef(schema: z.ZodType): JsonSchema {
  const id = requestSchemas.get(schema)?.id ?? responseSchemas.get(schema)?.id;
  if (id === undefined) throw new Error("route schemas must be registered in requestSchemas / responseSchemas");
  return ref(id);
}

function operation(route: Route): Operation {
  const op: Operation = { operationId: route.operationId, summary: route.summary, tags: [route.tag], responses: {} };
  const scopeNote = route.kind === "api" ? `Requires an API key with the \`${route.scope}\` scope${route.scope === "admin" ? "" : " (or `admin`)"}.` : "";
  const description = [route.description, scopeNote].filter((s) => s !== undefined && s !== "").join("\n\n");
  if (description !== "") op.description = description;
  if (route.kind === "public") op.security = [];
  else op["x-mqgate-scope"] = route.scope;
  if (route.kind === "api") {
    const params = [...parameters(route.params, "path"), ...parameters(route.query, "query"), ...parameters(route.headers, "header")];
    if (route.idempotent === true) params.push(IDEMPOTENCY_PARAMETER);
    if (params.length > 0) op.parameters = params;
    if (route.body !== undefined) op.requestBody = { required: true, content: { "application/json": { schema: schemaRef(route.body) } } };
    if (route.rawBody !== undefined) {
      op.requestBody = {
        required: true,
        description: route.rawBody.description,
        content: { [route.rawBody.contentType]: { schema: { type: "string", contentMediaType: route.rawBody.contentType } } },
      };
    }
  }
  for (const [status, doc] of Object.entries(route.responses)) {
    op.responses[status] = doc.schema === undefined ? { description: doc.description } : { description: doc.description, content: { "application/json": { schema: schemaRef(doc.schema) } } };
  }
  const problems = new Set<number>(route.problems);
  if (route.idempotent === true) [409, 422].forEach((st) => problems.add(st));
  if (route.kind === "api") [401, 403, 429, 500].forEach((s) => problems.add(s));
  for (const status of [...problems].sort((a, b) => a - b)) {
    const type = STATUS_TO_PROBLEM.get(status);
    if (type === undefined || op.responses[String(status)] !== undefined) continue;
    op.responses[String(status)] = { description: PROBLEM_TYPES[type].title, content: { "application/problem+json": { schema: ref("Problem") } } };
  }
  return op;
}

const cache = new WeakMap<readonly Route[], OpenApiDocument>();

export function openApiDocument(routes: readonly Route[]): OpenApiDocument {
  const hit = cache.get(routes);
  if (hit !== undefined) return hit;
  const paths: OpenApiDocument["paths"] = {};
  for (const route of routes) {
    // OpenAPI has no greedy parameter: `{topic+}` is written `{topic}` and documented as spanning levels.
    const path = route.path.replace(/\{(\w+)\+\}/g, "{$1}");
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  const doc: OpenApiDocument = {
    openapi: "3.1.0",
    info: {
      title: "mqgate REST API",
      version: "1.0.0",
      description: "MQTT operations over HTTP: publish, sessions, subscriptions on behalf of a client, retained messages, cluster state.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    tags: TAGS,
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas: components(),
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "An mqgate API key: `Authorization: Bearer <key>`." } },
    },
  };
  cache.set(routes, doc);
  return doc;
}
