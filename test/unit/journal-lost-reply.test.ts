import { describe, expect, it } from "vitest";
import { Journal } from "../../broker/journal.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { ApplyKey, StoreOp, StoreOpResult } from "../../core/store/types.js";

/**
 * A journal batch whose store reply is lost (the writes took effect, the journal saw an error) is retried; the
 * retry must not store its messages again, nor answer "duplicate" for an enqueue with a dedup id, which made the
 * connected session drop its copy (finding S4 of decision 023; decision 030).
 */

/** A memory store whose first `apply` takes effect and then fails, as if its reply were lost. */
class LosesFirstReply extends MemoryStore {
  keys: (ApplyKey | undefined)[] = [];
  override async apply(ops: StoreOp[], key?: ApplyKey): Promise<StoreOpResult[]> {
    this.keys.push(key);
    const results = await super.apply(ops, key);
    if (this.keys.length === 1) throw new Error("reply lost");
    return results;
  }
}

describe("journal: a batch retried after a lost reply", () => {
  it("is applied once and its writers get the first results", async () => {
    const store = new LosesFirstReply();
    const { epoch } = await store.claimSession("c1", { node: "n1", clean: false, username: null, now: 1 });
    const errors: number[] = [];
    const journal = new Journal(store, { onStoreError: (_e, attempt) => errors.push(attempt), onStoreRecovered() {} }, 1);
    const got: StoreOpResult[] = [];
    const target = { onStoreResult: (_ctx: unknown, r: StoreOpResult) => got.push(r) };
    const entry = (topic: string) => ({ msg: { topic, payload: Buffer.from("x"), qos: 1 as const, retain: false }, qos: 1 as const, retain: false, packetId: 0 });
    // A client's publish (no dedup id) and a node message's (a dedup id), for the same connected session.
    journal.write({ op: "enqueue", clientId: "c1", entry: entry("t/1"), maxQueued: 10, dropPolicy: "oldest", epoch }, target, null);
    journal.write({ op: "enqueue", clientId: "c1", entry: entry("t/2"), maxQueued: 10, dropPolicy: "oldest", epoch, dedupId: "n2:1", now: 1 }, target, null);
    await new Promise<void>((resolve) => journal.wait({ onDurable: () => resolve() }));
    journal.close();
    expect(errors).toEqual([1]);
    expect(store.keys).toHaveLength(2);
    expect(store.keys[1]).toEqual(store.keys[0]);
    expect(got).toEqual([{ ok: true, seq: 1 }, { ok: true, seq: 2 }]);
    expect((await store.getSession("c1"))?.outgoing.map((o) => o.msg.topic)).toEqual(["t/1", "t/2"]);
  });
});
