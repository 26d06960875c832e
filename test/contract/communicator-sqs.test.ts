import { randomUUID } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommunicatorError } from "../../core/communicator/errors.js";
import type { NodeMessage } from "../../core/communicator/types.js";
import { MalformedMessage, NodeUnreachable } from "../../core/communicator/errors.js";
import { nodeQueueName } from "../../core/communicator/queue-names.js";
import { SqsCommunicator, type SqsCommunicatorOptions } from "../../core/communicator/sqs.js";
import { isQueueMissing } from "../../core/communicator/sqs-client.js";
import { type Fauxqs, startFauxqs } from "../helpers/fauxqs.js";
import { deliver, deliveries, Inbox, seqsByOrigin, sleep, until } from "./communicator/fixtures.js";
import { communicatorContract } from "./communicator.suite.js";
import { range } from "./communicator/messaging.js";

let fauxqs: Fauxqs;
let admin: SQSClient;
let prefixes = 0;

beforeAll(async () => {
  fauxqs = await startFauxqs();
  admin = fauxqs.client();
});

afterAll(async () => {
  admin?.destroy();
  await fauxqs?.stop();
});

/** Fast settings for tests: 1 s polls, 2 s visibility, immediate redelivery, 3 attempts. */
const FAST: Omit<SqsCommunicatorOptions, "client" | "prefix"> = {
  waitTimeSeconds: 1,
  visibilityTimeoutSeconds: 2,
  retryDelaySeconds: 0,
  maxReceiveCount: 3,
};

async function queueUrl(name: string): Promise<string | null> {
  try {
    return (await admin.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ?? null;
  } catch (err) {
    if (isQueueMissing(err)) return null;
    throw err;
  }
}

async function deleteQueues(prefix: string): Promise<void> {
  const res = await admin.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
  for (const url of res.QueueUrls ?? []) await admin.send(new DeleteQueueCommand({ QueueUrl: url }));
}

/** Every test gets its own queue name prefix; its communicators each get their own client, like processes. */
function makeHarness(extra: Partial<SqsCommunicatorOptions> = {}) {
  const prefix = `t${++prefixes}-${randomUUID().slice(0, 8)}`;
  const errors: CommunicatorError[] = [];
  const made: { c: SqsCommunicator; client: SQSClient }[] = [];
  const name = (nodeId: string): string => nodeQueueName(prefix, nodeId);
  return {
    prefix,
    errors,
    maxMessageBytes: 262_144,
    maxDeliveries: FAST.maxReceiveCount ?? 3,
    create(opts: Partial<SqsCommunicatorOptions> = {}): SqsCommunicator {
      const client = fauxqs.client();
      const c = new SqsCommunicator({ client, prefix, ...FAST, onError: (e) => errors.push(e), ...extra, ...opts });
      made.push({ c, client });
      return c;
    },
    async injectRaw(nodeId: string, body: string): Promise<void> {
      const url = await queueUrl(name(nodeId));
      if (url === null) throw new Error(`no queue for ${nodeId}`);
      await admin.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageGroupId: "raw", MessageDeduplicationId: randomUUID() }));
    },
    async queueExists(nodeId: string): Promise<boolean> {
      return (await queueUrl(name(nodeId))) !== null;
    },
    async depth(nodeId: string): Promise<number> {
      const url = await queueUrl(name(nodeId));
      if (url === null) return 0;
      const res = await admin.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
      );
      return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
    async cleanup(): Promise<void> {
      for (const { c } of made) await c.stop();
      await deleteQueues(prefix);
      for (const { client } of made) client.destroy();
    },
  };
}

communicatorContract("sqs (fauxqs)", async () => makeHarness());

