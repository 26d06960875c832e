/**
 * A node's FIFO queue as SQS sees it: its attributes and tags, its creation (adopting the queue of an earlier run,
 * waiting out AWS's refusal of a recently deleted name), and the message group each node message travels in. No
 * state: the communicator (sqs.ts) keeps the queue URLs and the senders.
 */
import { CreateQueueCommand, SetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { CommunicatorError } from "./errors.js";
import { isQueueDeletedRecently, isQueueNameTaken, sleep } from "./sqs-client.js";
import type { NodeMessage } from "./types.js";

/** The node queue's settings, the attributes an adopted queue of an earlier run is given again. */
export interface NodeQueueSettings {
  visibilityTimeoutSeconds: number;
  maxMessageBytes: number;
  retentionSeconds: number;
  waitTimeSeconds: number;
  /** The redrive policy (JSON), or null for none. */
  redrivePolicy: string | null;
}

export interface CreateNodeQueueOptions {
  /** The queue's name (nodeQueueName). */
  queueName: string;
  nodeId: string;
  settings: NodeQueueSettings;
  /** The URL of the queue already named `queueName`, when it is adopted. */
  existingUrl: () => Promise<string>;
}

/** Creates a node's queue, or adopts the one of an earlier run with these settings; answers its URL. */
export async function createNodeQueue(client: SQSClient, opts: CreateNodeQueueOptions): Promise<string> {
  const { queueName: QueueName, nodeId, settings } = opts;
  const settable = {
    VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
    MaximumMessageSize: String(settings.maxMessageBytes),
    MessageRetentionPeriod: String(settings.retentionSeconds),
    ReceiveMessageWaitTimeSeconds: String(settings.waitTimeSeconds),
    ...(settings.redrivePolicy === null ? {} : { RedrivePolicy: settings.redrivePolicy }),
  };
  const Attributes = {
    FifoQueue: "true",
    ContentBasedDeduplication: "false",
    // High-throughput FIFO: deduplication and throughput limits per message group, not per queue.
    DeduplicationScope: "messageGroup",
    FifoThroughputLimit: "perMessageGroupId",
    ...settable,
  };
  const tags = { "mqgate:role": "node-queue", "mqgate:node": nodeId.replace(/[^\p{L}\p{N} +=._:/@-]/gu, "_").slice(0, 256) };
  // AWS refuses a name for 60 s after its queue was deleted (a node restarting under the same id).
  const deadline = Date.now() + 70_000;
  for (;;) {
    try {
      const res = await client.send(new CreateQueueCommand({ QueueName, Attributes, tags }));
      if (res.QueueUrl === undefined) throw new CommunicatorError(`CreateQueue ${QueueName} answered no URL`);
      return res.QueueUrl;
    } catch (err) {
      if (isQueueNameTaken(err)) {
        // The queue of an earlier run of this node, created with other settings: adopt it, with ours.
        const url = await opts.existingUrl();
        await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: settable }));
        return url;
      }
      if (!isQueueDeletedRecently(err) || Date.now() > deadline) throw err;
      await sleep(5_000);
    }
  }
}

/**
 * A message's FIFO group in a node queue: a sending node's forwards (and its reply to a take-over kick) in its own
 * group, in the order it sent them; a take-over kick in the claiming node's group too, behind the forwards that
 * node sent before it (decision 031), unless nothing waits for that order (`unordered`: a kick repeated once the
 * wait for the reply ended, which that group may be holding back); other control messages per client.
 */
export function groupOf(m: NodeMessage): string {
  switch (m.type) {
    case "deliver":
    case "publish":
    case "moved":
      return `o:${m.origin}`;
    case "kick":
      return m.node !== undefined && m.unordered !== true ? `o:${m.node}` : `c:${m.clientId}`;
    default:
      return `c:${m.clientId}`;
  }
}
