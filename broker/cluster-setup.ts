import type { SQSClient } from "@aws-sdk/client-sqs";
import { createSqsClient, EMULATOR_CREDENTIALS, SqsCommunicator } from "../core/communicator/index.js";
import type { MqgateConfig } from "../core/config/types.js";
import { SqsEventSink } from "../core/events/index.js";
import type { BrokerParts } from "./server.js";

/** Which communicator the configuration asks for ("auto": SQS when an endpoint and Redis are both set). */
export function communicatorKind(config: MqgateConfig): "memory" | "sqs" {
  const c = config.cluster.communicator;
  if (c !== "auto") return c;
  return config.sqsEndpoint !== undefined && config.redisUrl !== undefined ? "sqs" : "memory";
}

/**
 * Builds the cluster parts of a broker process from its configuration: the SQS communicator (node queues) and
 * the events queue sink, sharing one SQS client. `destroy()` releases the client after the broker closed.
 */
export function createClusterParts(
  config: MqgateConfig,
  onError: (operation: string, err: Error) => void,
): { parts: BrokerParts; destroy(): void } {
  const wantSqs = communicatorKind(config) === "sqs";
  const queueUrl = config.events.queueUrl;
  if (!wantSqs && queueUrl === undefined) return { parts: {}, destroy() {} };
  const client: SQSClient = createSqsClient({
    endpoint: config.sqsEndpoint,
    region: config.cluster.sqsRegion,
    // A local emulator checks no credentials; anything else gets the AWS provider chain.
    credentials: isLocalEndpoint(config.sqsEndpoint) && process.env.AWS_ACCESS_KEY_ID === undefined ? EMULATOR_CREDENTIALS : undefined,
  });
  const parts: BrokerParts = {};
  if (wantSqs) {
    parts.communicator = new SqsCommunicator({ client, prefix: config.cluster.queuePrefix, onError: (err) => onError("node queue", err) });
  }
  if (queueUrl !== undefined) parts.events = new SqsEventSink({ client, queueUrl, omitOversizePayload: true });
  return { parts, destroy: () => client.destroy() };
}

function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  const host = new URL(endpoint).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]";
}
