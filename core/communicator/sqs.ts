import { DeleteQueueCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_WAIT_TIME_SECONDS, SQS_MAX_MESSAGE_BYTES } from "./constants.js";
import { CommunicatorError, type CommunicatorErrorListener, NodeUnreachable, PayloadTooLarge } from "./errors.js";
import { checkQueuePrefix, nodeQueueName } from "./queue-names.js";
import { bodyBytes, encodeNodeMessage } from "./schema.js";
import { type OutEntry, SqsBatchSender } from "./sqs-batch.js";
import { isQueueMissing, sqsToken } from "./sqs-client.js";
import { createNodeQueue, groupOf, type NodeQueueSettings } from "./sqs-node-queue.js";
import { type ReceiverOptions, SqsReceiver } from "./sqs-receiver.js";
import type { Communicator, DrainResult, NodeMessage, NodeMessageHandler } from "./types.js";

/**
 * The SQS communicator: one FIFO queue per node, `<prefix>-node-<nodeId>.fifo` (docs/decisions/004). Messages
 * of one ordering group (a `deliver`'s origin, else the clientId) keep their order; the message id is the
 * deduplication id, so a retried send is enqueued once.
 */

export interface SqsCommunicatorOptions {
  /** From createSqsClient() (core/communicator/sqs-client.ts). Owned by the caller, who destroys it. */
  client: SQSClient;
  /** Queue name prefix, the deployment's name: letters, digits, '-', '_', at most 40. */
  prefix: string;
  /** Long-poll wait, 1–20 s. Default 20. */
  waitTimeSeconds?: number;
  /** Visibility timeout of received messages (the node queue's attribute). Default 30 s. */
  visibilityTimeoutSeconds?: number;
  /** Redelivery delay after the handler rejected a batch. Default 1 s. */
  retryDelaySeconds?: number;
  /** Deliveries of a message before it is dropped and reported. Default 5. */
  maxReceiveCount?: number;
  /** How long SQS keeps an unreceived message (a dead node's queue). Default 1 day. */
  retentionSeconds?: number;
  /**
   * ARN of a FIFO dead-letter queue: set as the node queue's redrive target, so a message received
   * `deadLetterAfterReceives` times and never deleted (a node crashing on it) moves there. Default: none.
   */
  deadLetterQueueArn?: string | undefined;
  /** Receives before SQS moves a message to `deadLetterQueueArn`. Default 10 (above `maxReceiveCount`). */
  deadLetterAfterReceives?: number;
  /** Largest encoded message, and largest SendMessageBatch. Default 256 KiB; at most 1 MiB. */
  maxMessageBytes?: number;
  /** Messages waiting or in flight per target node. Default 10,000. */
  maxBuffered?: number;
  /** Parallel SendMessageBatch calls per target node (over different ordering groups). Default 4. */
  sendLanes?: number;
  /** Attempts per message (on top of the SDK's per-call retries). Default 4. */
  sendAttempts?: number;
  /** First retry delay, doubling. Default 50 ms. */
  retryBaseMs?: number;
  /** Handled message ids remembered to skip redeliveries. Default 10,000. */
  dedupWindow?: number;
  /** Target queue URLs cached. Default 1,024. */
  maxCachedUrls?: number;
  onError?: CommunicatorErrorListener;
}

interface Self {
  nodeId: string;
  url: string;
  receiver: SqsReceiver;
}

export class SqsCommunicator implements Communicator {
  readonly kind = "sqs" as const;
  private readonly client: SQSClient;
  private readonly prefix: string;
  private readonly receiverOpts: ReceiverOptions;
  private readonly retentionSeconds: number;
  private readonly redrivePolicy: string | null;
  private readonly maxMessageBytes: number;
  private readonly maxBuffered: number;
  private readonly sendLanes: number;
  private readonly sendAttempts: number;
  private readonly retryBaseMs: number;
  private readonly maxCachedUrls: number;
  private readonly urls = new Map<string, Promise<string>>();
  private readonly senders = new Map<string, SqsBatchSender>();
  private self: Self | null = null;

