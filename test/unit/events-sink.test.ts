import { randomUUID } from "node:crypto";
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BufferFull, PayloadTooLarge, SendFailed } from "../../core/communicator/errors.js";
import { EventSinkClosed, InvalidEvent } from "../../core/events/errors.js";
import { EXAMPLE_EVENTS } from "../../core/events/examples.js";
import { createEventFactory } from "../../core/events/factory.js";
import { parseEvent } from "../../core/events/parse.js";
import type { MqgateEvent } from "../../core/events/schema.js";
import { MemoryEventSink } from "../../core/events/sink.js";
import { createEventsQueue, SqsEventSink, type SqsEventSinkOptions } from "../../core/events/sqs-sink.js";
import { type Fauxqs, startFauxqs } from "../helpers/fauxqs.js";

const make = createEventFactory({ node: "broker-a1" });
const published = (clientId: string, n: number, payload = Buffer.from(`p${n}`)): MqgateEvent =>
  make("message.published", { clientId, topic: `t/${clientId}`, qos: 1, retain: false, payload: payload.toString("base64") });
const withPassword = { ...EXAMPLE_EVENTS["client.connected"], password: "secret" } as unknown as MqgateEvent;

describe("MemoryEventSink", () => {
  it("keeps valid events as they would arrive from the queue, and calls onEvent", async () => {
    const seen: MqgateEvent[] = [];
    const sink = new MemoryEventSink({ onEvent: (e) => seen.push(e) });
    await sink.emit([EXAMPLE_EVENTS["client.connected"], EXAMPLE_EVENTS["message.published"]]);
    expect(sink.events).toEqual([EXAMPLE_EVENTS["client.connected"], EXAMPLE_EVENTS["message.published"]]);
    expect(sink.events[0]).not.toBe(EXAMPLE_EVENTS["client.connected"]);
    expect(seen).toHaveLength(2);
    expect(sink.take()).toHaveLength(2);
    expect(sink.events).toEqual([]);
  });

  it("refuses an invalid event and keeps nothing of that call", async () => {
    const sink = new MemoryEventSink();
    await expect(sink.emit([EXAMPLE_EVENTS["client.disconnected"], withPassword])).rejects.toBeInstanceOf(InvalidEvent);
    expect(sink.events).toEqual([]);
  });

  it("is bounded (oldest dropped, counted) and refuses events once closed", async () => {
    const sink = new MemoryEventSink({ maxEvents: 3 });
    await sink.emit([1, 2, 3, 4, 5].map((n) => published("c", n)));
    expect(sink.events.map((e) => (e.type === "message.published" ? Buffer.from(e.payload, "base64").toString() : ""))).toEqual(["p3", "p4", "p5"]);
    expect(sink.dropped).toBe(2);
    await sink.close();
    await expect(sink.emit([published("c", 6)])).rejects.toBeInstanceOf(EventSinkClosed);
  });
});

