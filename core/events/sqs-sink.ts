import { CreateQueueCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../communicator/constants.js";
import { PayloadTooLarge } from "../communicator/errors.js";
import { bodyBytes } from "../communicator/schema.js";
import { type OutEntry, SqsBatchSender } from "../communicator/sqs-batch.js";
import { sqsToken } from "../communicator/sqs-client.js";
import { EventSinkClosed } from "./errors.js";
import { encodeEvent } from "./parse.js";
import type { MqgateEvent } from "./schema.js";
import type { EventSink } from "./sink.js";

/**
 * Emits events to the events queue, an SQS FIFO queue: MessageGroupId = clientId (order per client),
 * MessageDeduplicationId = event id (a retried send is enqueued once). Events wait at most `flushIntervalMs` to
 * fill a batch of 10 (or go at once when 10 are waiting); batches of different clients go out in parallel lanes.
 *
 * Rejections of `emit`: InvalidEvent (nothing sent), PayloadTooLarge (an event over `maxMessageBytes`, nothing
 * sent; see `omitOversizePayload`), BufferFull (`maxBuffered` events already waiting), SendFailed (SQS kept
 * refusing after the bounded retries), EventSinkClosed.
 */
export interface SqsEventSinkOptions {
  /** From createSqsClient() (core/communicator/sqs-client.ts). Owned by the caller. */
  client: SQSClient;
  /** The events queue (a .fifo queue; see createEventsQueue). */
  queueUrl: string;
  /** Longest wait for a batch to fill. Default 10 ms; 0 sends at once. */
  flushIntervalMs?: number;
  /** Events waiting or in flight. Default 10,000. */
  maxBuffered?: number;
  /** Parallel SendMessageBatch calls (over different clients). Default 8. */
  lanes?: number;
  /** Attempts per event (on top of the SDK's per-call retries). Default 4. */
  attempts?: number;
  retryBaseMs?: number;
  /** Largest encoded event. Default 256 KiB. */
  maxMessageBytes?: number;
  /**
   * A `message.published` over the limit is sent without its payload (`payload: ""`, `payloadOmitted: true`)
   * instead of refused. Default false: refused, so the publish is not acknowledged.
   */
  omitOversizePayload?: boolean;
}

export class SqsEventSink implements EventSink {
  private readonly sender: SqsBatchSender;
  private readonly maxMessageBytes: number;
  private readonly omitOversizePayload: boolean;
  private closed = false;

  constructor(opts: SqsEventSinkOptions) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.omitOversizePayload = opts.omitOversizePayload ?? false;
    const queueUrl = Promise.resolve(opts.queueUrl);
    this.sender = new SqsBatchSender({
      client: opts.client,
      target: "events queue",
      queueUrl: () => queueUrl,
      lanes: opts.lanes ?? 8,
      maxBuffered: opts.maxBuffered ?? 10_000,
      maxBatchBytes: this.maxMessageBytes,
      lingerMs: opts.flushIntervalMs ?? 10,
      attempts: opts.attempts ?? 4,
      retryBaseMs: opts.retryBaseMs ?? 50,
    });
  }

  /** Events waiting or in flight. */
  get buffered(): number {
    return this.sender.size;
  }

  async emit(events: readonly MqgateEvent[]): Promise<void> {
    if (this.closed) throw new EventSinkClosed();
    const entries: OutEntry[] = [];
    for (const event of events) {
      let body = encodeEvent(event);
      let bytes = bodyBytes(body);
      if (bytes > this.maxMessageBytes && this.omitOversizePayload && event.type === "message.published") {
        body = encodeEvent({ ...event, payload: "", payloadOmitted: true });
        bytes = bodyBytes(body);
      }
      if (bytes > this.maxMessageBytes) throw new PayloadTooLarge(event.id, bytes, this.maxMessageBytes);
      entries.push({ id: event.id, body, bytes, groupId: sqsToken(event.clientId), dedupId: sqsToken(event.id) });
    }
    await this.sender.send(entries);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sender.flush();
  }
}

/**
 * Creates (or finds) an events queue with the attributes the sink relies on, and returns its URL. In AWS the
 * queue comes from infra/; this is for local clusters and tests.
 */
export async function createEventsQueue(client: SQSClient, name: string, opts: { retentionSeconds?: number } = {}): Promise<string> {
  if (!name.endsWith(".fifo")) throw new Error(`the events queue must be FIFO: ${JSON.stringify(name)} does not end in .fifo`);
  const res = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        FifoQueue: "true",
        ContentBasedDeduplication: "false",
        DeduplicationScope: "messageGroup",
        FifoThroughputLimit: "perMessageGroupId",
        MaximumMessageSize: String(DEFAULT_MAX_MESSAGE_BYTES),
        MessageRetentionPeriod: String(opts.retentionSeconds ?? 345_600),
      },
    }),
  );
  if (res.QueueUrl === undefined) throw new Error(`CreateQueue ${name} answered no URL`);
  return res.QueueUrl;
}