describe("SqsCommunicator on fauxqs", () => {
  it("creates its node queue as high-throughput FIFO with the configured limits, named from the node id", async () => {
    const h = makeHarness();
    const c = h.create();
    expect(c.kind).toBe("sqs");
    const url = await c.start("node-1", new Inbox().handler);
    expect(url).toMatch(new RegExp(`/${h.prefix}-node-node-1\\.fifo$`));
    const attrs = (await admin.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }))).Attributes ?? {};
    expect(attrs).toMatchObject({
      FifoQueue: "true",
      ContentBasedDeduplication: "false",
      DeduplicationScope: "messageGroup",
      FifoThroughputLimit: "perMessageGroupId",
      VisibilityTimeout: "2",
      MaximumMessageSize: "262144",
      ReceiveMessageWaitTimeSeconds: "1",
    });
    await h.cleanup();
  });

  it("packs one origin's messages into few SQS messages, unpacked in order on receipt; a bad element of a packed body is skipped alone", async () => {
    const h = makeHarness();
    const [a, b] = [h.create(), h.create()];
    await b.start("n-b", new Inbox().handler);
    await b.stop(); // the queue stays and keeps accepting
    await a.send("n-b", range(1, 25).map((i) => deliver("n-a", i)));
    // One group, one call: one packed SQS message (at most 10 per batch, however many messages).
    expect(await h.depth("n-b")).toBe(1);
    const got: number[] = [];
    const drained = await a.drainQueue("n-b", async (messages) => {
      for (const m of messages) if (m.type === "deliver") got.push(m.seq);
    });
    expect(got).toEqual(range(1, 25));
    expect(drained).toMatchObject({ drained: 25, malformed: 0 });
    // One malformed element costs itself only (reported, counted), not the good messages packed with it.
    const good = JSON.stringify(deliver("n-a", 1));
    const also = JSON.stringify(deliver("n-a", 2));
    await h.injectRaw("n-b", `[${good},{"type":"deliver"},${also}]`);
    const kept: number[] = [];
    const again = await a.drainQueue("n-b", async (messages) => {
      for (const m of messages) if (m.type === "deliver") kept.push(m.seq);
    });
    expect(kept).toEqual([1, 2]);
    expect(again).toMatchObject({ drained: 2, malformed: 1 });
    const reported = h.errors.filter((e) => e instanceof MalformedMessage);
    expect(reported.map((e) => e.problem).join()).toMatch(/element 1/);
    // A packed body that is not JSON at all is one malformed message.
    await h.injectRaw("n-b", `[${good},`);
    expect(await a.drainQueue("n-b", async () => undefined)).toMatchObject({ drained: 0, malformed: 1 });
    await h.cleanup();
  });

  it("with a dead-letter queue: the node queue's redrive policy moves a message no node lived to delete there", async () => {
    const h = makeHarness();
    const dlqUrl = (await admin.send(new CreateQueueCommand({ QueueName: `${h.prefix}-nodes-dlq.fifo`, Attributes: { FifoQueue: "true" } }))).QueueUrl as string;
    const dlqArn = (await admin.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn as string;
    const [a, b] = [h.create(), h.create({ deadLetterQueueArn: dlqArn, deadLetterAfterReceives: 2 })];
    const url = await b.start("b", new Inbox().handler);
    await b.stop(); // a node that crashes on every receive: nobody deletes
    const attrs = (await admin.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["RedrivePolicy"] }))).Attributes ?? {};
    expect(JSON.parse(attrs.RedrivePolicy ?? "{}")).toEqual({ deadLetterTargetArn: dlqArn, maxReceiveCount: 2 });
    await a.send("b", [deliver("a", 1)]);
    for (let i = 0; i < 3; i++) await admin.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, WaitTimeSeconds: 1 }));
    const moved = await admin.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }));
    expect(moved.Messages?.map((m) => JSON.parse(m.Body ?? "[]"))?.flat()).toEqual([expect.objectContaining({ id: "a-1" })]);
    await admin.send(new DeleteQueueCommand({ QueueUrl: dlqUrl }));
    await h.cleanup();
  });

  it("every ReceiveMessage carries its own ReceiveRequestAttemptId (an SDK retry of it gets the same messages back)", async () => {
    const h = makeHarness();
    const client = fauxqs.client();
    const attempts: (string | undefined)[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "ReceiveMessageCommand") attempts.push((args.input as { ReceiveRequestAttemptId?: string }).ReceiveRequestAttemptId);
        return next(args);
      },
      { step: "initialize" },
    );
    const [a, b] = [h.create(), h.create({ client })];
    const inbox = new Inbox();
    await b.start("b", inbox.handler);
    await a.send("b", [deliver("a", 1)]);
    await inbox.waitFor(1);
    await until(() => attempts.length >= 2, 5_000, () => "a second receive");
    expect(attempts.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(attempts).size).toBe(attempts.length);
    await h.cleanup();
    client.destroy();
  });

  it("queue names: safe ids kept; others cleaned, shortened and hashed so they stay distinct", () => {
    expect(nodeQueueName("mq", "node-1")).toBe("mq-node-node-1.fifo");
    const a = nodeQueueName("mq", "broker.eu-west-1a:7");
    const b = nodeQueueName("mq", "broker_eu-west-1a_7");
    expect(a).toMatch(/^mq-node-broker_eu-west-1a_7-[0-9a-f]{10}\.fifo$/);
    expect(b).toBe("mq-node-broker_eu-west-1a_7.fifo");
    const long = nodeQueueName("p".repeat(40), "n".repeat(100));
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).not.toBe(nodeQueueName("p".repeat(40), `${"n".repeat(99)}m`));
    expect(() => nodeQueueName("bad prefix", "n")).toThrow(/prefix/);
  });

  it("works for node ids that are not queue-name safe, and for long non-ASCII client ids (group ids hashed)", async () => {
    const h = makeHarness();
    const [a, b] = [h.create(), h.create()];
    const inbox = new Inbox();
    await b.start("broker.eu/1:ü", inbox.handler);
    const clientId = "ü/".repeat(150);
    await a.send("broker.eu/1:ü", [{ type: "kick", id: `ü-${"x".repeat(200)}`, clientId, reason: "kicked", discardSession: false }]);
    const [m] = await inbox.waitFor(1);
    expect(m).toMatchObject({ type: "kick", clientId });
    await h.cleanup();
  });

  it("sends a take-over kick behind the claiming node's forwards (its group), and an unordered one in the client's group, which a batch of that node's group held in flight does not hold back (decisions 031, 036)", async () => {
    const h = makeHarness();
    const [a, b] = [h.create(), h.create()];
    const url = await b.start("n-b", new Inbox().handler);
    await b.stop();
    // Another reader (a node that drained n-b's queue and was cut off) holds n-a's forward in flight.
    await a.send("n-b", [deliver("n-a", 1)]);
    const held = await admin.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 1 }));
    expect(held.Messages?.length).toBe(1);
    const kick = (id: string, unordered: boolean): NodeMessage => ({ type: "kick", id, clientId: "dev", reason: "takeover", discardSession: false, epoch: 4, node: "n-a", ...(unordered ? { unordered } : {}) });
    await a.send("n-b", [kick("k-ordered", false), kick("k-unordered", true)]);
    const inbox = new Inbox();
    const c = h.create();
    await c.start("n-b", inbox.handler);
    await inbox.waitFor(1);
    await sleep(1500);
    expect(inbox.ids()).toEqual(["k-unordered"]);
    await h.cleanup();
  });

  it("the message id deduplicates: a message sent twice (a retried send) is delivered once", async () => {
    const h = makeHarness();
    const [a, b] = [h.create(), h.create()];
    const inbox = new Inbox();
    await b.start("b", inbox.handler);
    await a.send("b", [deliver("a", 1), deliver("a", 2)]);
    await a.send("b", [deliver("a", 2), deliver("a", 3)]);
    await inbox.waitFor(3);
    await sleep(1_200);
    expect(inbox.ids()).toEqual(["a-1", "a-2", "a-3"]);
    await h.cleanup();
  });

  it("batches up to 10 SQS entries per SendMessageBatch (one per group, a group's messages packed) and splits by size below 256 KiB", async () => {
    const h = makeHarness();
    const [a, b] = [h.create({ sendLanes: 1 }), h.create()];
    const inbox = new Inbox();
    await b.start("b", inbox.handler);
    const calls = countCommands(a, "SendMessageBatchCommand");
    // 12 origins (12 FIFO groups), two messages each: 12 entries, so two calls of 10 and 2.
    const origins = range(1, 12).map((i) => `o${i}`);
    await a.send("b", origins.flatMap((o) => [deliver(o, 1), deliver(o, 2)]));
    expect(calls.sizes).toEqual([10, 2]);
    calls.sizes.length = 0;
    // One group, 25 messages: one packed entry.
    await a.send("b", deliveries("a", 1, 25));
    expect(calls.sizes).toEqual([1]);
    calls.sizes.length = 0;
    const big = (seq: number) => deliver("a", seq, Buffer.alloc(75 * 1024, seq)); // ~100 KB encoded each
    await a.send("b", [big(26), big(27), big(28), big(29), big(30)]);
    // Two ~100 KB messages fit under the 256 KiB limit, packed into one entry: three calls of one entry.
    expect(calls.sizes).toEqual([1, 1, 1]);
    await inbox.waitFor(24 + 30);
    expect(seqsByOrigin(inbox.messages)).toEqual({ a: range(1, 30), ...Object.fromEntries(origins.map((o) => [o, [1, 2]])) });
    await h.cleanup();
  });

  it("stop() aborts a 20 s long poll at once", async () => {
    const h = makeHarness({ waitTimeSeconds: 20 });
    const c = h.create();
    await c.start("n", new Inbox().handler);
    await sleep(200); // the poll is waiting
    const t0 = Date.now();
    await c.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
    await h.cleanup();
  });

  it("a message sent just after stop() is not lost, though the aborted long poll may hide it for one visibility timeout", async () => {
    const h = makeHarness();
    const [a, b1] = [h.create(), h.create({ waitTimeSeconds: 5 })];
    await b1.start("b", new Inbox().handler);
    await sleep(300); // b1's poll is waiting on the server
    await b1.stop();
    await a.send("b", [deliver("a", 1)]); // fauxqs hands it to the abandoned poll: in flight, invisible for 2 s
    const inbox = new Inbox();
    await h.create().start("b", inbox.handler);
    expect((await inbox.waitFor(1, 10_000)).map((m) => m.id)).toEqual(["a-1"]);
    await h.cleanup();
  });

  it("a node whose queue is deleted under it reports NodeUnreachable and stops polling", async () => {
    const h = makeHarness();
    const [b, other] = [h.create(), h.create()];
    await b.start("b", new Inbox().handler);
    await other.deleteNodeQueue("b");
    await until(() => h.errors.some((e) => e instanceof NodeUnreachable));
    const count = h.errors.length;
    await sleep(1_500);
    expect(h.errors.length).toBe(count); // no error loop
    await h.cleanup();
  });

  it("adopts an existing queue of the same name created with other settings, and applies its own", async () => {
    const h = makeHarness();
    const name = nodeQueueName(h.prefix, "n");
    await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: "true", VisibilityTimeout: "60" } }));
    const inbox = new Inbox();
    const url = await h.create().start("n", inbox.handler);
    const attrs = (await admin.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["VisibilityTimeout"] }))).Attributes;
    expect(attrs?.VisibilityTimeout).toBe("2");
    await h.create().send("n", [deliver("a", 1)]);
    await inbox.waitFor(1);
    await h.cleanup();
  });

  it("a send to an unknown node fails fast with NodeUnreachable after a single GetQueueUrl, not one per batch or retry", async () => {
    const h = makeHarness();
    const a = h.create();
    const calls = countCommands(a, "GetQueueUrlCommand");
    await expect(a.send("nobody", deliveries("a", 1, 30))).rejects.toBeInstanceOf(NodeUnreachable);
    expect(calls.sizes.length).toBe(1); // one lookup shared by every lane and batch
    await h.cleanup();
  });
});

/** Counts commands of one kind a communicator's client sends (and the entries of batch calls). */
function countCommands(c: SqsCommunicator, command: string): { sizes: number[] } {
  const client = (c as unknown as { client: SQSClient }).client;
  const out = { sizes: [] as number[] };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command) {
        const input = args.input as { Entries?: unknown[] };
        out.sizes.push(input.Entries?.length ?? 1);
      }
      return next(args);
    },
    { step: "initialize", name: `count-${command}-${randomUUID()}` },
  );
  return out;
}
