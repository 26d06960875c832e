import { randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { EventParseError } from "../../core/events/errors.js";
import { EXAMPLE_EVENTS } from "../../core/events/examples.js";
import { createEventFactory } from "../../core/events/factory.js";
import type { MqgateEvent } from "../../core/events/schema.js";
import { createEventsQueue, SqsEventSink } from "../../core/events/sqs-sink.js";
import { createEventsConsumer, handler } from "../../functions/events-consumer.js";
import { startFauxqs } from "../helpers/fauxqs.js";

const ARN = "arn:aws:sqs:eu-west-1:123456789012:mqgate-events.fifo";
let seq = 0;

/** An SQS record exactly as Lambda's event source mapping delivers one from a FIFO queue. */
function record(body: string, groupId: string, extra: Partial<SQSRecord> = {}): SQSRecord {
  seq++;
  return {
    messageId: `0e1f${String(seq).padStart(4, "0")}-5c2a-4b9e-9a61-3f2d7c8e${String(seq).padStart(4, "0")}`,
    receiptHandle: `AQEB${Buffer.from(`rh-${seq}`).toString("base64")}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1767225600321",
      SenderId: "AROAEXAMPLE:broker-a1",
      ApproximateFirstReceiveTimestamp: "1767225600400",
      SequenceNumber: `1869${String(seq).padStart(16, "0")}`,
      MessageGroupId: groupId,
      MessageDeduplicationId: `dedup-${seq}`,
    },
    messageAttributes: {},
    md5OfBody: "0bcd3c2d7fb3e4f0d5c0a1a3e5d4c9b2",
    eventSource: "aws:sqs",
    eventSourceARN: ARN,
    awsRegion: "eu-west-1",
    ...extra,
  };
}

const eventRecord = (e: MqgateEvent): SQSRecord => record(JSON.stringify(e), e.clientId);
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

describe("events consumer (Lambda, partial batch responses)", () => {
  it("hands every parsed event to handleEvent, in order, and reports no failures", async () => {
    const seen: MqgateEvent[] = [];
    const consume = createEventsConsumer((e) => void seen.push(e));
    const events = Object.values(EXAMPLE_EVENTS) as MqgateEvent[];
    expect(await consume(sqsEvent(...events.map(eventRecord)))).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(events);
  });

  it("reports an unparseable record, and every later record of its group unhandled; other groups go on", async () => {
    const make = createEventFactory({ node: "n" });
    const a1 = make("client.connected", { clientId: "a", protocolVersion: 4, clean: true, sessionPresent: false, keepalive: 30 });
    const bad = record(JSON.stringify({ ...a1, password: "pw" }), "a");
    const a2 = make("client.disconnected", { clientId: "a", reason: "client-disconnect" });
    const b1 = make("client.disconnected", { clientId: "b", reason: "takeover" });
    const records = [eventRecord(a1), bad, eventRecord(a2), eventRecord(b1)];
    const seen: string[] = [];
    const failures: [string, unknown][] = [];
    const consume = createEventsConsumer((e) => void seen.push(e.id), { onFailure: (r, err) => failures.push([r.messageId, err]) });
    const res = await consume(sqsEvent(...records));
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: records[1]?.messageId }, { itemIdentifier: records[2]?.messageId }]);
    expect(seen).toEqual([a1.id, b1.id]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.[1]).toBeInstanceOf(EventParseError);
    expect((failures[0]?.[1] as EventParseError).issues.map((i) => i.path)).toEqual(["password"]);
  });

  it("reports a record whose handling throws; async handlers are awaited in order", async () => {
    const order: string[] = [];
    const consume = createEventsConsumer(async (e) => {
      await new Promise((r) => setTimeout(r, e.clientId === "slow" ? 20 : 0));
      if (e.type === "message.dropped") throw new Error("downstream refused");
      order.push(e.clientId);
    });
    const make = createEventFactory({ node: "n" });
    const r1 = eventRecord(make("client.disconnected", { clientId: "slow", reason: "kicked" }));
    const r2 = eventRecord(EXAMPLE_EVENTS["message.dropped"]);
    const r3 = eventRecord(make("client.disconnected", { clientId: "fast", reason: "kicked" }));
    expect(await consume(sqsEvent(r1, r2, r3))).toEqual({ batchItemFailures: [{ itemIdentifier: r2.messageId }] });
    expect(order).toEqual(["slow", "fast"]);
  });

  it("treats records of a standard queue (no group) independently", async () => {
    const consume = createEventsConsumer(() => {});
    const bad = record("{", "x");
    delete bad.attributes.MessageGroupId;
    const good = eventRecord(EXAMPLE_EVENTS["client.connected"]);
    delete good.attributes.MessageGroupId;
    expect(await consume(sqsEvent(bad, good))).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
  });

  it("the exported example handler answers a partial batch response", async () => {
    const bad = record("not an event", "z");
    const res = await handler(sqsEvent(eventRecord(EXAMPLE_EVENTS["session.unsubscribed"]), bad));
    expect(res).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
  });

  it("end to end through fauxqs: SqsEventSink → FIFO queue → receive → consumer", async () => {
    const fauxqs = await startFauxqs();
    const client = fauxqs.client();
    try {
      const url = await createEventsQueue(client, `events-${randomUUID().slice(0, 8)}.fifo`);
      const sink = new SqsEventSink({ client, queueUrl: url, flushIntervalMs: 1 });
      const make = createEventFactory({ node: "broker-a1" });
      const emitted: MqgateEvent[] = [];
      for (let i = 0; i < 12; i++) {
        const clientId = `dev-${i % 3}`;
        emitted.push(make("message.published", { clientId, topic: `t/${clientId}`, qos: 1, retain: false, payload: Buffer.from(`n${i}`).toString("base64") }));
      }
      emitted.push({ ...EXAMPLE_EVENTS["client.connected"], id: "01JQ3Z8W6P9V4K2M7N5R1T3XZZ", clientId: "dev-1" });
      await sink.emit(emitted);
      await sink.close();

      const consumed: MqgateEvent[] = [];
      const consume = createEventsConsumer((e) => void consumed.push(e));
      const deadline = Date.now() + 10_000;
      while (consumed.length < emitted.length && Date.now() < deadline) {
        const res = await client.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }),
        );
        const messages = res.Messages ?? [];
        if (messages.length === 0) continue;
        const response = await consume(toSqsEvent(messages, ARN));
        expect(response.batchItemFailures).toEqual([]);
        await client.send(
          new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
        );
      }
      const byClient = (list: MqgateEvent[]): Record<string, MqgateEvent[]> => {
        const out: Record<string, MqgateEvent[]> = {};
        for (const e of list) (out[e.clientId] ??= []).push(e);
        return out;
      };
      expect(byClient(consumed)).toEqual(byClient(emitted));
    } finally {
      client.destroy();
      await fauxqs.stop();
    }
  });
});

/** What Lambda's event source mapping makes of received SQS messages. */
function toSqsEvent(messages: Message[], arn: string): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? "",
      receiptHandle: m.ReceiptHandle ?? "",
      body: m.Body ?? "",
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
        SentTimestamp: m.Attributes?.SentTimestamp ?? "0",
        SenderId: m.Attributes?.SenderId ?? "",
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? "0",
        SequenceNumber: m.Attributes?.SequenceNumber,
        MessageGroupId: m.Attributes?.MessageGroupId,
        MessageDeduplicationId: m.Attributes?.MessageDeduplicationId,
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? "",
      eventSource: "aws:sqs",
      eventSourceARN: arn,
      awsRegion: "us-east-1",
    })),
  };
}
