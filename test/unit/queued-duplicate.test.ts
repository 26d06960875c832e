import { describe, expect, it } from "vitest";
import type { Journal, ResultTarget } from "../../broker/journal.js";
import { Session } from "../../broker/session.js";
import type { SessionHost, SessionLink } from "../../broker/session-ports.js";
import type { Message } from "../../broker/types.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { StoreOp } from "../../core/store/types.js";
import { testLink } from "../helpers/session-link.js";

/**
 * An entry a write that bypassed ownership stored in its session's queue (a forward stored regardless of its owner
 * after `maxHops`, docs/cluster.md; or while a named node owns it, `exceptOwner`) after the owner's claim read the
 * queue. The owner's own
 * enqueue of the same node message is refused as `duplicate` (decision 021's dedup window); the store names the
 * queued entry, and the owner takes it instead of dropping its copy. Found by the simulation (storeOutages seed 3
 * with decision 047): two acknowledged messages were never delivered.
 */

/** A journal that writes to a real memory store when `flush` is called, and hands each answer to its target. */
function storeJournal(store: MemoryStore) {
  const pending: { op: StoreOp; target: ResultTarget<unknown> | null; ctx: unknown }[] = [];
  const journal = {
    dedupId: null as string | null,
    write: (op: StoreOp, target: ResultTarget<unknown> | null = null, ctx: unknown = null) => {
      pending.push({ op, target, ctx });
      return 1;
    },
    followUp: (fn: () => void) => fn(),
    withDedupId<T>(id: string | null, fn: () => T): T {
      const outer = journal.dedupId;
      journal.dedupId = id;
      try {
        return fn();
      } finally {
        journal.dedupId = outer;
      }
    },
    landedAfter: (fn: () => void) => {
      fn();
      return Promise.resolve();
    },
    untrack: () => {},
    trackOnce: () => {},
    label: () => {},
  };
  /** Applies what was written, batch after batch, until the answers write nothing more. */
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending.splice(0);
      const results = await store.apply(batch.map((w) => w.op));
      batch.forEach((w, i) => w.target?.onStoreResult(w.ctx, results[i] as never));
    }
  };
  return { journal: journal as unknown as Journal, flush };
}

function fakeLink(): { link: SessionLink; sent: string[] } {
  const sent: string[] = [];
  const link = testLink({ writePublish: (msg, _qos, _retain, _dup, packetId) => void sent.push(`${msg.topic} ${msg.payload.toString()} id=${packetId}`) });
  return { link, sent };
}

const m = (topic: string, payload: string): Message => ({ topic, payload: Buffer.from(payload), qos: 1, retain: false });

async function ownedSession(maxInflight: number) {
  const store = new MemoryStore();
  const { journal, flush } = storeJournal(store);
  const host: SessionHost = { journal, clustered: true, now: () => 0, onDrop: () => {}, onDeliveryDenied: () => {}, forward: () => {}, onIdleStateMade: () => {} };
  const claim = await store.claimSession("sub1", { node: "n3", clean: false, username: null, now: 1 });
  const session = new Session("sub1", false, { maxInflight, maxQueued: 100, queueDropPolicy: "oldest" }, host);
  session.loadSnapshot(claim.snapshot);
  const { link, sent } = fakeLink();
  session.attach(link);
  /** A store regardless of the owner of node message `id` (no epoch, not `unowned`), after the claim. */
  const storedOffline = async (id: string, msg: Message): Promise<void> => {
    const [r] = await store.apply([{ op: "enqueue", clientId: "sub1", entry: { msg, qos: 1, retain: false, packetId: 0 }, maxQueued: 100, dropPolicy: "oldest", dedupId: id }]);
    expect(r?.ok).toBe(true);
  };
  /** The owner's delivery of node message `id` (its enqueue carries the id), written and answered. */
  const delivered = async (id: string, msg: Message): Promise<void> => {
    journal.withDedupId(id, () => session.deliver(msg, 1, false));
    await flush();
  };
  const stored = async (): Promise<string[]> => ((await store.getSession("sub1"))?.outgoing ?? []).map((o) => `${o.msg.payload.toString()} id=${o.packetId}`);
  /** PUBACK for `packetId`, and its writes (the delete, the next message's send) answered. */
  const acked = async (packetId: number): Promise<void> => {
    session.onPuback(packetId);
    await flush();
  };
  return { session, sent, storedOffline, delivered, stored, acked };
}

describe("an owner's enqueue refused as a duplicate of an entry its snapshot did not have", () => {
  it("takes the queued entry in its window slot and sends it once (storeOutages seed 3)", async () => {
    const s = await ownedSession(10);
    await s.storedOffline("n2:a:18", m("t/0/1", "6"));
    await s.delivered("n2:a:18", m("t/0/1", "6"));
    expect(s.sent).toEqual(["t/0/1 6 id=1"]);
    // The entry is in flight under the id it was sent with, so a restart re-sends it under that id.
    expect(await s.stored()).toEqual(["6 id=1"]);
    // Another copy of the same node message: the session has the entry, so nothing more is sent.
    await s.delivered("n2:a:18", m("t/0/1", "6"));
    expect(s.sent).toEqual(["t/0/1 6 id=1"]);
    await s.acked(1);
    await s.delivered("n2:a:19", m("t/0/1", "7"));
    expect(s.sent).toEqual(["t/0/1 6 id=1", "t/0/1 7 id=3"]); // id 2 was reserved for the second copy
  });

  it("takes it in the queue's place when the window is full, and sends it in turn", async () => {
    const s = await ownedSession(1);
    await s.delivered("n2:a:17", m("t/0/1", "5"));
    await s.storedOffline("n2:a:18", m("t/0/1", "6"));
    await s.delivered("n2:a:18", m("t/0/1", "6"));
    expect(s.sent).toEqual(["t/0/1 5 id=1"]);
    await s.acked(1);
    // The window has room: the taken entry goes out next (the sent boundary passes it).
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(s.sent.length).toBe(2);
    expect(s.sent[1]).toMatch(/^t\/0\/1 6 id=/);
  });

  it("does not take an entry the session has (its own earlier enqueue of the message)", async () => {
    const s = await ownedSession(1);
    await s.delivered("n2:a:17", m("t/0/1", "5"));
    await s.delivered("n2:a:18", m("t/0/1", "6"));
    await s.delivered("n2:a:18", m("t/0/1", "6"));
    await s.acked(1);
    expect(s.sent.filter((x) => x.startsWith("t/0/1 6")).length).toBe(1);
  });
});
