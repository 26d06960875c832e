import { describe, expect, it } from "vitest";
import type { Journal } from "../../broker/journal.js";
import { Session } from "../../broker/session.js";
import type { SessionHost, SessionLink } from "../../broker/session-ports.js";
import type { Message } from "../../broker/types.js";
import { orderKey, orderTag } from "../../core/order-key.js";

/**
 * A session's hold while it is claimed or settling a move (broker/session-hold.ts): `ahead` lifts it and `leftOut`
 * drops what reaches the session, for the length of one call. A release, or a new hold, during that call is as real
 * as one outside it: the call's end neither brings back a hold that ended nor drops one that began.
 */

/** A journal that lands everything at once: what a release delivers goes out within the call. */
function fakeHost() {
  const tracked: Promise<unknown>[] = [];
  const journal = {
    dedupId: null,
    write: () => 1,
    followUp: (fn: () => void) => fn(),
    withDedupId: <T>(_id: string | null, fn: () => T): T => fn(),
    landedAfter: (fn: () => void) => {
      fn();
      return Promise.resolve();
    },
    untrack: () => {},
    trackOnce: (task: Promise<unknown>) => void tracked.push(task),
    label: () => {},
  } as unknown as Journal;
  const drops: string[] = [];
  const host: SessionHost = {
    journal,
    clustered: false,
    now: () => 0,
    onDrop: (_session, msg, reason) => void drops.push(`${msg.topic} ${reason}`),
    onDeliveryDenied: () => {},
    forward: () => {},
  };
  return { host, tracked, drops };
}

function fakeLink(): { link: SessionLink; sent: string[]; trail: string[] } {
  const sent: string[] = [];
  /** Writes and `settled` calls, in order. */
  const trail: string[] = [];
  const link: SessionLink = {
    writePublish: (msg) => {
      sent.push(msg.topic);
      trail.push(msg.payload.length > 0 ? `${msg.topic} ${msg.payload.toString()}` : msg.topic);
    },
    v5: null,
    writeAck: () => {},
    congested: false,
    saturated: () => false,
    unsentBytes: 0,
    settled: () => void trail.push("settled"),
    isClosed: false,
    close: () => {},
    resendablePublishes: () => [],
  };
  return { link, sent, trail };
}

const m = (topic: string): Message => ({ topic, payload: Buffer.alloc(0), qos: 0, retain: false });

/** A clean session attached to a fake link, holding. */
function holdingSession() {
  const { host, tracked, drops } = fakeHost();
  const { link, sent, trail } = fakeLink();
  const session = new Session("c", true, { maxInflight: 10, maxQueued: 100, queueDropPolicy: "oldest" }, host);
  session.attach(link);
  session.holdDeliveries();
  const deliver = (topic: string): void => session.deliver(m(topic), 0, false);
  return { session, sent, trail, tracked, drops, deliver };
}

/** Whether `task` settled by the end of the current macrotask. */
async function settled(task: Promise<unknown>): Promise<boolean> {
  let done = false;
  void task.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

describe("Session hold: ahead and leftOut", () => {
  it("lifts the hold for `ahead`, holds again after it, and drops what reaches it during `leftOut`", () => {
    const { session, sent, drops, deliver } = holdingSession();
    deliver("a");
    session.ahead(() => deliver("b"));
    session.leftOut(() => deliver("x"));
    deliver("c");
    expect(sent).toEqual(["b"]);
    session.releaseDeliveries();
    expect(sent).toEqual(["b", "a", "c"]);
    expect(drops).toEqual([]);
  });

  it("a release during `ahead` delivers what was held, and the hold stays ended after it", async () => {
    const { session, sent, tracked, deliver } = holdingSession();
    deliver("a");
    session.ahead(() => {
      deliver("b");
      session.releaseDeliveries();
    });
    expect(sent).toEqual(["b", "a"]);
    deliver("c");
    expect(sent).toEqual(["b", "a", "c"]);
    // The batch that held "a" is told that "a" went out.
    expect(tracked).toHaveLength(1);
    expect(await settled(tracked[0] as Promise<unknown>)).toBe(true);
  });

  it("a release during `leftOut` delivers what was held, and the hold stays ended after it", async () => {
    const { session, sent, tracked, deliver } = holdingSession();
    deliver("a");
    session.leftOut(() => {
      deliver("x");
      session.releaseDeliveries();
      deliver("b");
    });
    expect(sent).toEqual(["a", "b"]);
    deliver("c");
    expect(sent).toEqual(["a", "b", "c"]);
    expect(tracked).toHaveLength(1);
    expect(await settled(tracked[0] as Promise<unknown>)).toBe(true);
  });

  it("a hold that begins during `ahead` stays after it, and what it held with it", () => {
    const { session, sent, deliver } = holdingSession();
    session.releaseDeliveries();
    session.ahead(() => {
      session.holdDeliveries();
      deliver("a");
    });
    deliver("b");
    expect(sent).toEqual([]);
    session.releaseDeliveries();
    expect(sent).toEqual(["a", "b"]);
  });

  it("a hold that ends and begins again during `ahead` keeps both holds' deliveries, in order", () => {
    const { session, sent, deliver } = holdingSession();
    deliver("a");
    session.ahead(() => {
      deliver("b");
      session.releaseDeliveries();
      session.holdDeliveries();
      deliver("c");
    });
    deliver("d");
    expect(sent).toEqual(["b", "a"]);
    session.releaseDeliveries();
    expect(sent).toEqual(["b", "a", "c", "d"]);
  });

  it("a hold that ends and begins again during `leftOut` is not replaced by the one that ended", () => {
    const { session, sent, deliver } = holdingSession();
    deliver("a");
    session.leftOut(() => {
      session.releaseDeliveries();
      session.holdDeliveries();
      deliver("b");
    });
    deliver("c");
    expect(sent).toEqual(["a"]);
    session.releaseDeliveries();
    expect(sent).toEqual(["a", "b", "c"]);
  });

  it("delivers each publisher's held messages on one topic in publish order, then lets the client's own packets go (decision 044)", () => {
    const { session, trail } = holdingSession();
    const A = orderTag("pubA");
    const keyed = (topic: string, n: number): Message => ({ topic, payload: Buffer.from(String(n)), qos: 0, retain: false, order: orderKey(A, 8, n) });
    // Routed here directly after the claim: .3 and .4; routed before it through another node, arriving last: .1, .2.
    for (const [topic, n] of [["t", 3], ["t", 4], ["u", 1], ["t", 2]] as const) session.deliver(keyed(topic, n), 0, false);
    expect(trail).toEqual([]);
    session.releaseDeliveries();
    expect(trail).toEqual(["t 2", "t 3", "u 1", "t 4", "settled"]);
  });

  it("tells the link its move settled also when nothing was held", () => {
    const { session, trail } = holdingSession();
    session.releaseDeliveries();
    expect(trail).toEqual(["settled"]);
  });
});
