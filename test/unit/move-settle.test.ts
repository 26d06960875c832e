import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MoveSettler, type MovePort } from "../../broker/move-settle.js";
import { senderStamp } from "../../broker/sender-follow.js";
import type { Journal } from "../../broker/journal.js";
import type { Session } from "../../broker/session.js";
import type { HoldGate } from "../../broker/session-hold.js";

/** A session as the settler sees it: holds, releases, lifts its hold for `ahead`. */
function fakeSession(clientId: string, epoch: number) {
  const calls: string[] = [];
  /** What reached the client, in order (`deliver` while not holding, or let through by the hold's gate, or released). */
  const got: string[] = [];
  let items: string[] = [];
  let gate: HoldGate | null = null;
  const session = {
    clientId,
    epoch,
    claimant: null as object | null,
    owner: null as string | null,
    holding: false,
    holdDeliveries: () => {
      if (!session.holding) items = [];
      gate = null;
      session.holding = true;
      calls.push("hold");
    },
    releaseDeliveries: () => {
      session.holding = false;
      got.push(...items);
      items = [];
      gate = null;
      calls.push("release");
    },
    /** How often the settler told it to store what it holds (the claim was answered: Session.storeHeld). */
    storing: 0,
    storeHeld: () => void session.storing++,
    ahead: (fn: () => void) => {
      const was = session.holding;
      session.holding = false;
      calls.push("ahead");
      fn();
      session.holding = was;
    },
    leftOut: (fn: () => void) => {
      calls.push("left out");
      fn();
    },
    /** The message this session just held (and would pass on to a newer claim), for `holdsToPassOn`. */
    last: null as object | null,
    holdsToPassOn: (msg: object) => session.holding && session.last === msg,
    followSenders: (g: HoldGate) => {
      if (session.holding) gate = g;
    },
    heldBy: (g: HoldGate) => session.holding && gate === g,
    settleClient: () => {
      calls.push("client settled");
    },
    /** A delivery, as DeliveryHold.add sees it: out now, let through by the gate, or held (topic `t/x`, or `name` when it starts `new/`). */
    deliver: (name: string) => {
      if (!session.holding || gate?.passes(name.startsWith("new/") ? name : "t/x") === true) got.push(name);
      else {
        gate?.held();
        items.push(name);
      }
    },
  };
  return { session, calls, got, asSession: session as unknown as Session };
}

/** A node as the settler sees it: replies sent, writes whose follow-ups land when `land` is called. */
function fakePort(sessions: Record<string, Session> = {}) {
  const sent: string[] = [];
  let land = (): void => {};
  const journal = { followedUpAll: () => new Promise<void>((resolve) => (land = resolve)) } as unknown as Journal;
  const port: MovePort = {
    nodeId: "n0",
    journal,
    session: (clientId) => sessions[clientId],
    reply: (node, clientId, epoch) => sent.push(`moved ${node} ${clientId} ${epoch}`),
    kick: (node, clientId, epoch, sessionEnded) => sent.push(`kick ${node} ${clientId} ${epoch}${sessionEnded ? " ended" : ""}`),
    kickAgain: (node, clientId, epoch, sessionEnded) => sent.push(`again ${node} ${clientId} ${epoch}${sessionEnded ? " ended" : ""}`),
    // The old holders route t/x, not new/#.
    reaches: (topic) => !topic.startsWith("new/"),
  };
  return { port, sent, land: () => land() };
}

