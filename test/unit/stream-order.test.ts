import { describe, expect, it } from "vitest";
import { compareOrder, orderKey, orderKeyOfRoot, orderTag, rootWithOrderKey } from "../../core/order-key.js";
import { inPublishOrder, outOfOrder } from "../../broker/stream-order.js";
import { OutState, type Outgoing } from "../../broker/types.js";

const A = orderTag("pubA");
const B = orderTag("pubB");

function out(seq: number, topic: string, order?: string): Outgoing {
  const msg = order === undefined ? { topic, payload: Buffer.from(String(seq)), qos: 1 as const, retain: false } : { topic, payload: Buffer.from(String(seq)), qos: 1 as const, retain: false, order };
  return { msg, qos: 1, retain: false, packetId: 0, state: OutState.AwaitAck, seq, durable: true };
}

const seqs = (list: Outgoing[]): number[] => list.map((o) => o.seq);

describe("order keys and the order of a claimed session's queue (decision 038)", () => {
  it("orders keys by claim epoch, then by count, in base 36", () => {
    expect(compareOrder(orderKey(A, 2, 100), orderKey(A, 3, 1))).toBeLessThan(0);
    expect(compareOrder(orderKey(A, 3, 35), orderKey(A, 3, 36))).toBeLessThan(0);
    expect(compareOrder(orderKey(A, 3, 36), orderKey(A, 3, 36))).toBe(0);
    expect(orderTag("pubA")).toBe(A);
    expect(A).not.toBe(B);
  });

  it("a QoS 2 root carries its message's key: read back from the root, none from a root of an earlier version", () => {
    const key = orderKey(A, 3, 40);
    const root = rootWithOrderKey("n1:mjuohs00:132", key);
    expect(orderKeyOfRoot(root)).toBe(key);
    expect(orderKeyOfRoot("n1:mjuohs00:132")).toBeUndefined();
    expect(orderKeyOfRoot("n1:x#not a key")).toBeUndefined();
  });

  it("moves nothing when every stream is in order, or when nothing carries a key", () => {
    expect(outOfOrder([out(1, "t", orderKey(A, 1, 1)), out(2, "u", orderKey(A, 1, 2)), out(3, "t", orderKey(A, 1, 3)), out(4, "t")])).toEqual([]);
    expect(outOfOrder([out(1, "t"), out(2, "t")])).toEqual([]);
  });

  it("moves a late copy and the newer messages of its stream behind the rest, in publish order", () => {
    const queued = [
      out(1, "t", orderKey(A, 1, 1)),
      out(2, "t", orderKey(A, 2, 5)), // newer, stored first
      out(3, "t", orderKey(B, 1, 9)), // another publisher: stays
      out(4, "u", orderKey(A, 2, 6)), // another topic: stays
      out(5, "t", orderKey(A, 2, 7)),
      out(6, "t", orderKey(A, 1, 2)), // the late copy
    ];
    expect(seqs(outOfOrder(queued))).toEqual([6, 2, 5]);
  });

  it("does not compare publishers or topics with each other", () => {
    const queued = [out(1, "t", orderKey(A, 1, 5)), out(2, "t", orderKey(B, 1, 1)), out(3, "u", orderKey(A, 1, 1))];
    expect(outOfOrder(queued)).toEqual([]);
  });

  it("puts each stream's held deliveries in publish order, in the places the stream took; other entries stay (decision 044, CI faults seed 471)", () => {
    const held = [
      out(1, "t", orderKey(A, 8, 3)), // routed here directly, after the claim
      out(2, "u", orderKey(B, 1, 9)), // another publisher
      out(3, "t", orderKey(A, 8, 4)),
      out(4, "t"), // no key (an earlier version's message): stays
      out(5, "v", orderKey(A, 8, 1)), // another topic of the same publisher
      out(6, "t", orderKey(A, 8, 2)), // routed before the claim through another node, arrived last
    ];
    expect(seqs([...inPublishOrder(held)])).toEqual([6, 2, 1, 4, 5, 3]);
  });

  it("returns the held list itself when every stream is in order", () => {
    const held = [out(1, "t", orderKey(A, 1, 1)), out(2, "t", orderKey(B, 1, 1)), out(3, "t", orderKey(A, 1, 2)), out(4, "t")];
    expect(inPublishOrder(held)).toBe(held);
  });
});
