import { describe, expect, it } from "vitest";
import { decodeNodeMessage, encodeNodeMessage, type NodeMessage, toWireTarget } from "../../core/communicator/index.js";
import { decodeNodeMessages } from "../../core/communicator/schema.js";
import { MAX_SUB_IDS, MAX_SUBSCRIPTION_ID } from "../../core/subscription-word.js";

/**
 * The targets of a `deliver` node message (core/communicator/types.ts, WireTarget): the RETAIN flag and the MQTT 5
 * Subscription Identifiers a targeted forward carries, written only when present, bounded and checked on decode.
 */

type Deliver = NodeMessage & { type: "deliver" };

function deliver(targets: unknown[]): Deliver {
  return {
    type: "deliver",
    id: "node-a:1",
    origin: "node-a",
    seq: 1,
    msg: { topic: "t/1", payload: Buffer.from("x").toString("base64"), qos: 1, retain: true },
    targets: targets as Deliver["targets"],
  };
}

/** What a receiver makes of a body: the targets of its one message, or null when the message is refused. */
function targetsOf(body: string): Deliver["targets"] | null {
  const decoded = decodeNodeMessage(body);
  if (!decoded.ok) return null;
  return (decoded.message as Deliver).targets;
}

describe("deliver targets on the wire", () => {
  it("a 3.1.1 target keeps its two keys; the RETAIN flag and identifiers are written only when present", () => {
    expect(Object.keys(toWireTarget("c", 1, false, undefined))).toEqual(["clientId", "qos"]);
    expect(toWireTarget("c", 1, true, undefined)).toEqual({ clientId: "c", qos: 1, retain: true });
    expect(toWireTarget("c", 2, false, [7, 300])).toEqual({ clientId: "c", qos: 2, subIds: [7, 300] });
    expect(Object.keys(toWireTarget("c", 1, false, []))).toEqual(["clientId", "qos"]);
    // Never more than a receiver accepts.
    const many = Array.from({ length: MAX_SUB_IDS + 5 }, (_, i) => i + 1);
    expect(toWireTarget("c", 1, false, many).subIds).toEqual(many.slice(0, MAX_SUB_IDS));
  });

  it("round trip: RETAIN and identifiers come back as sent, per target", () => {
    const targets = [toWireTarget("a", 1, true, [7]), toWireTarget("b", 0, false, undefined), toWireTarget("c", 2, false, [1, MAX_SUBSCRIPTION_ID])];
    expect(targetsOf(encodeNodeMessage(deliver(targets)))).toEqual([
      { clientId: "a", qos: 1, retain: true, subIds: [7] },
      { clientId: "b", qos: 0 },
      { clientId: "c", qos: 2, subIds: [1, MAX_SUBSCRIPTION_ID] },
    ]);
    const full = Array.from({ length: MAX_SUB_IDS }, (_, i) => i + 1);
    expect(targetsOf(encodeNodeMessage(deliver([toWireTarget("a", 1, false, full)])))?.[0]?.subIds).toEqual(full);
  });

  it("a message of a node from before the fields (targets of clientId and QoS) still decodes, without them", () => {
    const old = '{"type":"deliver","id":"n:1","origin":"n","seq":1,"msg":{"topic":"t","payload":"eA==","qos":1,"retain":true},"targets":[{"clientId":"c","qos":1}]}';
    const targets = targetsOf(old);
    expect(targets).toEqual([{ clientId: "c", qos: 1 }]);
    expect(targets?.[0]?.retain).toBeUndefined();
    expect(targets?.[0]?.subIds).toBeUndefined();
  });

  it("a field this version does not know is ignored, not refused (how an older node reads these fields)", () => {
    expect(targetsOf(encodeNodeMessage(deliver([{ clientId: "c", qos: 1, subIds: [3], later: { x: 1 } }])))).toEqual([{ clientId: "c", qos: 1, subIds: [3] }]);
  });

  it.each([
    ["too many identifiers", { subIds: Array.from({ length: MAX_SUB_IDS + 1 }, (_, i) => i + 1) }],
    ["an empty list", { subIds: [] }],
    ["identifier 0", { subIds: [0] }],
    ["a negative identifier", { subIds: [-1] }],
    ["a fractional identifier", { subIds: [1.5] }],
    ["an identifier above 268,435,455", { subIds: [MAX_SUBSCRIPTION_ID + 1] }],
    ["an identifier as text", { subIds: ["7"] }],
    ["identifiers that are not a list", { subIds: 7 }],
    ["a RETAIN flag that is not a boolean", { retain: 1 }],
  ])("refuses a message whose target has %s", (_what, bad) => {
    const decoded = decodeNodeMessage(encodeNodeMessage(deliver([{ clientId: "c", qos: 1, ...bad }])));
    expect(decoded.ok).toBe(false);
  });

  it("a packed body keeps its good messages and describes the one with a corrupt target (the node goes on)", () => {
    const good = deliver([toWireTarget("a", 1, false, [9])]);
    const bad = deliver([{ clientId: "b", qos: 1, subIds: Array.from({ length: 10_000 }, () => 1) }]);
    const decoded = decodeNodeMessages(JSON.stringify([good, bad, good]));
    expect(decoded.messages).toHaveLength(2);
    expect(decoded.problems).toHaveLength(1);
    expect(decoded.problems[0]).toMatch(/^element 1 of 3: .*subIds/);
  });
});
