import { describe, expect, it } from "vitest";
import type { Journal, ResultTarget } from "../../broker/journal.js";
import type { StoreOp, StoreOpResult } from "../../core/store/types.js";
import { Session } from "../../broker/session.js";
import type { SessionHost, SessionLink } from "../../broker/session-ports.js";
import type { Message } from "../../broker/types.js";
import { orderKey, orderTag } from "../../core/order-key.js";
import { testLink } from "../helpers/session-link.js";

/**
 * A session's hold while it is claimed or settling a move (broker/session-hold.ts): `ahead` lifts it and `leftOut`
 * drops what reaches the session, for the length of one call. A release, or a new hold, during that call is as real
 * as one outside it: the call's end neither brings back a hold that ended nor drops one that began.
 */

/** A journal that lands everything at once (what a release delivers goes out within the call), with `extra`. */
function fakeJournal(tracked: Promise<unknown>[], extra: Record<string, unknown> = {}): Journal {
  return {
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
    ...extra,
  } as unknown as Journal;
}

function fakeHost() {
  const tracked: Promise<unknown>[] = [];
  const journal = fakeJournal(tracked);
  const drops: string[] = [];
  const host: SessionHost = {
    journal,
    clustered: false,
    now: () => 0,
    onDrop: (_session, msg, reason) => void drops.push(`${msg.topic} ${reason}`),
    onDeliveryDenied: () => {},
    forward: () => {},
    onIdleStateMade: () => {},
  };
  return { host, tracked, drops };
}