describe("SqsEventSink on fauxqs", () => {
  let fauxqs: Fauxqs;
  let admin: SQSClient;
  beforeAll(async () => {
    fauxqs = await startFauxqs();
    admin = fauxqs.client();
  });
  afterAll(async () => {
    admin?.destroy();
    await fauxqs?.stop();
  });

  async function setup(opts: Partial<SqsEventSinkOptions> = {}): Promise<{ sink: SqsEventSink; url: string; calls: number[] }> {
    const url = await createEventsQueue(admin, `events-${randomUUID().slice(0, 8)}.fifo`);
    const client = fauxqs.client();
    const calls: number[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "SendMessageBatchCommand") calls.push((args.input as { Entries: unknown[] }).Entries.length);
        return next(args);
      },
      { step: "initialize" },
    );
    return { sink: new SqsEventSink({ client, queueUrl: url, ...opts }), url, calls };
  }

  async function receiveAll(url: string, expected: number): Promise<Message[]> {
    const out: Message[] = [];
    const deadline = Date.now() + 10_000;
    while (out.length < expected && Date.now() < deadline) {
      const res = await admin.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }),
      );
      const batch = res.Messages ?? [];
      if (batch.length === 0) continue;
      out.push(...batch);
      // Deleted at once: a FIFO group yields its next messages only once these are gone.
      await admin.send(
        new DeleteMessageBatchCommand({ QueueUrl: url, Entries: batch.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
      );
    }
    return out;
  }

  async function depth(url: string): Promise<number> {
    const res = await admin.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }));
    return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  it("emit resolves once SQS holds the events: group = clientId, deduplication id = event id", async () => {
    const { sink, url } = await setup();
    const events = [EXAMPLE_EVENTS["client.connected"], EXAMPLE_EVENTS["message.published"], EXAMPLE_EVENTS["client.disconnected"]];
    await sink.emit(events);
    expect(await depth(url)).toBe(3);
    const received = await receiveAll(url, 3);
    expect(received.map((m) => parseEvent(m.Body ?? ""))).toEqual(events);
    for (const m of received) {
      expect(m.Attributes?.MessageGroupId).toBe("sensor-42");
      expect(m.Attributes?.MessageDeduplicationId).toBe(parseEvent(m.Body ?? "").id);
    }
    await sink.close();
  });

  it("keeps each client's order with interleaved emits from many callers", async () => {
    const { sink, url } = await setup({ flushIntervalMs: 2 });
    const emits: Promise<void>[] = [];
    for (let n = 1; n <= 20; n++) for (const c of ["c1", "c2", "c3"]) emits.push(sink.emit([published(c, n)]));
    await Promise.all(emits);
    const byClient: Record<string, string[]> = {};
    for (const m of await receiveAll(url, 60)) {
      const e = parseEvent(m.Body ?? "");
      if (e.type === "message.published") (byClient[e.clientId] ??= []).push(Buffer.from(e.payload, "base64").toString());
    }
    const expected = Array.from({ length: 20 }, (_, i) => `p${i + 1}`);
    expect(byClient).toEqual({ c1: expected, c2: expected, c3: expected });
    await sink.close();
  });

  it("sends 10 per SendMessageBatch; a lone event waits at most the flush interval", async () => {
    const { sink, calls } = await setup({ lanes: 1, flushIntervalMs: 50 });
    await sink.emit(Array.from({ length: 25 }, (_, i) => published("c1", i)));
    expect(calls).toEqual([10, 10, 5]);
    const t0 = Date.now();
    await sink.emit([published("c1", 99)]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(calls).toEqual([10, 10, 5, 1]);
    await sink.close();
  });

  it("an event emitted twice (a retry) is enqueued once", async () => {
    const { sink, url } = await setup();
    const e = published("c1", 1);
    await sink.emit([e]);
    await sink.emit([e]);
    expect(await depth(url)).toBe(1);
    await sink.close();
  });

  it("refuses invalid events, oversize events, and more than maxBuffered waiting; nothing of such a call is sent", async () => {
    const { sink, url } = await setup({ maxBuffered: 5, flushIntervalMs: 100 });
    await expect(sink.emit([published("c1", 1), withPassword])).rejects.toBeInstanceOf(InvalidEvent);
    const huge = published("c1", 2, Buffer.alloc(200 * 1024));
    const err = await sink.emit([published("c1", 3), huge]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLarge);
    expect(err).toMatchObject({ messageId: huge.id, limit: 262_144 });
    const pending = sink.emit([1, 2, 3, 4].map((n) => published("c2", n)));
    await expect(sink.emit([published("c2", 5), published("c2", 6)])).rejects.toBeInstanceOf(BufferFull);
    expect(sink.buffered).toBe(4);
    await pending;
    expect(await depth(url)).toBe(4);
    await sink.close();
  });

  it("omitOversizePayload sends an oversize message.published without its payload", async () => {
    const { sink, url } = await setup({ omitOversizePayload: true });
    const huge = published("c1", 1, Buffer.alloc(200 * 1024));
    await sink.emit([huge]);
    const [m] = await receiveAll(url, 1);
    expect(parseEvent(m?.Body ?? "")).toEqual({ ...huge, payload: "", payloadOmitted: true });
    await sink.close();
  });

  it("rejects with SendFailed after the bounded attempts when SQS keeps refusing", async () => {
    const client = fauxqs.client();
    const sink = new SqsEventSink({ client, queueUrl: `${fauxqs.endpoint}/000000000000/missing.fifo`, attempts: 2, retryBaseMs: 1 });
    const err = await sink.emit([published("c1", 1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendFailed);
    expect((err as SendFailed).message).toMatch(/QueueDoesNotExist/);
    expect(sink.buffered).toBe(0);
    await sink.close();
  });

  it("close() sends what is buffered, then refuses", async () => {
    const { sink, url } = await setup({ flushIntervalMs: 10_000 });
    const pending = sink.emit([published("c1", 1), published("c2", 1)]);
    await sink.close();
    await pending;
    expect(await depth(url)).toBe(2);
    await expect(sink.emit([published("c1", 2)])).rejects.toBeInstanceOf(EventSinkClosed);
  });

  it("createEventsQueue insists on a FIFO name", async () => {
    await expect(createEventsQueue(admin, "events")).rejects.toThrow(/FIFO/);
  });
});
