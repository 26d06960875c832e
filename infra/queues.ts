/**
 * SQS: the events FIFO queue and its dead-letter queue; the node queues' dead-letter queue, name prefix and IAM
 * (infra/plan/queues.ts). The node queues themselves are created by the brokers.
 */
import { EVENTS_CONSUMER } from "./plan/api.js";
import {
  eventsDeadLetterQueueName,
  eventsQueueName,
  eventsQueuePlan,
  NODE_QUEUE_DEAD_LETTER,
  nodeDeadLetterQueueName,
  nodeQueueNamePattern,
  nodeQueueSenderStatements,
  queuePrefix,
} from "./plan/queues.js";

export const prefix = queuePrefix($app.name, $app.stage);
const plan = eventsQueuePlan(EVENTS_CONSUMER.timeoutSeconds);

export const eventsDeadLetterQueue = new sst.aws.Queue("EventsDeadLetterQueue", {
  fifo: true,
  transform: {
    queue: { name: eventsDeadLetterQueueName(prefix), messageRetentionSeconds: plan.deadLetterRetentionSeconds },
  },
});

export const eventsQueue = new sst.aws.Queue("EventsQueue", {
  fifo: { contentBasedDeduplication: plan.contentBasedDeduplication },
  visibilityTimeout: `${plan.visibilityTimeoutSeconds} seconds`,
  dlq: { queue: eventsDeadLetterQueue.arn, retry: plan.maxReceiveCount },
  transform: {
    queue: {
      name: eventsQueueName(prefix),
      messageRetentionSeconds: plan.retentionSeconds,
      deduplicationScope: plan.deduplicationScope,
      fifoThroughputLimit: plan.fifoThroughputLimit,
    },
  },
});

/** Redrive target of every node queue (brokers set it when they create their queue: cluster.deadLetterQueueArn). */
export const nodeDeadLetterQueue = new sst.aws.Queue("NodeDeadLetterQueue", {
  fifo: true,
  transform: {
    queue: { name: nodeDeadLetterQueueName(prefix), messageRetentionSeconds: NODE_QUEUE_DEAD_LETTER.retentionSeconds },
  },
});

const partition = aws.getPartitionOutput().partition;
const region = aws.getRegionOutput().region;
const account = aws.getCallerIdentityOutput().accountId;

/** ARN pattern of every node queue of this stage. */
export const nodeQueueArnPattern = $interpolate`arn:${partition}:sqs:${region}:${account}:${nodeQueueNamePattern(prefix)}`;

/** Linked to the REST functions: the prefix to name node queues with, and permission to send to them. */
export const nodeQueues = new sst.Linkable("NodeQueues", {
  properties: { prefix },
  include: nodeQueueSenderStatements(nodeQueueArnPattern).map((s) => sst.aws.permission(s)),
});
