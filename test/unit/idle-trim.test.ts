import { describe, expect, it } from "vitest";
import { IdleTrim, type IdleSubject } from "../../broker/idle-trim.js";
import type { Journal } from "../../broker/journal.js";
import { Session } from "../../broker/session.js";
import type { SessionHost, SessionLink } from "../../broker/session-ports.js";
import type { Message } from "../../broker/types.js";
import { testLink } from "../helpers/session-link.js";

/**
 * The idle sweep (broker/idle-trim.ts, decision 052): a session gives back an outbox that has been empty and unused
 * for a whole pass, and its packet ids go on where they were.
 */

function host(made: { count: number }): SessionHost {
  const journal = { dedupId: null, write: () => 1, followUp: (fn: () => void) => fn(), withDedupId: <T>(_id: string | null, fn: () => T): T => fn() } as unknown as Journal;
  return { journal, clustered: false, now: () => 0, onDrop: () => {}, onDeliveryDenied: () => {}, forward: () => {}, onIdleStateMade: () => void made.count++ };
}

function link(ids: number[]): SessionLink {
  return testLink({ writePublish: (_msg, _qos, _retain, _dup, packetId) => void ids.push(packetId) });
}

const msg = (topic: string): Message => ({ topic, payload: Buffer.from("x"), qos: 1, retain: false });

function attached() {
  const made = { count: 0 };
  const ids: number[] = [];
  const session = new Session("dev1", true, { maxInflight: 10, maxQueued: 100, queueDropPolicy: "oldest" }, host(made));
  session.attach(link(ids));
  return { session, ids, made };
}

describe("Session.trimIdle", () => {
  it("lets an outbox go after a whole pass empty and unused; packet ids go on from the last one", () => {
    const { session, ids, made } = attached();
    expect(session.trimIdle()).toBe(false); // no outbox yet
    session.deliver(msg("cmd"), 1, false);
    session.deliver(msg("cmd"), 1, false);
    expect(ids).toEqual([1, 2]);
    expect(made.count).toBe(1);
    session.onPuback(1);
    session.onPuback(2);
    expect(session.trimIdle()).toBe(true); // empty now: marked, kept for one pass
    expect(session.trimIdle()).toBe(false); // still empty, no packet id given since: let go
    expect(session.trimIdle()).toBe(false);
    session.deliver(msg("cmd"), 1, false);
    expect(made.count).toBe(2); // a new outbox
    expect(ids).toEqual([1, 2, 3]);
    expect(session.inflightCount).toBe(1);
    session.onPuback(3);
    expect(session.inflightCount).toBe(0);
  });

  it("keeps an outbox with a message in flight, and one used since the last pass", () => {
    const { session, ids, made } = attached();
    session.deliver(msg("cmd"), 1, false);
    expect(session.trimIdle()).toBe(true);
    expect(session.trimIdle()).toBe(true); // in flight: never let go
    session.onPuback(1);
    expect(session.trimIdle()).toBe(true); // empty: marked
    session.deliver(msg("cmd"), 1, false);
    session.onPuback(2);
    expect(session.trimIdle()).toBe(true); // empty again, but a packet id was given since the mark
    expect(session.trimIdle()).toBe(false);
    expect(made.count).toBe(1);
    expect(ids).toEqual([1, 2]);
  });

  it("an acknowledgement after the outbox went is ignored like any unknown packet id", () => {
    const { session, ids } = attached();
    session.deliver(msg("cmd"), 1, false);
    session.onPuback(1);
    session.trimIdle();
    expect(session.trimIdle()).toBe(false);
    session.onPuback(1);
    expect(session.onPubrec(1)).toBe(false);
    session.deliver(msg("cmd"), 1, false);
    expect(ids).toEqual([1, 2]);
  });
});

describe("Session.trimIdle and the route memo (decision 057)", () => {
  it("a memo unused for a whole pass goes, one in use stays, and making one starts the sweep", () => {
    const { session, made } = attached();
    expect(session.trimIdle()).toBe(false);
    const memo = session.routeMemo();
    expect(made.count).toBe(1); // the sweep was told
    memo?.begin("fleet/d1/up", 0);
    expect(session.trimIdle()).toBe(true); // used since the last visit: kept
    expect(session.routeMemo()).toBe(memo);
    memo?.replay(() => undefined);
    expect(session.trimIdle()).toBe(true);
    expect(session.trimIdle()).toBe(false); // a whole pass unused: gone, nothing left to hold
    const next = session.routeMemo();
    expect(next).not.toBe(memo);
    expect(made.count).toBe(2);
  });

  it("the outbox and the memo go each on its own", () => {
    const { session } = attached();
    session.deliver(msg("cmd"), 1, false);
    session.onPuback(1);
    session.routeMemo()?.begin("t", 0);
    expect(session.trimIdle()).toBe(true); // outbox marked, memo used
    session.routeMemo()?.replay(() => undefined);
    expect(session.trimIdle()).toBe(true); // outbox gone, memo used
    expect(session.inflightCount).toBe(0);
    expect(session.trimIdle()).toBe(false); // memo gone
  });
});

describe("IdleTrim", () => {
  function subjects(n: number, holding: (i: number) => boolean) {
    const visits: number[] = [];
    const list: IdleSubject[] = Array.from({ length: n }, (_, i) => ({ trimIdle: () => (visits.push(i), holding(i)) }));
    return { list, visits };
  }

  it("walks the sessions in slices, each going on where the last stopped", () => {
    const { list, visits } = subjects(5, () => true);
    const trim = new IdleTrim(() => list, { slice: 2 });
    expect(trim.sweep()).toBe(false);
    expect(visits).toEqual([0, 1]);
    expect(trim.sweep()).toBe(false);
    expect(trim.sweep()).toBe(true); // 4, then the end of the pass
    expect(visits).toEqual([0, 1, 2, 3, 4]);
    trim.sweep();
    expect(visits).toEqual([0, 1, 2, 3, 4, 0, 1]);
  });

  it("stops after a pass that leaves no session holding anything, unless one made an outbox during it", () => {
    let held = true;
    const { list } = subjects(3, () => held);
    const trim = new IdleTrim(() => list, { slice: 10 });
    trim.watch();
    expect(trim.running).toBe(true);
    trim.sweep();
    expect(trim.running).toBe(true); // a pass with holders
    held = false;
    trim.watch(); // an outbox made during the next pass, after the walk went by its session
    trim.sweep();
    expect(trim.running).toBe(true);
    trim.sweep();
    expect(trim.running).toBe(false);
    trim.watch();
    expect(trim.running).toBe(true);
    trim.stop();
  });
});
