import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Violation } from "./checker.js";
import type { Stop } from "./history.js";
import { SqsTrail } from "./trail.js";
import { lateDrain } from "./window.js";

/** The order rule for decision 038's window (test/sim/window.ts), on hand-made SQS trails. */

const LIMITS = { nodeTtlMs: 5_000, heartbeatMs: 1_000, visibilityMs: 30_000 };
const body = (key: string): string => JSON.stringify({ type: "deliver", msg: { payload: Buffer.from(key).toString("base64") } });
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
});
