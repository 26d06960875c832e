import { checkPublishes, jsonDraft, publishMessages } from "../publish.js";
import { defineRoute } from "../route.js";
import { PublishRequest, PublishResult } from "../schemas.js";

export const publishRoute = defineRoute({
  method: "POST",
  path: "/v1/publish",
  operationId: "publish",
  summary: "Publish one message",
  description:
    "Routes the message like an MQTT PUBLISH: matching subscriptions get one copy per session at min(message QoS, granted QoS); " +
    "`retain` stores or (empty payload) clears the retained message. For QoS 1 and 2 the answer comes once the message is durable " +
    "for every matching persistent session.",
  tag: "publish",
  scope: "publish",
  body: PublishRequest,
  responses: { 200: { description: "Published.", schema: PublishResult } },
  problems: [400, 403, 413, 503],
  idempotent: true,
  async handle({ body }, ctx) {
    const { key, limits } = ctx;
    const [result] = await publishMessages(ctx, checkPublishes([jsonDraft(body, "#")], key, limits));
    return { status: 200, body: result };
  },
});