function fakeLink(): { link: SessionLink; sent: string[]; trail: string[] } {
  const sent: string[] = [];
  /** Writes and `settled` calls, in order. */
  const trail: string[] = [];
  const link = testLink({
    writePublish: (msg) => {
      sent.push(msg.topic);
      trail.push(msg.payload.length > 0 ? `${msg.topic} ${msg.payload.toString()}` : msg.topic);
    },
    settled: () => void trail.push("settled"),
  });
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

/**
 * A journal that keeps each write until the test answers it (`answer`), and `followedUpAll` waits until `follow`.
 * Tracks what batches wait for (`tracked`).
 */
function storingHost() {
  const writes: { op: StoreOp; target: ResultTarget<unknown> | null; ctx: unknown; answered: boolean }[] = [];
  const tracked: Promise<unknown>[] = [];
  const follows: (() => void)[] = [];
  let seq = 10;
  const journal = fakeJournal(tracked, {
    write: (op: StoreOp, target: ResultTarget<unknown> | null = null, ctx: unknown = null) => {
      writes.push({ op, target, ctx, answered: false });
      return 1;
    },
    followedUpAll: () => new Promise<void>((resolve) => follows.push(resolve)),
  });
  const drops: string[] = [];
  const forwarded: string[] = [];
  const host: SessionHost = {
    journal,
    clustered: true,
    now: () => 0,
    onDrop: (_session, msg, reason) => void drops.push(`${msg.topic} ${reason}`),
    onDeliveryDenied: () => {},
    forward: (_session, node, msg) => void forwarded.push(`${msg.topic} to ${node}`),
    onIdleStateMade: () => {},
  };
  /** Answers the unanswered writes: enqueues get the next seqs (`refuse`: those of these topics are refused instead). */
  const answer = (refuse: Record<string, StoreOpResult> = {}): void => {
    for (const w of writes) {
      if (w.answered) continue;
      w.answered = true;
      let result: StoreOpResult = { ok: true };
      if (w.op.op === "enqueue") result = refuse[w.op.entry.msg.topic] ?? { ok: true, seq: ++seq };
      w.target?.onStoreResult(w.ctx, result);
    }
  };
  /** Lets the pending `followedUpAll` waits resolve, and the promise chains after them run. */
  const follow = async (): Promise<void> => {
    for (const resolve of follows.splice(0)) resolve();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  const ops = (): string[] =>
    writes.map((w) =>
      w.op.op === "enqueue" ? `enqueue ${w.op.entry.msg.topic}${w.op.entry.msg.payload.length > 0 ? ` ${w.op.entry.msg.payload.toString()}` : ""}` : `${w.op.op} ${"seq" in w.op ? w.op.seq : ""}`,
    );
  return { host, tracked, drops, forwarded, answer, follow, ops };
}

/** A persistent session attached to a fake link, claimed and settling its move (the claim was answered). */
function settlingSession() {
  const h = storingHost();
  const { link, sent, trail } = fakeLink();
  const session = new Session("c", false, { maxInflight: 10, maxQueued: 100, queueDropPolicy: "oldest" }, h.host);
  session.holdDeliveries();
  session.attach(link);
  return { ...h, session, sent, trail };
}

const A = orderTag("pubA");
const q1 = (topic: string, n?: number): Message => ({ topic, payload: Buffer.from(n === undefined ? "" : String(n)), qos: 1, retain: false, ...(n === undefined ? {} : { order: orderKey(A, 8, n) }) });

describe("Session hold: a settling persistent session stores what it holds (decision 048)", () => {
  it("stores a held QoS 1 delivery at once, sends it only at the release, and its batch does not wait for the hold", () => {
    const { session, sent, tracked, answer, ops } = settlingSession();
    session.storeHeld();
    session.deliver(q1("a"), 1, false);
    expect(ops()).toEqual(["enqueue a"]);
    // The batch that held it waits for its own write only: nothing tracked (no wait for the hold).
    expect(tracked).toEqual([]);
    answer();
    expect(sent).toEqual([]);
    // Its enqueue was answered: the release moves it into the window at once ("sent" record), sent once durable.
    session.releaseDeliveries();
    expect(sent).toEqual([]);
    answer();
    expect(sent).toEqual(["a"]);
    expect(ops()).toEqual(["enqueue a", "outgoing.sent 11"]);
  });

  it("stores what was held during the claim once the move settles, and the batches that held it wait for those writes only", async () => {
    const { session, tracked, answer, ops } = settlingSession();
    session.deliver(q1("a"), 1, false);
    expect(ops()).toEqual([]);
    expect(tracked).toHaveLength(1);
    session.storeHeld();
    expect(ops()).toEqual(["enqueue a"]);
    // The write landed (this journal lands at once): the batch that held "a" need not wait for the release.
    expect(await settled(tracked[0] as Promise<unknown>)).toBe(true);
    answer();
  });

  it("at the release, sends in seq order and stores a stream out of publish order again behind the rest", async () => {
    const { session, trail, answer, follow, ops } = settlingSession();
    session.storeHeld();
    // Routed here directly after the claim: t.3, t.4; the old holder's pass-ons (lifted: `ahead`) come later: t.1, t.2.
    session.deliver(q1("t", 3), 1, false);
    session.deliver(q1("u", 1), 1, false);
    session.deliver(q1("t", 4), 1, false);
    session.ahead(() => {
      session.deliver(q1("t", 1), 1, false);
      session.deliver(q1("t", 2), 1, false);
    });
    // Not sent ahead of the lower seqs held: stored behind them.
    expect(trail).toEqual([]);
    expect(ops()).toEqual(["enqueue t 3", "enqueue u 1", "enqueue t 4", "enqueue t 1", "enqueue t 2"]);
    answer(); // seqs 11..15
    session.releaseDeliveries();
    await follow();
    // "u 1" stays in place (seq 12); stream t is out of place from its first entry on: stored again, in publish order.
    expect(ops().slice(5)).toEqual([
      "outgoing.delete 14",
      "enqueue t 1",
      "outgoing.delete 15",
      "enqueue t 2",
      "outgoing.delete 11",
      "enqueue t 3",
      "outgoing.delete 13",
      "enqueue t 4",
      "outgoing.sent 12",
    ]);
    answer();
    answer();
    expect(trail.filter((x) => x !== "settled")).toEqual(["u 1", "t 1", "t 2", "t 3", "t 4"]);
    // Sent in seq order: every "sent" record names a higher seq than the one before.
    const sentSeqs = ops()
      .filter((o) => o.startsWith("outgoing.sent"))
      .map((o) => Number(o.split(" ")[1]));
    expect(sentSeqs).toEqual([...sentSeqs].sort((a, b) => a - b));
  });

  it("never sends a held delivery the store refused, and drops one the store dropped for the queue's bound", async () => {
    const { session, sent, drops, answer, follow } = settlingSession();
    session.storeHeld();
    session.deliver(q1("dup"), 1, false);
    session.deliver(q1("full"), 1, false);
    session.deliver(q1("ok"), 1, false);
    answer({ dup: { ok: false, reason: "duplicate" }, full: { ok: false, reason: "full" } });
    session.releaseDeliveries();
    await follow();
    answer();
    expect(sent).toEqual(["ok"]);
    expect(drops).toEqual(["full queue-full"]);
  });

  it("drops a held delivery the store dropped for a newer one (drop policy oldest): never sent", async () => {
    const { session, sent, drops, answer, follow } = settlingSession();
    session.storeHeld();
    session.deliver(q1("old"), 1, false);
    answer(); // seq 11
    session.deliver(q1("new"), 1, false);
    answer({ new: { ok: true, seq: 12, dropped: 11 } });
    session.releaseDeliveries();
    await follow();
    answer();
    expect(sent).toEqual(["new"]);
    expect(drops).toEqual(["old queue-full"]);
  });

  it("waits for unanswered enqueues before the release, holding new deliveries meanwhile", async () => {
    const { session, sent, answer, follow } = settlingSession();
    session.storeHeld();
    session.deliver(q1("a"), 1, false);
    session.releaseDeliveries();
    session.deliver(q1("b"), 1, false); // held in memory while the release waits
    await follow();
    expect(sent).toEqual([]);
    answer();
    await follow();
    answer();
    answer();
    expect(sent).toEqual(["a", "b"]);
  });

  it("a claim here that joins the wait gets back the held deliveries its snapshot has: still held, not sent early (decision 044)", async () => {
    const { session, answer, follow, ops } = settlingSession();
    session.storeHeld();
    session.deliver(q1("t", 3), 1, false);
    answer(); // seq 11
    // The client comes back at once to this node: its old connection closes, the new claim loads the snapshot.
    session.detach();
    const second = fakeLink();
    const snapshot = { clean: false, epoch: 2, node: "n0", custodian: null, username: null, identity: null, expiryMs: 0, connectedAt: null, disconnectedAt: null, subscriptions: {}, inboundQos2: [], present: true, outgoing: [{ seq: 11, msg: q1("t", 3), qos: 1 as const, retain: false, packetId: 0, state: 0 as const }] };
    session.loadSnapshot(snapshot as unknown as Parameters<Session["loadSnapshot"]>[0]);
    session.attach(second.link);
    session.storeHeld();
    expect(second.trail).toEqual([]);
    // The old holder passes on an older one of the stream: it goes first at the release.
    session.ahead(() => session.deliver(q1("t", 1), 1, false));
    answer(); // seq 12
    session.releaseDeliveries();
    await follow();
    answer();
    answer();
    expect(second.trail.filter((x) => x !== "settled")).toEqual(["t 1", "t 3"]);
    // Seq 11 (t.3) and 12 (t.1) out of publish order: both stored again behind, t.1 first, and sent in seq order.
    expect(ops()).toEqual(["enqueue t 3", "enqueue t 1", "outgoing.delete 12", "enqueue t 1", "outgoing.delete 11", "enqueue t 3", "outgoing.sent 13", "outgoing.sent 14"]);
  });

  it("keeps QoS 0 in the memory hold", () => {
    const { session, sent, tracked, ops } = settlingSession();
    session.storeHeld();
    session.deliver({ topic: "z", payload: Buffer.alloc(0), qos: 0, retain: false }, 0, false);
    expect(ops()).toEqual([]);
    expect(tracked).toHaveLength(1);
    session.releaseDeliveries();
    expect(sent).toEqual(["z"]);
  });

  it("leaves stored held deliveries to the store when the session moved on, forwarding the rest at once, or was replaced", () => {
    const { session, sent, forwarded, answer } = settlingSession();
    session.storeHeld();
    session.deliver(q1("a"), 1, false);
    answer();
    // Kicked by a newer claim elsewhere (MoveSettler.kicked): its connection closed, held on as a forwarding copy.
    session.movedTo("n9");
    session.detach();
    session.deliver(q1("b"), 1, false);
    session.releaseDeliveries();
    // Within the release (its `moved` reply follows it): "b" forwarded; "a" is in the store, for the new owner.
    expect(forwarded).toEqual(["b to n9"]);
    expect(sent).toEqual([]);
    const other = settlingSession();
    other.session.storeHeld();
    other.session.deliver(q1("b"), 1, false);
    other.session.discardHeld();
    other.answer();
    expect(other.sent).toEqual([]);
  });
});
