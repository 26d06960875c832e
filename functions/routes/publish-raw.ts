import { checkPublishes, publishMessages } from "../publish.js";
import { givenProperties, RAW_LOCATIONS } from "../properties.js";
import { CORRELATION_DATA_HEADER, PFI_HEADER, RawPublishHeaders, USER_PROPERTIES_HEADER } from "../property-schemas.js";
import { defineRoute } from "../route.js";
import { PublishResult, RawPublishQuery, TopicParams } from "../schemas.js";

export const publishRawRoute = defineRoute({
  method: "POST",
  path: "/v1/topics/{topic+}",
  operationId: "publishRaw",
  summary: "Publish the request body as payload",
  description:
    "The shape of the AWS IoT data-plane publish call: the topic is the path after /v1/topics/, the body is the payload as is " +
    "(any content type), QoS and retain are query parameters. MQTT 5 properties are taken as AWS IoT takes them: contentType, " +
    `messageExpiry and responseTopic as query parameters, the payload format indicator, correlation data and user properties as the ` +
    `headers ${PFI_HEADER}, ${CORRELATION_DATA_HEADER} and ${USER_PROPERTIES_HEADER}.`,
  tag: "publish",
  scope: "publish",
  params: TopicParams,
  query: RawPublishQuery,
  headers: RawPublishHeaders,
  rawBody: { contentType: "application/octet-stream", description: "The payload bytes." },
  responses: { 200: { description: "Published.", schema: PublishResult } },
  problems: [400, 403, 413, 503],
  idempotent: true,
  async handle({ params, query, headers, body }, ctx) {
    const { key, limits } = ctx;
    const props = givenProperties({
      payloadFormatIndicator: headers[PFI_HEADER],
      messageExpiry: query.messageExpiry,
      contentType: query.contentType,
      responseTopic: query.responseTopic,
      correlationData: headers[CORRELATION_DATA_HEADER],
      userProperties: headers[USER_PROPERTIES_HEADER],
    });
    const draft = {
      topic: params.topic,
      payload: body ?? Buffer.alloc(0),
      qos: query.qos,
      retain: query.retain,
      topicField: { parameter: "topic" },
      payloadField: { pointer: "#" },
      props,
      propsAt: RAW_LOCATIONS,
    };
    const [result] = await publishMessages(ctx, checkPublishes([draft], key, limits));
    return { status: 200, body: result };
  },
});
