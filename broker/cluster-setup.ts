import type { MqgateConfig } from "../core/config/types.js";
import type { BrokerParts } from "./server.js";

/** Which communicator the configuration asks for ("auto": SQS when an endpoint and Redis are both set). */
export function communicatorKind(config: MqgateConfig): "memory" | "sqs" {
  const c = config.cluster.communicator;
  if (c !== "auto") return c;
  return config.sqsEndpoint !== undefined && config.redisUrl !== undefined ? "sqs" : "memory";
}

/**
 * Builds the cluster parts of a broker process from its configuration: the SQS communicator (node queues) and
 * the events queue sink, sharing one SQS client. `destroy()` releases the client after the broker closed. The
 * AWS SDK is loaded only here, when needed: a single node does not carry it in its heap.
 */
export async function createClusterParts(
  config: MqgateConfig,
  onError: (operation: string, err: Error) => void,
): Promise<{ parts: BrokerParts; destroy(): void }> {
  const wantSqs = communicatorKind(config) === "sqs";
  const queueUrl = config.events.queueUrl;
  if (!wantSqs && queueUrl === undefined) return { parts: {}, destroy() {} };
  const { createSqsClient, EMULATOR_CREDENTIALS } = await import("../core/communicator/sqs-client.js");
  const { SqsCommunicator } = await import("../core/communicator/sqs.js");
  const { SqsEventSink } = await import("../core/events/sqs-sink.js");
  const client = createSqsClient({
    endpoint: config.sqsEndpoint,
    region: config.cluster.sqsRegion,
    // A local emulator checks no credentials; anything else gets the AWS provider chain.
    credentials: isLocalEndpoint(config.sqsEndpoint) && process.env.AWS_ACCESS_KEY_ID === undefined ? EMULATOR_CREDENTIALS : undefined,
  });
  const parts: BrokerParts = {};
  if (wantSqs) {
    parts.communicator = new SqsCommunicator({
      client,
      prefix: config.cluster.queuePrefix,
      deadLetterQueueArn: config.cluster.deadLetterQueueArn,
      onError: (err) => onError("node queue", err),
    });
  }
  if (queueUrl !== undefined) parts.events = new SqsEventSink({ client, queueUrl, omitOversizePayload: true });
  return { parts, destroy: () => client.destroy() };
}

function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  const host = new URL(endpoint).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]";
}
