import { TooLargeError } from "../errors.js";
import { checkPublishes, jsonDraft, publishMessages } from "../publish.js";
import { defineRoute, type GatewayLimits } from "../route.js";
import { MAX_BATCH, PublishBatchRequest, PublishBatchResult } from "../schemas.js";

export const publishBatchRoute = defineRoute({
  method: "POST",
  path: "/v1/publish/batch",
  operationId: "publishBatch",
  summary: `Publish up to ${MAX_BATCH} messages`,
  description:
    "Every message is validated before any is published (one invalid message fails the whole batch, naming it); then they are " +
    "routed in order, so a subscriber receives them in batch order. The answer comes once all of them are durable.",
  tag: "publish",
  scope: "publish",
  body: PublishBatchRequest,
  responses: { 200: { description: "Published; one result per message, in order.", schema: PublishBatchResult } },
  problems: [400, 403, 413, 503],
  idempotent: true,
  precheck: checkBatchSize,
  async handle({ body }, ctx) {
    const drafts = body.messages.map((m, i) => jsonDraft(m, `#/messages/${i}`));
    return { status: 200, body: { results: await publishMessages(ctx, checkPublishes(drafts, ctx.key, ctx.limits)) } };
  },
});

/** A batch over the limit is 413 (checked before the schema, which would say 400). */
function checkBatchSize(body: unknown, limits: GatewayLimits): void {
  const max = limits.maxBatch;
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (Array.isArray(messages) && messages.length > max) {
    throw new TooLargeError(`a batch holds at most ${max} messages, got ${messages.length}`, [{ pointer: "#/messages", detail: `has ${messages.length} items; at most ${max}` }]);
  }
}
