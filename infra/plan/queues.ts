/**
 * SQS: the events queue (FIFO, with a dead-letter queue) and the per-node queues the brokers create at start and
 * delete at graceful shutdown (core/communicator). Names derive from one prefix, `<app>-<stage>`, so IAM can
 * grant the node queues by name pattern while the events queues stay outside that pattern.
 */

/** Characters SQS allows in a queue name (".fifo" aside). */
const SAFE = /^[A-Za-z0-9_-]+$/;
/** Longest prefix core/communicator accepts (room for "-node-<nodeId>.fifo" in SQS's 80 characters). */
export const MAX_PREFIX_LENGTH = 40;

/** The deployment's queue name prefix, e.g. "mqgate-prod". Throws when app and stage do not make a valid one. */
export function queuePrefix(app: string, stage: string): string {
  const prefix = `${app}-${stage}`;
  if (!SAFE.test(prefix) || prefix.length > MAX_PREFIX_LENGTH) {
    throw new Error(
      `queue prefix '${prefix}' (app-stage) must be 1-${MAX_PREFIX_LENGTH} letters, digits, '-' or '_': choose a shorter stage name`,
    );
  }
  return prefix;
}

/** Names of the node queues, as an IAM resource pattern: `<prefix>-node-*` (node queues are `<prefix>-node-<id>.fifo`). */
export function nodeQueueNamePattern(prefix: string): string {
  return `${prefix}-node-*`;
}

export function eventsQueueName(prefix: string): string {
  return `${prefix}-events.fifo`;
}

export function eventsDeadLetterQueueName(prefix: string): string {
  return `${prefix}-events-dlq.fifo`;
}

/**
 * Dead-letter queue of the node queues: a node message received `NODE_QUEUE_DEAD_LETTER.maxReceiveCount` times
 * and never deleted (a node that crashes on it every time) moves there instead of blocking its group. Outside the
 * node-queue pattern (`-nodes-`, not `-node-`): brokers set it as their queues' redrive target but cannot delete it.
 */
export function nodeDeadLetterQueueName(prefix: string): string {
  return `${prefix}-nodes-dlq.fifo`;
}

/**
 * The node queues' redrive: above the brokers' own limit (core/communicator `maxReceiveCount`, 5: a handler that
 * fails that often gets its message reported and deleted), so the dead-letter queue only takes what no broker
 * lived to delete; kept 14 days for inspection.
 */
export const NODE_QUEUE_DEAD_LETTER = { maxReceiveCount: 10, retentionSeconds: 14 * 86_400 } as const;

/** `arn:<partition>:sqs:<region>:<account>:<name or pattern>` */
export function sqsArn(where: { partition: string; region: string; account: string }, name: string): string {
  return `arn:${where.partition}:sqs:${where.region}:${where.account}:${name}`;
}

/** Whether an IAM resource pattern (only `*` wildcards) covers a name. */
export function patternMatches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(name);
}

export interface EventsQueuePlan {
  fifo: true;
  /** The event id is the deduplication id (DESIGN §3.4), so no content-based deduplication. */
  contentBasedDeduplication: false;
  /** High-throughput FIFO: deduplication and throughput limits per message group (= clientId), not per queue. */
  deduplicationScope: "messageGroup";
  fifoThroughputLimit: "perMessageGroupId";
  /** At least six times the consumer's timeout (AWS's advice for Lambda event sources), so a slow batch is not redelivered while it runs. */
  visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: number;
  retentionSeconds: number;
  deadLetterRetentionSeconds: number;
}

const DAY = 86_400;

export function eventsQueuePlan(consumerTimeoutSeconds: number): EventsQueuePlan {
  return {
    fifo: true,
    contentBasedDeduplication: false,
    deduplicationScope: "messageGroup",
    fifoThroughputLimit: "perMessageGroupId",
    visibilityTimeoutSeconds: 6 * consumerTimeoutSeconds,
    maxReceiveCount: 5,
    retentionSeconds: 4 * DAY,
    deadLetterRetentionSeconds: 14 * DAY,
  };
}

/** One IAM statement; `R` is a string in tests and a Pulumi Output in infra/. */
export interface Statement<R> {
  actions: string[];
  resources: R[];
}

/**
 * What a broker does with node queues (core/communicator): create its own at start (and set its attributes),
 * receive, delete and extend visibility of its messages, send to other nodes' queues, read attributes, delete
 * its queue at graceful shutdown. Scoped to `<prefix>-node-*`: a broker cannot touch any other queue this way.
 * Sweeping orphaned queues of dead nodes will also need `sqs:ListQueues` (resource "*") when it is built.
 */
export function nodeQueueOwnerStatements<R>(nodeQueueArnPattern: R): Statement<R>[] {
  return [
    {
      actions: [
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
      ],
      resources: [nodeQueueArnPattern],
    },
  ];
}

/** What the REST functions do with node queues: find one and send to it (publish, kick, subscribe on behalf). */
export function nodeQueueSenderStatements<R>(nodeQueueArnPattern: R): Statement<R>[] {
  return [{ actions: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"], resources: [nodeQueueArnPattern] }];
}

/** Publishing events (brokers): send only; consumers get receive/delete through their event source mapping. */
export function eventsSenderStatements<R>(eventsQueueArn: R): Statement<R>[] {
  return [{ actions: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"], resources: [eventsQueueArn] }];
}
