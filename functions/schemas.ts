/**
 * The zod schemas of the REST API: requests are validated with them at the edge, and the OpenAPI document
 * (openapi.ts) is generated from them. Schemas registered in `requestSchemas` / `responseSchemas` become named
 * components; the rest is inlined.
 *
 * They live in three files, evaluated in this order: schema-registries.ts (the registries, the limits, Qos),
 * request-schemas.ts (parameters and request bodies) and response-schemas.ts (answers and problem details).
 */

export * from "./schema-registries.js";
export * from "./request-schemas.js";
export * from "./response-schemas.js";
