import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkQueuePrefix, nodeQueueName } from "../../core/communicator/queue-names.js";
import { EVENTS_CONSUMER } from "../../infra/plan/api.js";
import {
  eventsDeadLetterQueueName,
  eventsQueueName,
  eventsQueuePlan,
  eventsSenderStatements,
  MAX_PREFIX_LENGTH,
  NODE_QUEUE_DEAD_LETTER,
  nodeDeadLetterQueueName,
  nodeQueueNamePattern,
  nodeQueueOwnerStatements,
  nodeQueueSenderStatements,
  patternMatches,
  queuePrefix,
  sqsArn,
} from "../../infra/plan/queues.js";

const root = new URL("../..", import.meta.url).pathname;
const where = { partition: "aws", region: "eu-west-1", account: "123456789012" };

describe("queue names", () => {
  it("derive from <app>-<stage>, the prefix core/communicator accepts", () => {
    const prefix = queuePrefix("mqgate", "prod");
    expect(prefix).toBe("mqgate-prod");
    expect(() => checkQueuePrefix(prefix)).not.toThrow();
    expect(() => queuePrefix("mqgate", "a".repeat(MAX_PREFIX_LENGTH))).toThrow(/shorter stage/);
    expect(() => queuePrefix("mqgate", "pr.od")).toThrow();
  });

  it("the node-queue pattern covers every node queue core/communicator names, odd node ids included", () => {
    const prefix = queuePrefix("mqgate", "prod");
    for (const nodeId of ["ip-10-0-1-23.ec2.internal-1", "n1", "x".repeat(120), "ümlaut node"]) {
      expect(patternMatches(nodeQueueNamePattern(prefix), nodeQueueName(prefix, nodeId))).toBe(true);
    }
    // ... and no other stage's.
    expect(patternMatches(nodeQueueNamePattern(prefix), nodeQueueName("mqgate-prod2", "n1"))).toBe(false);
    expect(patternMatches(nodeQueueNamePattern(prefix), nodeQueueName("mqgate-dev", "n1"))).toBe(false);
  });

  it("the events queues are FIFO and outside the node-queue pattern: brokers cannot delete them", () => {
    const prefix = queuePrefix("mqgate", "prod");
    for (const name of [eventsQueueName(prefix), eventsDeadLetterQueueName(prefix)]) {
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,75}\.fifo$/);
      expect(patternMatches(nodeQueueNamePattern(prefix), name)).toBe(false);
    }
    expect(sqsArn(where, eventsQueueName(prefix))).toBe("arn:aws:sqs:eu-west-1:123456789012:mqgate-prod-events.fifo");
  });
});

describe("events queue", () => {
  const plan = eventsQueuePlan(EVENTS_CONSUMER.timeoutSeconds);
  it("FIFO, deduplicated by event id, high throughput per client id", () => {
    expect(plan).toMatchObject({
      fifo: true,
      contentBasedDeduplication: false,
      deduplicationScope: "messageGroup",
      fifoThroughputLimit: "perMessageGroupId",
    });
  });
  it("visibility timeout at least six times the consumer's timeout; a dead-letter queue after a few receives", () => {
    expect(plan.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * EVENTS_CONSUMER.timeoutSeconds);
    expect(plan.visibilityTimeoutSeconds).toBeLessThanOrEqual(43_200); // SQS maximum, 12 h
    expect(plan.maxReceiveCount).toBeGreaterThanOrEqual(3);
    expect(plan.deadLetterRetentionSeconds).toBeGreaterThan(plan.retentionSeconds); // time to inspect and redrive
    expect(plan.deadLetterRetentionSeconds).toBeLessThanOrEqual(14 * 86_400);
  });
});

describe("node queues' dead-letter queue", () => {
  it("FIFO, outside the node-queue pattern (brokers cannot delete it), an ARN the config accepts", async () => {
    const prefix = queuePrefix("mqgate", "prod");
    const name = nodeDeadLetterQueueName(prefix);
    expect(name).toMatch(/^[A-Za-z0-9_-]{1,75}\.fifo$/);
    expect(patternMatches(nodeQueueNamePattern(prefix), name)).toBe(false);
    for (const nodeId of ["dlq", "s-dlq", "n1"]) expect(nodeQueueName(prefix, nodeId)).not.toBe(name);
    const { loadConfig } = await import("../../core/config/index.js");
    const config = await loadConfig({ env: { MQGATE_CLUSTER__DEAD_LETTER_QUEUE_ARN: sqsArn(where, name) } });
    expect(config.cluster.deadLetterQueueArn).toBe("arn:aws:sqs:eu-west-1:123456789012:mqgate-prod-nodes-dlq.fifo");
  });

  it("takes only what no broker lived to delete: after more receives than the brokers' own limit; kept to inspect", () => {
    expect(NODE_QUEUE_DEAD_LETTER.maxReceiveCount).toBeGreaterThan(5); // core/communicator's maxReceiveCount default
    expect(NODE_QUEUE_DEAD_LETTER.retentionSeconds).toBeGreaterThan(86_400); // node queues keep a day
    expect(NODE_QUEUE_DEAD_LETTER.retentionSeconds).toBeLessThanOrEqual(14 * 86_400);
  });

  it("every broker gets its ARN (infra/broker.ts)", () => {
    const source = readFileSync(join(root, "infra/broker.ts"), "utf8");
    expect(source).toMatch(/MQGATE_CLUSTER__DEAD_LETTER_QUEUE_ARN: nodeDeadLetterQueue\.arn/);
  });
});

describe("IAM", () => {
  const nodeArn = sqsArn(where, nodeQueueNamePattern("mqgate-prod"));
  const eventsArn = sqsArn(where, eventsQueueName("mqgate-prod"));
  const actions = (s: { actions: string[] }[]) => new Set(s.flatMap((x) => x.actions));

  it("brokers: create, use and delete node queues, by name pattern only; send events", () => {
    const owner = nodeQueueOwnerStatements(nodeArn);
    expect(owner.every((s) => s.resources.every((r) => r === nodeArn))).toBe(true);
    for (const a of ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"]) {
      expect(actions(owner).has(a), a).toBe(true);
    }
    const events = eventsSenderStatements(eventsArn);
    expect(events).toEqual([{ actions: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"], resources: [eventsArn] }]);
    for (const s of [...owner, ...events]) for (const a of s.actions) expect(a).toMatch(/^sqs:[A-Za-z]+$/);
  });

  it("REST functions: send to node queues, never create or delete them", () => {
    const sender = actions(nodeQueueSenderStatements(nodeArn));
    expect(sender.has("sqs:SendMessage")).toBe(true);
    expect(sender.has("sqs:CreateQueue") || sender.has("sqs:DeleteQueue") || sender.has("sqs:ReceiveMessage")).toBe(false);
  });

  it("covers every SQS call core/communicator makes", () => {
    const dir = join(root, "core/communicator");
    const used = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(join(dir, file), "utf8").matchAll(/\b([A-Z][A-Za-z]+?)(?:Batch)?Command\b/g)) {
        used.add(`sqs:${m[1]}`);
      }
    }
    expect(used.size).toBeGreaterThan(0);
    const granted = actions([...nodeQueueOwnerStatements(nodeArn), ...eventsSenderStatements(eventsArn)]);
    expect([...used].filter((a) => !granted.has(a))).toEqual([]);
  });
});
