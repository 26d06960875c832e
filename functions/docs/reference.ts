import { openApiDocument } from "../openapi.js";
import { routes } from "../routes/index.js";
import { renderReference } from "./render.js";

export { spliceReference } from "./render.js";

/** docs/openapi.json as generated from the route table. */
export function openApiJson(): string {
  return `${JSON.stringify(openApiDocument(routes), null, 2)}\n`;
}

/** The generated part of docs/rest-api.md. */
export function referenceMarkdown(): string {
  return renderReference(openApiDocument(routes));
}
