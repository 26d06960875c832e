import { describe, expect, it } from "vitest";
import { outgoing, releaseOutgoing } from "../../broker/outgoing-pool.js";
import { OutState, type Message } from "../../broker/types.js";

// Delivery records used again once a clean session's delivery is complete (broker/outgoing-pool.ts): a record
// handed out again is filled completely, and one with optional fields is never kept.

const msg = (topic: string): Message => ({ topic, payload: Buffer.from(topic), qos: 1, retain: false });

describe("outgoing records", () => {
  it("a released record is the next one handed out, filled with the new delivery alone", () => {
    const a = outgoing(msg("a"), 1, true, true, undefined);
    a.packetId = 7;
    a.state = OutState.AwaitComp;
    a.seq = 0;
    releaseOutgoing(a);
    expect(a.msg.topic).toBe("");
    const b = outgoing(msg("b"), 2, false, false, undefined);
    expect(b).toBe(a);
    expect(b).toEqual({ msg: msg("b"), qos: 2, retain: false, packetId: 0, state: OutState.AwaitAck, seq: 0, durable: false });
  });

  it("records with Subscription Identifiers, a group or a dedup id are not kept; deliveries with them get new records", () => {
    const withIds = outgoing(msg("i"), 1, false, true, [3]);
    const withGroup = outgoing(msg("g"), 1, false, true, undefined, "$share/g/t");
    const withDedup = outgoing(msg("d"), 1, false, true, undefined);
    withDedup.dedupId = "node-1:42";
    for (const o of [withIds, withGroup, withDedup]) releaseOutgoing(o);
    const next = outgoing(msg("n"), 1, false, true, undefined);
    expect([withIds, withGroup, withDedup]).not.toContain(next);
    const plain = outgoing(msg("p"), 1, false, true, undefined);
    releaseOutgoing(plain);
    const ids = outgoing(msg("x"), 1, false, true, [5]);
    expect(ids).not.toBe(plain);
    expect(ids.subIds).toEqual([5]);
    expect(outgoing(msg("y"), 1, false, true, undefined)).toBe(plain);
  });
});