  constructor(opts: SqsCommunicatorOptions) {
    checkQueuePrefix(opts.prefix);
    this.client = opts.client;
    this.prefix = opts.prefix;
    const wait = opts.waitTimeSeconds ?? DEFAULT_WAIT_TIME_SECONDS;
    if (!Number.isInteger(wait) || wait < 1 || wait > 20) throw new RangeError("waitTimeSeconds must be 1-20");
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (this.maxMessageBytes < 1024 || this.maxMessageBytes > SQS_MAX_MESSAGE_BYTES) {
      throw new RangeError(`maxMessageBytes must be 1024-${SQS_MAX_MESSAGE_BYTES}`);
    }
    this.receiverOpts = {
      waitTimeSeconds: wait,
      visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds ?? 30,
      retryDelaySeconds: opts.retryDelaySeconds ?? 1,
      maxReceiveCount: opts.maxReceiveCount ?? 5,
      dedupWindow: opts.dedupWindow ?? 10_000,
      onError: opts.onError ?? (() => {}),
    };
    this.retentionSeconds = opts.retentionSeconds ?? 86_400;
    const arn = opts.deadLetterQueueArn;
    this.redrivePolicy =
      arn === undefined ? null : JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: opts.deadLetterAfterReceives ?? 10 });
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    this.sendLanes = opts.sendLanes ?? 4;
    this.sendAttempts = opts.sendAttempts ?? 4;
    this.retryBaseMs = opts.retryBaseMs ?? 50;
    this.maxCachedUrls = opts.maxCachedUrls ?? 1_024;
  }

  /** The queue name of a node (any sender computes it from the node id alone). */
  queueName(nodeId: string): string {
    return nodeQueueName(this.prefix, nodeId);
  }

  async start(nodeId: string, handler: NodeMessageHandler): Promise<string> {
    if (this.self !== null) throw new CommunicatorError(`already started as node ${JSON.stringify(this.self.nodeId)}`);
    const url = await this.createQueue(nodeId);
    const receiver = new SqsReceiver(this.client, nodeId, url, this.receiverOpts);
    this.self = { nodeId, url, receiver };
    this.urls.set(nodeId, Promise.resolve(url));
    receiver.start(handler);
    return url;
  }

  async send(nodeId: string, messages: NodeMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const entries = new Array<OutEntry>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as NodeMessage;
      const body = encodeNodeMessage(m);
      const bytes = bodyBytes(body);
      if (bytes > this.maxMessageBytes) throw new PayloadTooLarge(m.id, bytes, this.maxMessageBytes);
      const group = groupOf(m);
      entries[i] = { id: m.id, body, bytes, groupId: sqsToken(group), dedupId: sqsToken(m.id) };
    }
    // Enqueued synchronously, in call order: overlapping sends to one node keep their order per group.
    const sender = this.senderFor(nodeId);
    try {
      await sender.send(entries);
    } catch (err) {
      if (err instanceof NodeUnreachable && sender.size === 0) this.senders.delete(nodeId);
      throw err;
    }
  }

  handBack(): void {
    this.self?.receiver.handBack();
  }

  async stop(opts: { deleteQueue?: boolean } = {}): Promise<void> {
    const self = this.self;
    if (self === null) return;
    this.self = null;
    await self.receiver.stop();
    if (opts.deleteQueue === true) await this.deleteUrl(self.nodeId, self.url);
  }

  async drainQueue(nodeId: string, handler: NodeMessageHandler): Promise<DrainResult> {
    if (this.self?.nodeId === nodeId) throw new CommunicatorError(`node ${JSON.stringify(nodeId)} is this node; drain only dead nodes`);
    const url = await this.queueUrl(nodeId);
    const receiver = new SqsReceiver(this.client, nodeId, url, this.receiverOpts);
    try {
      // Drained when a receive (long poll) returns nothing. ApproximateNumberOfMessages is approximate and lags; a
      // message the dead node had received is invisible until its visibility timeout ends: the caller drains again
      // until then (Cluster keeps the queue for cluster.deadQueueGraceMs), so `remaining` is not estimated.
      const { drained, malformed } = await receiver.drain(handler);
      return { drained, malformed, remaining: 0 };
    } catch (err) {
      if (!isQueueMissing(err)) throw err;
      this.forget(nodeId);
      throw new NodeUnreachable(nodeId, { cause: err });
    }
  }

  async deleteNodeQueue(nodeId: string): Promise<void> {
    if (this.self?.nodeId === nodeId) return this.stop({ deleteQueue: true });
    let url: string;
    try {
      url = await this.queueUrl(nodeId);
    } catch (err) {
      if (err instanceof NodeUnreachable) return;
      throw err;
    }
    await this.deleteUrl(nodeId, url);
  }

  private async createQueue(nodeId: string): Promise<string> {
    const settings: NodeQueueSettings = {
      visibilityTimeoutSeconds: this.receiverOpts.visibilityTimeoutSeconds,
      maxMessageBytes: this.maxMessageBytes,
      retentionSeconds: this.retentionSeconds,
      waitTimeSeconds: this.receiverOpts.waitTimeSeconds,
      redrivePolicy: this.redrivePolicy,
    };
    return createNodeQueue(this.client, { queueName: this.queueName(nodeId), nodeId, settings, existingUrl: () => this.queueUrl(nodeId) });
  }

  /** The node's queue URL, looked up once and cached (one lookup in flight per node); NodeUnreachable if none. */
  private queueUrl(nodeId: string): Promise<string> {
    const cached = this.urls.get(nodeId);
    if (cached !== undefined) return cached;
    const lookup = this.client.send(new GetQueueUrlCommand({ QueueName: this.queueName(nodeId) })).then(
      (res) => {
        if (res.QueueUrl === undefined) throw new CommunicatorError(`GetQueueUrl for node ${JSON.stringify(nodeId)} answered no URL`);
        return res.QueueUrl;
      },
      (err: unknown) => {
        if (this.urls.get(nodeId) === lookup) this.urls.delete(nodeId);
        throw isQueueMissing(err) ? new NodeUnreachable(nodeId, { cause: err }) : err;
      },
    );
    if (this.urls.size >= this.maxCachedUrls) {
      const oldest = this.urls.keys().next();
      if (oldest.done !== true) this.urls.delete(oldest.value);
    }
    this.urls.set(nodeId, lookup);
    return lookup;
  }

  private senderFor(nodeId: string): SqsBatchSender {
    let sender = this.senders.get(nodeId);
    if (sender === undefined) {
      sender = new SqsBatchSender({
        client: this.client,
        target: nodeId,
        queueUrl: () => this.queueUrl(nodeId),
        lanes: this.sendLanes,
        maxBuffered: this.maxBuffered,
        maxBatchBytes: this.maxMessageBytes,
        lingerMs: 0,
        attempts: this.sendAttempts,
        retryBaseMs: this.retryBaseMs,
        // Many messages for one node from one origin travel as one SQS message: see sqs-batch.ts.
        pack: true,
        fatal: (err) => {
          if (err instanceof NodeUnreachable) return err;
          if (!isQueueMissing(err)) return null;
          this.urls.delete(nodeId); // the cached URL's queue is gone
          return new NodeUnreachable(nodeId, { cause: err });
        },
      });
      this.senders.set(nodeId, sender);
    }
    return sender;
  }

  private forget(nodeId: string): void {
    this.urls.delete(nodeId);
    const sender = this.senders.get(nodeId);
    if (sender !== undefined && sender.size === 0) this.senders.delete(nodeId);
  }

  private async deleteUrl(nodeId: string, url: string): Promise<void> {
    try {
      await this.client.send(new DeleteQueueCommand({ QueueUrl: url }));
    } catch (err) {
      if (!isQueueMissing(err)) throw err;
    }
    this.forget(nodeId);
  }
}

