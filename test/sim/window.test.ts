import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Violation } from "./checker.js";
import type { Stop } from "./history.js";
import { SqsTrail } from "./trail.js";
import { type ClientsSeen, lateDrain } from "./window.js";

/** The order rule for decision 038's window (test/sim/window.ts), on hand-made SQS trails. */

const LIMITS = { nodeTtlMs: 5_000, heartbeatMs: 1_000, visibilityMs: 30_000 };
const body = (key: string, targets?: string[]): string =>
  JSON.stringify({ type: "deliver", msg: { payload: Buffer.from(key).toString("base64") }, ...(targets === undefined ? { match: true } : { targets: targets.map((clientId) => ({ clientId, qos: 1 })) }) });
const queue = (node: string): string => `sim-node-${node}.fifo`;

/** sub got p:1 at `at` after the newer p:2 (at `newerAt`, through `newerNode`). */
function violation(at: number, newerAt: number, newerNode: string): Violation {
  return { kind: "order", detail: "", order: { subscriber: "sub", key: "p:1", at, newer: "p:2", newerAt, newerNode } };
}

describe("decision 038's window (checker rule)", () => {
  let trail: SqsTrail;
  const at = (ms: number, what: () => void): void => {
    vi.setSystemTime(ms);
    what();
  };
  beforeEach(() => {
    vi.useFakeTimers();
    trail = new SqsTrail();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** p:1 was sent to n1's queue at 1,000 and drained by n2 at `drainedAt`. */
  function drained(drainedAt: number): void {
    at(1_000, () => trail.sent(queue("n1"), body("p:1")));
    at(drainedAt, () => trail.received(queue("n1"), "n2", 1, body("p:1")));
  }
  const crash: Stop[] = [{ node: "n1", kind: "crash", from: 900, to: Infinity }];

  it("excuses a message held in a crashed node's queue and drained after a newer one went directly", () => {
    drained(8_000);
    expect(lateDrain(violation(8_050, 5_000, "n3"), trail, crash, LIMITS)).toContain("n1's crash");
  });

  it("does not excuse it when the queue's node never stopped", () => {
    drained(8_000);
    expect(lateDrain(violation(8_050, 5_000, "n3"), trail, [], LIMITS)).toBeNull();
    expect(lateDrain(violation(8_050, 5_000, "n3"), trail, [{ node: "n2", kind: "crash", from: 900, to: Infinity }], LIMITS)).toBeNull();
  });

  it("does not excuse it when the stop ended before the message was sent", () => {
    drained(8_000);
    expect(lateDrain(violation(8_050, 5_000, "n3"), trail, [{ node: "n1", kind: "pause", from: 100, to: 900 }], LIMITS)).toBeNull();
  });

  it("does not excuse it when the newer message came through the stopped node itself", () => {
    drained(8_000);
    expect(lateDrain(violation(8_050, 5_000, "n1"), trail, crash, LIMITS)).toBeNull();
  });

  it("does not excuse a message that never went through SQS", () => {
    expect(lateDrain(violation(8_050, 5_000, "n3"), trail, crash, LIMITS)).toBeNull();
  });

  it("excuses a drained copy overtaken while it was passed on, but not one held longer than a heartbeat", () => {
    drained(8_000);
    // The newer one arrived after the drain's receive: fine while the drained copy followed within a heartbeat.
    expect(lateDrain(violation(8_900, 8_100, "n3"), trail, crash, LIMITS)).not.toBeNull();
    expect(lateDrain(violation(9_100, 8_100, "n3"), trail, crash, LIMITS)).toBeNull();
  });

  it("does not excuse a delivery later than a TTL, the visibility timeout and a drainer's TTL after the stop", () => {
    drained(8_000);
    const bound = 900 + 7_000 + 30_000 + 7_000 + 2_000;
    expect(lateDrain(violation(bound, 5_000, "n3"), trail, crash, LIMITS)).not.toBeNull();
    expect(lateDrain(violation(bound + 1, 5_000, "n3"), trail, crash, LIMITS)).toBeNull();
  });

  it("counts a receive answered while its reader was paused from when the reader resumed", () => {
    // n1's long poll is answered at 1,100 while n1 is paused (1,000-4,000); n1 handles it at 4,000.
    at(1_050, () => trail.sent(queue("n1"), body("p:1")));
    at(1_100, () => trail.received(queue("n1"), "n1", 1, body("p:1")));
    const pause: Stop[] = [{ node: "n1", kind: "pause", from: 1_000, to: 4_000 }];
    expect(lateDrain(violation(4_050, 3_000, "n3"), trail, pause, LIMITS)).toContain("n1's pause");
    // Without the pause, 2.9 s between the receive and the delivery is a message held: a violation.
    expect(lateDrain(violation(4_050, 3_000, "n3"), trail, [], LIMITS)).toBeNull();
  });

  it("judges each receive of a copy that was for the subscriber, not another subscriber's copy received later", () => {
    // Seed 18 (pauses with the CI faults): n1 is paused 1,000-9,000. Its own long poll got p:1's matching copy at
    // 1,100 (handled at 9,000); a survivor drained the copy for `other` at 6,000. sub got p:2 at 8,000, p:1 at 9,050.
    at(1_050, () => trail.sent(queue("n1"), body("p:1")));
    at(1_060, () => trail.sent(queue("n1"), body("p:1", ["other"])));
    at(1_100, () => trail.received(queue("n1"), "n1", 1, body("p:1")));
    at(6_000, () => trail.received(queue("n1"), "n2", 1, body("p:1", ["other"])));
    const pause: Stop[] = [{ node: "n1", kind: "pause", from: 1_000, to: 9_000 }];
    expect(lateDrain(violation(9_050, 8_000, "n3"), trail, pause, LIMITS)).toContain("received by n1");
    // The copy for `other` alone does not excuse it: drained at 6,000, it was not what reached sub 3 s later.
    const other = new SqsTrail();
    at(1_060, () => other.sent(queue("n1"), body("p:1", ["other"])));
    at(6_000, () => other.received(queue("n1"), "n2", 1, body("p:1", ["other"])));
    expect(lateDrain(violation(9_050, 8_000, "n3"), other, pause, LIMITS)).toBeNull();
  });

  it("takes the newer message as delivered when a node other than the stopped one first wrote it to the subscriber", () => {
    // Seed 17: n2 wrote p:2 to sub's connection at 5,000 (sub had moved away: it got nothing), drained p:1 from the
    // paused n1's queue at 8,000 and wrote it behind; the next holder re-sent both at 12,000 in that order.
    drained(8_000);
    const pause: Stop[] = [{ node: "n1", kind: "pause", from: 900, to: 8_000 }];
    const v = violation(12_000, 12_000, "n3");
    expect(lateDrain(v, trail, pause, LIMITS)).toBeNull();
    expect(lateDrain(v, trail, pause, LIMITS, new Map([["sub p:2", [{ node: "n2", at: 5_000 }]]]))).toContain("n1's pause");
    // Written only after the drain's receive, or only by the stopped node itself: still a violation.
    expect(lateDrain(v, trail, pause, LIMITS, new Map([["sub p:2", [{ node: "n2", at: 8_500 }]]]))).toBeNull();
    expect(lateDrain(v, trail, pause, LIMITS, new Map([["sub p:2", [{ node: "n1", at: 5_000 }]]]))).toBeNull();
    // The node that re-sent both may be the stopped one, back: m' still came first through n2.
    expect(lateDrain(violation(12_000, 12_000, "n1"), trail, pause, LIMITS, new Map([["sub p:2", [{ node: "n2", at: 5_000 }]]]))).toContain("n1's pause");
  });

  it("takes the late message as delivered when a node first wrote it to the subscriber after the receive", () => {
    // Seed 124: the receive from the paused n1's queue is handled at 8,000, p:2 is written to sub at 8,010 and p:1,
    // passed on, at 8,030; sub got neither then, and both at 9,500, re-sent in that order.
    drained(8_000);
    const pause: Stop[] = [{ node: "n1", kind: "pause", from: 900, to: 7_900 }];
    const v = violation(9_500, 9_500, "n2");
    expect(lateDrain(v, trail, pause, LIMITS)).toBeNull();
    const writes = new Map([["sub p:2", [{ node: "n2", at: 8_010 }]], ["sub p:1", [{ node: "n2", at: 8_030 }]]]);
    expect(lateDrain(v, trail, pause, LIMITS, writes)).toContain("n1's pause");
    // Written more than a heartbeat after the receive: held, a violation.
    writes.set("sub p:1", [{ node: "n2", at: 9_100 }]);
    expect(lateDrain(v, trail, pause, LIMITS, writes)).toBeNull();
  });
  it("excuses a drained copy held a second time by another node's crash on its way, within that node's bound", () => {
    // Seed 366: n1 crashed at 900; p:1 waited in its queue and n2 drained it at 38,000 (beyond n1's bound, 46,900,
    // only because of what followed), passed it on to n5's queue at 38,010; n5 had crashed at 37,990 and its
    // queue was drained at 68,000; sub got p:1 at 68,020, after p:2 (through n5, at 30,000).
    drained(38_000);
    at(38_010, () => trail.sent(queue("n5"), body("p:1")));
    at(68_000, () => trail.received(queue("n5"), "n3", 1, body("p:1")));
    const two: Stop[] = [...crash, { node: "n5", kind: "crash", from: 37_990, to: Infinity }];
    expect(lateDrain(violation(68_020, 30_000, "n5"), trail, two, LIMITS)).toContain("held again by n5's crash");
    // Not when n5 never stopped (its queue held it for no reason the design allows).
    expect(lateDrain(violation(68_020, 30_000, "n5"), trail, crash, LIMITS)).toBeNull();
    // Not later than n5's bound, nor more than a heartbeat after the receive from n5's queue.
    const bound = 37_990 + 7_000 + 30_000 + 7_000 + 2_000;
    at(bound - 10, () => trail.received(queue("n5"), "n3", 2, body("p:1")));
    expect(lateDrain(violation(bound + 1, 30_000, "n5"), trail, two, LIMITS)).toBeNull();
    expect(lateDrain(violation(69_100, 30_000, "n5"), trail, two, LIMITS)).toBeNull();
    // Not a copy sent to n5 before n1's queue was drained (not the drained one passed on).
    const early = new SqsTrail();
    at(1_000, () => early.sent(queue("n1"), body("p:1")));
    at(20_000, () => early.sent(queue("n5"), body("p:1")));
    at(38_000, () => early.received(queue("n1"), "n2", 1, body("p:1")));
    at(68_000, () => early.received(queue("n5"), "n3", 1, body("p:1")));
    expect(lateDrain(violation(68_020, 30_000, "n5"), early, [...crash, { node: "n5", kind: "crash", from: 19_000, to: Infinity }], LIMITS)).toBeNull();
  });

  /** What rule 5 reads: p:1 re-sent at `resentAt` with the keys `orders` (first copy, then re-sends); sub connected to n3 at 0. */
  const seen = (resentAt: number[], orders = ["k.1.5", "k.1.5"], connects = [{ node: "n3", at: 0 }]): ClientsSeen => ({
    resends: new Map([["p:1", resentAt]]),
    orders: new Map([["p:1", orders]]),
    connects: new Map([["sub", connects]]),
  });

  it("excuses a copy that waited in a stopped node's queue when the publisher's re-send reached the subscriber first", () => {
    // Seed 590: n3 (sub's node) crashed at 900; p:1 was routed to n3's queue alone at 1,000; sub resumed on n4 and
    // got p:2 there at 2,000; the publisher moved and sent p:1 again at 2,500 (same key), which reached sub at 3,100.
    at(1_000, () => trail.sent(queue("n3"), body("p:1", ["sub"])));
    const crash3: Stop[] = [{ node: "n3", kind: "crash", from: 900, to: Infinity }];
    const v = violation(3_100, 2_000, "n4");
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([2_500]))).toContain("the publisher's re-send");
    // Without the re-send, or without the stop, or with m reaching sub before the re-send: a violation.
    expect(lateDrain(v, trail, crash3, LIMITS)).toBeNull();
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([]))).toBeNull();
    expect(lateDrain(v, trail, [], LIMITS, undefined, seen([2_500]))).toBeNull();
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([3_200]))).toBeNull();
    // Later than the stop's bound (rule 4's).
    const bound = 900 + 7_000 + 30_000 + 7_000 + 2_000;
    expect(lateDrain(violation(bound + 1, 2_000, "n4"), trail, crash3, LIMITS, undefined, seen([2_500]))).toBeNull();
    // The newer one came through the stopped node itself.
    expect(lateDrain(violation(3_100, 2_000, "n3"), trail, crash3, LIMITS, undefined, seen([2_500]))).toBeNull();
    // n3 stopped only well after the send (more than a heartbeat): a live n3 would have handled p:1 for sub.
    expect(lateDrain(v, trail, [{ node: "n3", kind: "crash", from: 2_100, to: Infinity }], LIMITS, undefined, seen([2_500]))).toBeNull();
    expect(lateDrain(v, trail, [{ node: "n3", kind: "crash", from: 1_900, to: Infinity }], LIMITS, undefined, seen([2_500]))).not.toBeNull();
  });

  it("does not excuse a re-send that got a newer order key than its first copy (decision 045 broken: CI seed 38)", () => {
    at(1_000, () => trail.sent(queue("n3"), body("p:1", ["sub"])));
    const crash3: Stop[] = [{ node: "n3", kind: "crash", from: 900, to: Infinity }];
    const v = violation(3_100, 2_000, "n4");
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([2_500], ["k.1.5", "k.2.1"]))).toBeNull();
    // No key recorded: not known to be kept.
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([2_500], []))).toBeNull();
  });

  it("does not excuse a re-send when another copy of the late message was on its way to the subscriber", () => {
    const crash3: Stop[] = [{ node: "n3", kind: "crash", from: 900, to: Infinity }];
    const v = violation(3_100, 2_000, "n4");
    // p:1 also went to n4's queue for sub before the re-send: that copy was overtaken, not held by n3.
    const direct = new SqsTrail();
    at(1_000, () => direct.sent(queue("n3"), body("p:1", ["sub"])));
    at(1_100, () => direct.sent(queue("n4"), body("p:1", ["sub"])));
    expect(lateDrain(v, direct, crash3, LIMITS, undefined, seen([2_500]))).toBeNull();
    // A copy for other subscribers only is no such copy.
    const others = new SqsTrail();
    at(1_000, () => others.sent(queue("n3"), body("p:1", ["sub"])));
    at(1_100, () => others.sent(queue("n4"), body("p:1", ["other"])));
    expect(lateDrain(v, others, crash3, LIMITS, undefined, seen([2_500]))).toContain("the publisher's re-send");
    // The copy for sub came out of n3's queue before sub got p:1 (rules 1-4 judge that one, here beyond a heartbeat).
    const drainedEarly = new SqsTrail();
    at(1_000, () => drainedEarly.sent(queue("n3"), body("p:1", ["sub"])));
    at(1_500, () => drainedEarly.received(queue("n3"), "n2", 1, body("p:1", ["sub"])));
    expect(lateDrain(v, drainedEarly, crash3, LIMITS, undefined, seen([2_500]))).toBeNull();
    // Sent to n3 only after the re-send: not the copy the re-send overtook.
    const late = new SqsTrail();
    at(2_600, () => late.sent(queue("n3"), body("p:1", ["sub"])));
    expect(lateDrain(v, late, crash3, LIMITS, undefined, seen([2_500]))).toBeNull();
  });

  it("takes a copy its reader matches itself as one for the subscriber only when the subscriber's session was at that node", () => {
    // A match forward to n3: for sub only if sub last connected to n3 before it was sent.
    at(1_000, () => trail.sent(queue("n3"), body("p:1")));
    const crash3: Stop[] = [{ node: "n3", kind: "crash", from: 900, to: Infinity }];
    const v = violation(3_100, 2_000, "n4");
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([2_500]))).toContain("the publisher's re-send");
    // sub was on n5 then (the publisher's node routed p:1 nowhere near it): a loss of routing, not the window.
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([2_500], undefined, [{ node: "n3", at: 0 }, { node: "n5", at: 500 }]))).toBeNull();
    expect(lateDrain(v, trail, crash3, LIMITS, undefined, seen([2_500], undefined, []))).toBeNull();
  });
});