/** Lets the promise chains settle (the settler's follow-ups, a few links long). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("MoveSettler (decision 031: order across a move)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("holds a claimed session's deliveries until every node it was claimed from replied for this claim", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const { session, calls, asSession } = fakeSession("c", 5);
    settler.start(asSession, 5, ["n1", "n2"]);
    expect(session.holding).toBe(true);
    settler.replied("c", "n1", 4); // a reply to an older claim's kick
    settler.replied("c", "n3", 5); // a node it was not claimed from
    settler.replied("c", "n1", 5);
    expect(session.holding).toBe(true);
    settler.replied("c", "n2", 5);
    // Released (the client's packets first), then held again with a gate that lets through all but a third node's
    // messages not yet in step (decision 047), until the limit.
    expect(calls).toEqual(["hold", "client settled", "release", "hold"]);
    // Once the claim was answered, what it holds is stored (Session.storeHeld, broker/session-hold.ts), and what the
    // gate's hold holds too.
    expect(session.storing).toBe(2);
    expect(settler.isSettling("c")).toBe(false);
    vi.advanceTimersByTime(2000);
    expect(calls).toEqual(["hold", "client settled", "release", "hold", "release"]);
  });

  it("releases at the time limit when a reply does not come (the old holder died)", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const { calls, asSession } = fakeSession("c", 5);
    settler.start(asSession, 5, ["n1"]);
    vi.advanceTimersByTime(999);
    expect(calls).toEqual(["hold"]);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(["hold", "release"]);
  });

  it("a claim from this node itself while an earlier claim's wait runs joins that wait (the client came back at once), not after a Clean Start (decision 044)", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const first = fakeSession("c", 5);
    settler.start(first.asSession, 5, ["n1"]);
    // The client reconnects here: its new claim (epoch 6, the same session object) names no other node.
    first.session.epoch = 6;
    expect(settler.claimed(first.asSession, 6, { previousNode: "n0", custodian: null })).toBe(true);
    expect(first.session.holding).toBe(true);
    expect(first.calls).toEqual(["hold", "hold"]);
    // What the new claim held meanwhile is stored too: it is this node's.
    expect(first.session.storing).toBe(2);
    settler.replied("c", "n1", 5); // n1 answers the first claim's kick
    expect(first.calls).toEqual(["hold", "hold", "client settled", "release", "hold"]);
    // No wait left: a claim from this node itself waits for nothing.
    const third = fakeSession("c", 7);
    expect(settler.claimed(third.asSession, 7, { previousNode: "n0", custodian: null })).toBe(false);
    // A Clean Start does not join: the old session ended.
    settler.start(first.asSession, 8, ["n1"]);
    const clean = fakeSession("c", 9);
    expect(settler.claimed(clean.asSession, 9, { previousNode: "n0", custodian: null, sessionEnded: true })).toBe(false);
  });

  it("does not release, at the end of its wait, a session that moved on to another node meanwhile (its kick releases it)", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const { session, calls, asSession } = fakeSession("c", 5);
    settler.start(asSession, 5, ["n1"]);
    session.owner = "n2";
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual(["hold"]);
  });

  it("leaves the release to a newer claim of the session (here: another epoch, or a claim in progress)", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const a = fakeSession("a", 5);
    settler.start(a.asSession, 5, ["n1"]);
    a.session.epoch = 6;
    settler.replied("a", "n1", 5);
    expect(a.calls).toEqual(["hold"]);
    const b = fakeSession("b", 5);
    settler.start(b.asSession, 5, ["n1"]);
    b.session.claimant = {};
    vi.advanceTimersByTime(1000);
    expect(b.calls).toEqual(["hold"]);
  });

  it("lifts the hold only while a delivery from a node the session awaits is handled (it goes ahead of what is held)", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const { session, calls, asSession } = fakeSession("c", 5);
    let during: boolean | null = null;
    settler.start(asSession, 5, ["n1"]);
    settler.ahead("n2", () => (during = session.holding));
    expect(during).toBe(true);
    settler.ahead("n1", () => (during = session.holding));
    expect(during).toBe(false);
    expect(session.holding).toBe(true);
    expect(calls).toEqual(["hold", "ahead"]);
  });

  it("names the sessions that hold a message just routed here; leaves them out of a match forward of the node they await that names them (decision 038, seed 96)", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const a = fakeSession("a", 5);
    const b = fakeSession("b", 6);
    settler.start(a.asSession, 5, ["n1"]);
    settler.start(b.asSession, 6, ["n1"]);
    const msg = {};
    expect(settler.holding(msg)).toBeUndefined();
    a.session.last = msg;
    expect(settler.holding(msg)).toEqual(["a"]);
    // n1's match forward, for a message n1 held for "a" itself: "a" is left out, "b" gets it ahead.
    let ran = false;
    settler.ahead("n1", () => (ran = true), ["a"]);
    expect(ran).toBe(true);
    expect(a.calls).toEqual(["hold", "left out"]);
    expect(b.calls).toEqual(["hold", "ahead"]);
    // Another node's delivery naming "a": "a" awaits only n1, so it is neither lifted nor left out.
    settler.ahead("n2", () => {}, ["a"]);
    expect(a.calls).toEqual(["hold", "left out"]);
  });

  it("does not leave out a session claimed with Clean Start: its old holder drops what it held, so this copy is the only one", () => {
    const settler = new MoveSettler(1000, fakePort().port);
    const c = fakeSession("c", 7);
    settler.start(c.asSession, 7, ["n1"], [], true);
    settler.ahead("n1", () => {}, ["c"]);
    expect(c.calls).toEqual(["hold", "ahead"]);
  });

  it("waits for the old holder and the custodian of a claimed session once each (the caller kicked them), and holds only when one is another node", () => {
    const { port, sent } = fakePort();
    const settler = new MoveSettler(1000, port);
    const a = fakeSession("a", 3);
    expect(settler.claimed(a.asSession, 3, { previousNode: "n1", custodian: "n2" })).toBe(true);
    const b = fakeSession("b", 4);
    expect(settler.claimed(b.asSession, 4, { previousNode: "n1", custodian: "n1" })).toBe(true);
    const c = fakeSession("c", 5);
    expect(settler.claimed(c.asSession, 5, { previousNode: "n0", custodian: null })).toBe(false);
    expect(sent).toEqual([]);
    expect([a.session.holding, b.session.holding, c.session.holding]).toEqual([true, true, false]);
    settler.replied("a", "n1", 3);
    expect(a.session.holding).toBe(true);
    settler.replied("a", "n2", 3);
    settler.replied("b", "n1", 4);
    expect([a.calls.includes("release"), b.calls.includes("release")]).toEqual([true, true]);
  });

  it("kicks the earlier holders when a holder stays silent until the limit (it may have died before kicking them), and only then (decision 040)", () => {
    const { port, sent } = fakePort();
    const settler = new MoveSettler(1000, port);
    // n3 claimed the session from n2 and died before its kick reached n2: this claim names n3 and, earlier, n2.
    const silent = fakeSession("s", 7);
    expect(settler.claimed(silent.asSession, 7, { previousNode: "n3", custodian: "n3", earlier: ["n2", "n0", "n3"], sessionEnded: true })).toBe(true);
    // n1 answered: nothing more to do for this one.
    const answered = fakeSession("a", 4);
    settler.claimed(answered.asSession, 4, { previousNode: "n1", custodian: null, earlier: ["n2"] });
    settler.replied("a", "n1", 4);
    vi.advanceTimersByTime(999);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    // Not this node (n0), not n3 (kicked already by the caller): n2 only, with this claim's epoch and Clean Start.
    expect(sent).toEqual(["kick n2 s 7 ended"]);
    expect(silent.session.holding).toBe(false);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual(["kick n2 s 7 ended"]);
  });

  it("kicks the earlier holders of a wait that a newer claim here cut short while a holder was still silent (decision 040)", () => {
    const { port, sent } = fakePort();
    const settler = new MoveSettler(1000, port);
    const s = fakeSession("s", 7);
    settler.claimed(s.asSession, 7, { previousNode: "n3", custodian: null, earlier: ["n2"] });
    vi.advanceTimersByTime(500);
    // The client connects here again (claim 8, taken from this node's own claim 7 and from n4).
    s.session.epoch = 8;
    settler.claimed(s.asSession, 8, { previousNode: "n4", custodian: null });
    expect(sent).toEqual(["kick n2 s 7"]);
    settler.replied("s", "n4", 8);
    vi.advanceTimersByTime(2000);
    expect(sent).toEqual(["kick n2 s 7"]);
  });

  it("kicks the earlier holders at once when a holder's queue is gone (it died and was cleaned up), once, and still waits for the others", () => {
    const { port, sent } = fakePort();
    const settler = new MoveSettler(1000, port);
    const s = fakeSession("s", 9);
    settler.claimed(s.asSession, 9, { previousNode: "n3", custodian: "n4", earlier: ["n2"] });
    settler.unreachable("s", "n3", 8); // another claim's kick
    expect(sent).toEqual([]);
    settler.unreachable("s", "n3", 9);
    expect(sent).toEqual(["kick n2 s 9"]);
    expect(s.session.holding).toBe(true); // n4 has not replied
    expect(s.calls.includes("release")).toBe(false);
    settler.replied("s", "n4", 9);
    expect(s.calls.includes("release")).toBe(true);
    vi.advanceTimersByTime(2000);
    expect(sent).toEqual(["kick n2 s 9"]);
  });

  it("kicks a holder that stayed silent through the wait again once its lease was renewed after the kick, once; forgets one that died or replied late (decision 036, seed 177)", () => {
    const { port, sent } = fakePort();
    const settler = new MoveSettler(1000, port);
    const t0 = Date.now();
    const beat = (nodeId: string, heartbeatAt: number) => ({ nodeId, address: "", queueUrl: null, startedAt: 0, heartbeatAt });
    // s: n3 alive but its kick held back; d: n4 died before the claim; l: n5 replies after the limit.
    settler.claimed(fakeSession("s", 7).asSession, 7, { previousNode: "n3", custodian: null, sessionEnded: true });
    settler.claimed(fakeSession("d", 2).asSession, 2, { previousNode: "n4", custodian: null });
    settler.claimed(fakeSession("l", 5).asSession, 5, { previousNode: "n5", custodian: null });
    settler.seen([beat("n3", t0 + 10)]); // during the wait: nothing yet
    vi.advanceTimersByTime(1000);
    settler.replied("l", "n5", 5);
    // Heartbeats from before the kicks prove nothing.
    settler.seen([beat("n3", t0 - 500), beat("n4", t0 - 2000), beat("n5", t0 + 900)]);
    expect(sent).toEqual([]);
    settler.seen([beat("n3", t0 + 1500), beat("n4", t0 - 2000), beat("n5", t0 + 1900)]);
    expect(sent).toEqual(["again n3 s 7 ended"]);
    // n4's record expired: forgotten, never kicked; n3 is not kicked twice.
    settler.seen([beat("n3", t0 + 2500), beat("n5", t0 + 2900)]);
    settler.seen([beat("n3", t0 + 3500), beat("n4", t0 + 3500), beat("n5", t0 + 3900)]);
    expect(sent).toEqual(["again n3 s 7 ended"]);
  });

  it("a kicked node holds its forwarding copy's deliveries until its earlier writes were followed up, releases them, then replies", async () => {
    const copy = fakeSession("c", 2);
    copy.session.owner = "n1";
    const { port, sent, land } = fakePort({ c: copy.asSession });
    const settler = new MoveSettler(1000, port);
    settler.kicked("n1", "c", 3);
    expect(copy.session.holding).toBe(true);
    expect(sent).toEqual([]);
    land();
    await flush();
    // Released, then the reply in the same turn: the forwards of what was held and the reply leave in one batch.
    expect(copy.calls).toEqual(["hold", "release"]);
    expect(sent).toEqual(["moved n1 c 3"]);
  });

  it("names a kicked forwarding copy that holds a message just routed here, until it passed on what it held (seed 716 of the CI faults)", async () => {
    const copy = fakeSession("c", 3);
    copy.session.owner = "n1";
    const { port, land } = fakePort({ c: copy.asSession });
    const settler = new MoveSettler(1000, port);
    settler.kicked("n1", "c", 4);
    const msg = {};
    copy.session.last = msg;
    // A publish of this node held by the copy: n1 leaves its own copy out and takes this one, behind the older
    // deliveries this node passes on first (their fenced writes routed again).
    expect(settler.holding(msg)).toEqual(["c"]);
    land();
    await flush();
    expect(copy.calls).toEqual(["hold", "release"]);
    expect(settler.holding(msg)).toBeUndefined();
  });

  it("a kicked node that holds no copy of the session replies once its earlier writes were followed up", async () => {
    const { port, sent, land } = fakePort({});
    const settler = new MoveSettler(1000, port);
    settler.kicked("n1", "c", 3);
    expect(sent).toEqual([]);
    land();
    await flush();
    expect(sent).toEqual(["moved n1 c 3"]);
  });

  describe("senders in step with the old holder (decision 047)", () => {
    const n3 = (seq: number): string => `n3:abc:${seq}`;

    it("holds a third node's message that came straight here until the old holder passed on that node's messages up to it (seed 225)", () => {
      const f = fakeSession("c", 5);
      const settler = new MoveSettler(1000, fakePort().port);
      settler.start(f.asSession, 5, ["n4"]);
      settler.replied("c", "n4", 5); // n4 replied before anything came: the client is read, the session follows
      expect(f.calls).toEqual(["hold", "client settled", "release", "hold"]);
      // m2 from n3 straight here (n3's route table has this node): held, n3 may have sent m1 to n4 alone before it.
      settler.ahead("n3", () => f.session.deliver("m2"), undefined, n3(21));
      expect(f.got).toEqual([]);
      // n4 passes m1 on (n3's seq 20): it goes at once, ahead of m2; n3 is not in step yet.
      settler.ahead("n4", () => f.session.deliver("m1"), undefined, n3(20));
      expect(f.got).toEqual(["m1"]);
      // n4 passes on its copy of m2 (seq 21, a duplicate the store drops): n3 is in step, the held m2 goes.
      settler.ahead("n4", () => f.session.deliver("m2 again"), undefined, n3(21));
      expect(f.got).toEqual(["m1", "m2 again", "m2"]);
      // From now on n3's messages go straight out.
      settler.ahead("n3", () => f.session.deliver("m3"), undefined, n3(22));
      expect(f.got).toEqual(["m1", "m2 again", "m2", "m3"]);
      // Other senders' first messages wait for their own copies; this node's own publishes (no node message) do not.
      settler.ahead("n5", () => f.session.deliver("x1"), undefined, "n5:q:9");
      f.session.deliver("local");
      expect(f.got).toEqual(["m1", "m2 again", "m2", "m3", "local"]);
    });

    it("holds a sender's later messages behind its first held one, and lets all go at the limit when no copy comes", () => {
      const f = fakeSession("c", 5);
      const settler = new MoveSettler(1000, fakePort().port);
      settler.start(f.asSession, 5, ["n4"]);
      vi.advanceTimersByTime(100);
      settler.replied("c", "n4", 5);
      settler.ahead("n3", () => f.session.deliver("m2"), undefined, n3(21));
      settler.ahead("n4", () => {}, undefined, n3(22)); // in step for a later one than held? passes 21: in step
      expect(f.got).toEqual(["m2"]);
      settler.ahead("n3", () => f.session.deliver("m3"), undefined, n3(23));
      expect(f.got).toEqual(["m2", "m3"]);
      settler.ahead("n6", () => f.session.deliver("y1"), undefined, "n6:z:4");
      settler.ahead("n6", () => f.session.deliver("y2"), undefined, "n6:z:5");
      expect(f.got).toEqual(["m2", "m3"]);
      vi.advanceTimersByTime(899);
      expect(f.got).toEqual(["m2", "m3"]);
      vi.advanceTimersByTime(1);
      expect(f.got).toEqual(["m2", "m3", "y1", "y2"]);
      // The limit ended the following: nothing is held any more.
      settler.ahead("n7", () => f.session.deliver("z1"), undefined, "n7:z:1");
      expect(f.got.at(-1)).toBe("z1");
    });

    it("keeps holding at the reply what a sender sent straight here during the wait, but reads the client's packets", () => {
      const f = fakeSession("c", 5);
      const settler = new MoveSettler(1000, fakePort().port);
      settler.start(f.asSession, 5, ["n4"]);
      settler.ahead("n3", () => f.session.deliver("m2"), undefined, n3(21)); // held by the wait itself
      settler.replied("c", "n4", 5);
      expect(f.session.holding).toBe(true);
      expect(f.calls).toEqual(["hold", "client settled"]);
      settler.ahead("n4", () => f.session.deliver("m1"), undefined, n3(21));
      expect(f.got).toEqual(["m1", "m2"]);
    });

    it("follows no sender of a session that moved on or was released at the limit without replies", () => {
      const f = fakeSession("c", 5);
      const settler = new MoveSettler(1000, fakePort().port);
      settler.start(f.asSession, 5, ["n4"]);
      settler.replied("c", "n4", 5);
      f.session.owner = "n7"; // claimed elsewhere since (the kick turned it into a forwarding copy, holding or not)
      settler.ahead("n4", () => {}, undefined, n3(30));
      const g = fakeSession("d", 2);
      settler.start(g.asSession, 2, ["n4"]);
      vi.advanceTimersByTime(1000); // no reply: released at the limit, nothing followed
      settler.ahead("n3", () => g.session.deliver("m"), undefined, n3(31));
      expect(g.got).toEqual(["m"]);
    });

    it("lets a sender's message pass when no old holder routes its topic, and follows nothing after a Clean Start", () => {
      const f = fakeSession("c", 5);
      const settler = new MoveSettler(1000, fakePort().port);
      settler.start(f.asSession, 5, ["n4"]);
      settler.replied("c", "n4", 5);
      // A filter the client subscribed to after its move: n3 sent nothing of it to n4, nothing can come passed on.
      settler.ahead("n3", () => f.session.deliver("new/a"), undefined, n3(21));
      expect(f.got).toEqual(["new/a"]);
      settler.ahead("n3", () => f.session.deliver("m2"), undefined, n3(22));
      expect(f.got).toEqual(["new/a"]);
      // Clean Start: the old holder drops the old session and passes nothing on: released at the replies, not followed.
      const g = fakeSession("d", 7);
      settler.start(g.asSession, 7, ["n4"], [], true);
      settler.replied("d", "n4", 7);
      expect(g.calls).toEqual(["hold", "release"]);
      settler.ahead("n3", () => g.session.deliver("m"), undefined, n3(23));
      expect(g.got).toEqual(["m"]);
    });

    it("reads a sender's stamp from a node message's root", () => {
      expect(senderStamp("n3:mjuohs1q:220")).toEqual({ sender: "n3:mjuohs1q", seq: 220 });
      expect(senderStamp("n3:mjuohs1q:218#jRpbk-lCkvUZ.2.16")).toEqual({ sender: "n3:mjuohs1q", seq: 218 });
      expect(senderStamp("n3:a:5>n4:b.0")).toBeNull(); // derived: not a sender's own message
      expect(senderStamp("rest-1234")).toBeNull();
      expect(senderStamp("n3:a:x")).toBeNull();
    });
  });
});
