import { openApiDocument } from "../openapi.js";
import { definePublicRoute } from "../route.js";

export const openApiRoute = definePublicRoute({
  method: "GET",
  path: "/v1/openapi.json",
  operationId: "openapi",
  summary: "This API's OpenAPI 3.1 document",
  description: "Generated from the same schemas that validate requests.",
  tag: "meta",
  responses: { 200: { description: "The OpenAPI document (JSON)." } },
  problems: [],
  async handle({ routes }) {
    return { status: 200, body: openApiDocument(routes) };
  },
});
