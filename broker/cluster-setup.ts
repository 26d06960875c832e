import { hostname, networkInterfaces } from "node:os";
import type { MqgateConfig } from "../core/config/types.js";
import { createStore } from "../core/store/index.js";
import { NodeLinks } from "./link/links.js";
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
    // Lease renewals on a Redis connection of their own: never queued behind the journal's or a cleanup's calls.
    if (config.redisUrl !== undefined) parts.leaseStore = await createStore({ redisUrl: config.redisUrl });
    parts.links = createNodeLinks(config, onError);
  }
  if (queueUrl !== undefined) parts.events = new SqsEventSink({ client, queueUrl, omitOversizePayload: true });
  const leaseStore = parts.leaseStore;
  return {
    parts,
    destroy: () => {
      client.destroy();
      void leaseStore?.close();
    },
  };
}

/** The node's fast lane, when configured (config checks that a cluster with links has a secret). */
export function createNodeLinks(config: MqgateConfig, onError: (operation: string, err: Error) => void): NodeLinks | null {
  const c = config.cluster;
  if (!c.links || c.linkSecret === undefined) return null;
  return new NodeLinks({
    nodeId: config.nodeId,
    secret: c.linkSecret,
    host: c.linkHost,
    port: c.linkPort,
    advertiseHost: c.linkAdvertiseHost ?? advertiseHost(c.linkHost, c.address),
    ackTimeoutMs: c.linkAckTimeoutMs,
    onError,
  });
}

/**
 * A specific bind address, else the host of the node's client address, else the node's first private IPv4 address
 * (a Fargate task's ENI), else the host name.
 */
function advertiseHost(bind: string, address: string | undefined): string {
  if (bind !== "0.0.0.0" && bind !== "::") return bind;
  if (address !== undefined) {
    const at = address.lastIndexOf(":");
    const host = (at === -1 ? address : address.slice(0, at)).replace(/^\[(.*)\]$/, "$1");
    if (host !== "") return host;
  }
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal && !a.address.startsWith("169.254.")) return a.address;
  }
  return hostname();
}

function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  const host = new URL(endpoint).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]";
}
