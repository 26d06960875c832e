import { describe, expect, it } from "vitest";
import { sqsToken } from "../../core/communicator/sqs-client.js";
import { createEventFactory } from "../../core/events/factory.js";
import { createIdFactory, newEventId } from "../../core/events/ids.js";
import { encodeEvent } from "../../core/events/parse.js";

const ULID = /^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{26}$/;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function timeOf(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + ALPHABET.indexOf(ch);
  return t;
}

describe("event ids", () => {
  it("are ULIDs whose time part is the emit time", () => {
    const id = createIdFactory(() => 1767225600000)();
    expect(id).toMatch(ULID);
    expect(timeOf(id)).toBe(1767225600000);
    expect(newEventId()).toMatch(ULID);
  });

  it("are unique and strictly increasing from one factory, also within one millisecond", () => {
    const next = createIdFactory(() => 1_000);
    const ids = Array.from({ length: 100_000 }, () => next());
    expect(new Set(ids).size).toBe(ids.length);
    const outOfOrder = ids.findIndex((id, i) => i > 0 && id <= (ids[i - 1] as string));
    expect(outOfOrder).toBe(-1);
  });

  it("keep increasing when the clock goes back", () => {
    let now = 5_000;
    const next = createIdFactory(() => now);
    const a = next();
    now = 4_000;
    const b = next();
    expect(b > a).toBe(true);
    expect(timeOf(b)).toBe(5_000);
  });

  it("differ between factories (nodes, restarts) in the same millisecond", () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => createIdFactory(() => 42)()));
    expect(ids.size).toBe(1_000);
  });

  it("are valid SQS deduplication ids as they are", () => {
    const id = newEventId();
    expect(sqsToken(id)).toBe(id);
  });
});

describe("createEventFactory", () => {
  it("fills v, id, type, ts and node; the result is a valid event", () => {
    const make = createEventFactory({ node: "broker-a1", now: () => 1767225600000, newId: () => "id-1" });
    const e = make("client.disconnected", { clientId: "c1", reason: "takeover" });
    expect(e).toEqual({ v: 3, id: "id-1", type: "client.disconnected", ts: 1767225600000, node: "broker-a1", clientId: "c1", reason: "takeover" });
    expect(() => encodeEvent(e)).not.toThrow();
    const p = createEventFactory({ node: "n" })("message.published", { clientId: "c", topic: "t", qos: 0, retain: false, payload: "" });
    expect(p.id).toMatch(ULID);
  });
});
