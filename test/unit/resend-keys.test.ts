import { describe, expect, it } from "vitest";
import { DurableAcks } from "../../broker/durable-acks.js";
import type { Journal } from "../../broker/journal.js";
import type { ReadGate } from "../../broker/read-gate.js";
import { startTestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { until } from "../helpers/wait.js";
import { RecentResends, RESENDS_KEPT_MS } from "../../broker/recent-resends.js";
import { SessionClaimState } from "../../broker/session-claim-state.js";
import { MoveSettler, type MovePort } from "../../broker/move-settle.js";
import type { Session } from "../../broker/session.js";
import { decodeNodeMessage, encodeNodeMessage } from "../../core/communicator/schema.js";
import { MAX_UNACKED } from "../../core/communicator/types.js";
import { orderKey, orderKeyPrefix, orderTag } from "../../core/order-key.js";

/**
 * Decision 045: the QoS 1 publishes a client may send again after a take-over keep their order keys. The old node
 * lists them in its reply to the kick (pending PUBACKs and those written lately), the new one gives the re-sends
 * those keys.
 */

/** DurableAcks over a journal whose batches land when `land(id)` is called. */
function acks() {
  const written: number[] = [];
  let next = 0;
  const journal = { wait: () => ++next } as unknown as Journal;
  const reading = { ackPaused: false, pauseForAcks: () => undefined, releaseAcks: () => undefined } as unknown as ReadGate;
  const a = new DurableAcks({ isClosed: false, writeAck: (_t, id) => written.push(id) }, journal, reading);
  return { a, written };
}

const PREFIX = orderKeyPrefix(orderTag("pub"), 3);

describe("DurableAcks.resendable", () => {
  it("lists the PUBACKs still held and those written lately, oldest first, with their order keys", () => {
    const { a, written } = acks();
    a.hold(0x40, 10, 0, true, 1, 1);
    a.hold(0x50, 11, 0, true, 1); // a PUBREC: not listed (QoS 2 re-sends have their roots)
    a.hold(0x40, 12, 0, true, 1, "x.2.9"); // a re-send that kept an earlier claim's key
    a.hold(0x40, 13, 0, true, 1, 3);
    a.onDurable(2); // 10 and 11 go out
    expect(written).toEqual([10, 11]);
    expect(a.resendable(PREFIX, Date.now())).toEqual([
      [10, orderKey(orderTag("pub"), 3, 1)],
      [12, "x.2.9"],
      [13, orderKey(orderTag("pub"), 3, 3)],
    ]);
  });

  it("forgets a written PUBACK after 5 s, and keeps only the last 16", () => {
    const { a } = acks();
    for (let i = 1; i <= 20; i++) a.hold(0x40, i, 0, true, 1, i);
    a.onDurable(20);
    const now = Date.now();
    expect(a.resendable(PREFIX, now).map(([id]) => id)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(a.resendable(PREFIX, now + 5001)).toEqual([]);
  });
});

describe("SessionClaimState: the keys re-sends keep", () => {
  function claimed(epoch: number): SessionClaimState {
    const s = new SessionClaimState("pub", false);
    s.keptUnder(epoch);
    return s;
  }
  const tag = orderTag("pub");

  it("gives a re-send (DUP) of a listed packet id its key once; a new publish ends the re-sends", () => {
    const s = claimed(5);
    s.expectResends([[7, orderKey(tag, 4, 2)], [8, orderKey(tag, 4, 3)]], MAX_UNACKED);
    expect(s.resentKey(9, true)).toBeUndefined(); // not listed
    expect(s.resentKey(7, true)).toBe(orderKey(tag, 4, 2));
    expect(s.resentKey(7, true)).toBeUndefined(); // once
    expect(s.resentKey(8, false)).toBeUndefined(); // not a re-send: the re-sends are over
    expect(s.resentKey(8, true)).toBeUndefined();
  });

  it("forgets the list at the session's next claim", () => {
    const s = claimed(5);
    s.expectResends([[7, orderKey(tag, 4, 2)]], MAX_UNACKED);
    s.beginClaim({} as never, "id");
    expect(s.resentKey(7, true)).toBeUndefined();
  });

  it("keeps only keys of this client under an older claim, at most `max`", () => {
    const s = claimed(5);
    s.expectResends(
      [
        [1, orderKey(orderTag("other"), 4, 1)], // another client's stream
        [2, orderKey(tag, 5, 1)], // this claim's own epoch
        [3, orderKey(tag, 6, 1)], // a newer one
        [4, "not a key"],
        [5, orderKey(tag, 4, 1)],
        [6, orderKey(tag, 4, 2)],
        [7, orderKey(tag, 4, 3)],
      ],
      2,
    );
    for (const id of [1, 2, 3, 4, 7]) expect(s.resentKey(id, true)).toBeUndefined();
    expect(s.resentKey(5, true)).toBe(orderKey(tag, 4, 1));
    expect(s.resentKey(6, true)).toBe(orderKey(tag, 4, 2));
  });
});

describe("the `moved` reply's list", () => {
  const base = { type: "moved" as const, id: "n1:1", origin: "n1", clientId: "pub", epoch: 4 };
  it("is checked: packet ids 1..65535, order keys, at most MAX_UNACKED", () => {
    const ok = decodeNodeMessage(encodeNodeMessage({ ...base, unacked: [[7, orderKey(orderTag("pub"), 3, 1)]] }));
    expect(ok.ok && ok.message).toEqual({ ...base, unacked: [[7, orderKey(orderTag("pub"), 3, 1)]] });
    expect(decodeNodeMessage(JSON.stringify({ ...base, unacked: [[0, "a.1.1"]] })).ok).toBe(false);
    expect(decodeNodeMessage(JSON.stringify({ ...base, unacked: [[7, "no key"]] })).ok).toBe(false);
    const many = Array.from({ length: MAX_UNACKED + 1 }, (_, i) => [(i % 65535) + 1, "a.1.1"]);
    expect(decodeNodeMessage(JSON.stringify({ ...base, unacked: many })).ok).toBe(false);
    expect(decodeNodeMessage(JSON.stringify(base)).ok).toBe(true); // from a node that predates it
  });
});

describe("MoveSettler: the reply's list reaches the claimed session", () => {
  function settler() {
    const replies: unknown[] = [];
    const port = {
      nodeId: "n2",
      journal: { followedUpAll: () => Promise.resolve() },
      session: () => undefined,
      reply: (_node: string, _clientId: string, _epoch: number, unacked: unknown) => replies.push(unacked),
      kick: () => undefined,
      kickAgain: () => undefined,
      reaches: () => true,
    } as unknown as MovePort;
    return { settler: new MoveSettler(60_000, port), replies };
  }
  function session(clientId: string) {
    const expected: unknown[] = [];
    const s = { clientId, epoch: 5, claimant: null, owner: null, holdDeliveries: () => undefined, releaseDeliveries: () => undefined, storeHeld: () => undefined, followSenders: () => undefined, heldBy: () => false, settleClient: () => undefined, expectResends: (u: unknown) => expected.push(u) };
    return { s: s as unknown as Session, expected };
  }

  it("passes it on, but not after a Clean Start (nothing is re-sent)", () => {
    const { settler: m } = settler();
    const a = session("a");
    m.claimed(a.s, 5, { previousNode: "n1", custodian: null });
    m.replied("a", "n1", 5, [[7, "k.4.1"]]);
    expect(a.expected).toEqual([[[7, "k.4.1"]]]);
    const b = session("b");
    m.claimed(b.s, 5, { previousNode: "n1", custodian: null, sessionEnded: true });
    m.replied("b", "n1", 5, [[7, "k.4.1"]]);
    expect(b.expected).toEqual([]);
  });

  it("the old node's reply carries what the kick's close left to re-send", async () => {
    const { settler: m, replies } = settler();
    m.kicked("n2", "pub", 5, [[7, "k.4.1"]]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(replies).toEqual([[[7, "k.4.1"]]]);
  });
});

describe("RecentResends: what a connection that closed by itself left to re-send", () => {
  it("keeps a non-empty list under its claim's epoch for 5 s, and gives it once", () => {
    const kept = new RecentResends();
    kept.remember("c", 3, [[7, "k.3.1"]], 1_000);
    kept.remember("e", 3, [], 1_000);
    expect(kept.size).toEqual({ lists: 1, entries: 1 });
    expect(kept.take("c", 2, 1_500)).toEqual([]); // another claim's
    kept.remember("c", 3, [[7, "k.3.1"]], 1_000);
    expect(kept.take("c", 3, 1_000 + RESENDS_KEPT_MS)).toEqual([]); // expired
    kept.remember("c", 3, [[7, "k.3.1"]], 1_000);
    expect(kept.take("c", 3, 5_999)).toEqual([[7, "k.3.1"]]);
    expect(kept.take("c", 3, 5_999)).toEqual([]);
    // An empty list replaces an older one.
    kept.remember("c", 3, [[7, "k.3.1"]], 1_000);
    kept.remember("c", 4, [], 1_100);
    expect(kept.take("c", 3, 1_200)).toEqual([]);
    expect(kept.size).toEqual({ lists: 0, entries: 0 });
  });

  it("keeps at most `maxLists` lists and `maxEntries` entries, dropping the oldest and the expired ones", () => {
    const kept = new RecentResends(5_000, 2, 100);
    kept.remember("a", 1, [[1, "k.1.1"]], 0);
    kept.remember("b", 1, [[1, "k.1.1"]], 10);
    kept.remember("c", 1, [[1, "k.1.1"]], 20);
    expect(kept.size.lists).toBe(2);
    expect(kept.take("a", 1, 30)).toEqual([]);
    expect(kept.take("b", 1, 30)).toEqual([[1, "k.1.1"]]);
    kept.remember("d", 1, [[1, "k.1.1"]], 6_000); // c expired meanwhile
    expect(kept.size).toEqual({ lists: 1, entries: 1 });
    const many = (n: number): [number, string][] => Array.from({ length: n }, (_, i) => [i + 1, `k.1.${i + 1}`]);
    kept.remember("e", 1, many(60), 6_000);
    kept.remember("f", 1, many(60), 6_000); // 121 entries: d and e go
    expect(kept.size).toEqual({ lists: 1, entries: 60 });
    expect(kept.take("f", 1, 6_000)).toHaveLength(60);
  });

  it("keeps the newest MAX_UNACKED entries of a longer list (what a `moved` reply carries)", () => {
    const kept = new RecentResends();
    const list = Array.from({ length: MAX_UNACKED + 10 }, (_, i): [number, string] => [(i % 65_535) + 1, `k.1.${i}`]);
    kept.remember("c", 1, list, 0);
    const got = kept.take("c", 1, 0);
    expect(got).toHaveLength(MAX_UNACKED);
    expect(got[0]).toEqual(list[10]);
  });

  it("a client back on the same node after its socket dropped re-sends with its first copies' keys", async () => {
    const b = await startTestBroker();
    try {
      // A persistent subscriber makes the publisher's PUBACK wait for the store (so it is remembered as written).
      const sub = await RawClient.connected(b.mqttPort, { clientId: "sub", clean: false });
      sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "t/x", qos: 1 }] });
      await sub.expect("suback");
      const keys: string[] = [];
      b.broker.on("message.published", (msg, clientId) => {
        if (clientId === "pub" && msg.order !== undefined) keys.push(msg.order);
      });
      const pub = await RawClient.connected(b.mqttPort, { clientId: "pub", clean: false });
      pub.send({ cmd: "publish", topic: "t/x", payload: Buffer.from("m1"), qos: 1, messageId: 5, dup: false, retain: false });
      await pub.expect("puback");
      pub.socket.destroy();
      await until(() => b.broker.sessions.get("pub")?.link === null, "the broker to see pub's socket close");
      const again = await RawClient.connected(b.mqttPort, { clientId: "pub", clean: false });
      const session = b.broker.sessions.get("pub");
      expect(keys).toHaveLength(1);
      expect(session?.resentKey(5, true)).toBe(keys[0]);
      again.socket.destroy();
      sub.socket.destroy();
    } finally {
      await b.close();
    }
  });
});
