import { describe, expect, it } from "vitest";
import { EventBuffer, eventBytes } from "../../broker/event-buffer.js";
import { PayloadTooLarge } from "../../core/communicator/errors.js";
import { createEventFactory } from "../../core/events/factory.js";
import type { MqgateEvent } from "../../core/events/schema.js";
import { MemoryEventSink } from "../../core/events/sink.js";

const make = createEventFactory({ node: "n1" });

function published(clientId: string, text: string): MqgateEvent {
  return make("message.published", { clientId, topic: "t", qos: 0, retain: false, payload: Buffer.from(text).toString("base64") });
}

function texts(events: readonly MqgateEvent[]): string[] {
  return events.map((e) => (e.type === "message.published" ? Buffer.from(e.payload, "base64").toString() : e.type));
}

/** Refuses, as the SQS sink does, any call that contains an event whose payload says "huge" (nothing of it is sent). */
class PickySink extends MemoryEventSink {
  calls: number[] = [];
  override async emit(events: readonly MqgateEvent[]): Promise<void> {
    this.calls.push(events.length);
    const bad = events.find((e) => e.type === "message.published" && Buffer.from(e.payload, "base64").toString() === "huge");
    if (bad !== undefined) throw new PayloadTooLarge(bad.id, 300_000, 262_144);
    return super.emit(events);
  }
}

async function settled(buffer: EventBuffer): Promise<void> {
  for (let i = 0; i < 200 && buffer.events > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

describe("EventBuffer", () => {
  it("an unsendable event in a batch is found one by one and dropped; the others go, in order", async () => {
    const sink = new PickySink();
    const buffer = new EventBuffer(sink, { maxEvents: 100, maxBytes: 1_000_000, onError: () => {}, onOverflow: () => {} });
    const first = published("c", "first");
    buffer.hold(first, eventBytes(first), false); // sent alone, at once
    for (const text of ["a", "b", "huge", "c", "d"]) {
      const e = published("c", text);
      buffer.hold(e, eventBytes(e), false);
    }
    await settled(buffer);
    expect(texts(sink.events)).toEqual(["first", "a", "b", "c", "d"]);
    expect(buffer.dropped["too-large"]).toBe(1);
    expect(sink.calls[0]).toBe(1);
    expect(sink.calls[1]).toBe(5); // the batch, refused whole
  });

  it("a tracked event resolves when sent, and when dropped as unsendable (its publish is then acknowledged, as reported)", async () => {
    const sink = new PickySink();
    const errors: Error[] = [];
    const buffer = new EventBuffer(sink, { maxEvents: 100, maxBytes: 1_000_000, onError: (e) => errors.push(e), onOverflow: () => {} });
    const ok = published("c", "ok");
    const huge = published("d", "huge");
    await expect(buffer.hold(ok, eventBytes(ok), true)).resolves.toBeUndefined();
    await expect(buffer.hold(huge, eventBytes(huge), true)).resolves.toBeUndefined();
    expect(errors.map((e) => e.name)).toEqual(["PayloadTooLarge"]);
  });

  it("clients are independent: one client's events wait for their retry without holding another's", async () => {
    const sink = new MemoryEventSink();
    let failA = 3;
    const picky = {
      emit: (events: readonly MqgateEvent[]) => {
        if (events[0]?.clientId === "a" && failA-- > 0) return Promise.reject(new Error("throttled"));
        return sink.emit(events);
      },
      close: () => sink.close(),
    };
    const buffer = new EventBuffer(picky, { maxEvents: 100, maxBytes: 1_000_000, onError: () => {}, onOverflow: () => {} });
    for (const [client, text] of [["a", "a1"], ["b", "b1"], ["a", "a2"], ["b", "b2"]] as const) {
      const e = published(client, text);
      buffer.hold(e, eventBytes(e), false);
    }
    await settled(buffer);
    expect(texts(sink.events.filter((e) => e.clientId === "a"))).toEqual(["a1", "a2"]);
    expect(texts(sink.events.filter((e) => e.clientId === "b"))).toEqual(["b1", "b2"]);
    // b was not held back by a's failures.
    expect(texts(sink.events).indexOf("b1")).toBeLessThan(texts(sink.events).indexOf("a1"));
  });
});
