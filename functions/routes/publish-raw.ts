import { checkPublishes, publishMessages } from "../publish.js";
import { defineRoute } from "../route.js";
import { PublishResult, RawPublishQuery, TopicParams } from "../schemas.js";

export const publishRawRoute = defineRoute({
  method: "POST",
  path: "/v1/topics/{topic+}",
  operationId: "publishRaw",
  summary: "Publish the request body as payload",
  description:
    "The shape of the AWS IoT data-plane publish call: the topic is the path after /v1/topics/, the body is the payload as is " +
    "(any content type), QoS and retain are query parameters.",
  tag: "publish",
  scope: "publish",
  params: TopicParams,
  query: RawPublishQuery,
  rawBody: { contentType: "application/octet-stream", description: "The payload bytes." },
  responses: { 200: { description: "Published.", schema: PublishResult } },
  problems: [400, 403, 413, 503],
  idempotent: true,
  async handle({ params, query, body }, ctx) {
    const { key, limits } = ctx;
    const [result] = await publishMessages(
      ctx,
      checkPublishes(
        [{ topic: params.topic, payload: body ?? Buffer.alloc(0), qos: query.qos, retain: query.retain, topicField: { parameter: "topic" }, payloadField: { pointer: "#" } }],
        key,
        limits,
      ),
    );
    return { status: 200, body: result };
  },
});
