import { describe, expect, it } from "vitest";
import { ClaimIds, claimRepeating } from "../../broker/claim-repeats.js";
import { ClaimRefused } from "../../core/store/errors.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { ClaimOptions } from "../../core/store/types.js";

const TERMS: ClaimOptions = { node: "n2", clean: false, username: null, now: 1 };

/**
 * A memory store whose session c1 node n1 holds, and whose later claims take effect but whose next `lose` replies
 * are lost; records the ids those claims carried.
 */
async function lossy(lose: number): Promise<{ store: MemoryStore; ids: (string | undefined)[] }> {
  const store = new MemoryStore();
  await store.claimSession("c1", { ...TERMS, node: "n1" });
  const claim = store.claimSession.bind(store);
  const ids: (string | undefined)[] = [];
  let left = lose;
  store.claimSession = async (clientId, opts) => {
    ids.push(opts.claimId);
    const r = await claim(clientId, opts);
    if (left-- > 0) throw new Error("reply lost");
    return r;
  };
  return { store, ids };
}

describe("claim repeats (broker/claim-repeats.ts, decision 034)", () => {
  it("repeats a claim whose reply was lost under the same id and gets the first answer (the old holder)", async () => {
    const { store, ids } = await lossy(2);
    const errors: number[] = [];
    const r = await claimRepeating(store, "c1", TERMS, new ClaimIds(), () => true, (_e, attempt) => errors.push(attempt));
    expect(r).toMatchObject({ epoch: 2, previousNode: "n1", present: true });
    expect(errors).toEqual([1, 2]);
    expect(ids).toHaveLength(3);
    expect(ids.every((id) => id !== undefined && id === ids[0])).toBe(true);
  });

  it("gives up after the last repeat, keeps the id for the next claim on the same terms, and forgets it once answered", async () => {
    const { store, ids } = await lossy(4);
    const claimIds = new ClaimIds();
    await expect(claimRepeating(store, "c1", TERMS, claimIds, () => true, () => undefined)).rejects.toThrow("reply lost");
    expect(claimIds.size).toBe(1);
    const r = await claimRepeating(store, "c1", { ...TERMS, now: 5 }, claimIds, () => true, () => undefined);
    expect(r).toMatchObject({ epoch: 2, previousNode: "n1" });
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(1);
    expect(claimIds.size).toBe(0);
  });

  it("does not repeat a refusal, nor once the CONNECT is no longer wanted; other terms get another id", async () => {
    const store = new MemoryStore();
    await store.claimSession("c1", { ...TERMS, identity: "user:a" });
    const claimIds = new ClaimIds();
    await expect(claimRepeating(store, "c1", { ...TERMS, identity: "user:b" }, claimIds, () => true, () => undefined)).rejects.toBeInstanceOf(ClaimRefused);
    expect(claimIds.size).toBe(0);
    const { store: lossyStore, ids } = await lossy(1);
    await expect(claimRepeating(lossyStore, "c1", TERMS, claimIds, () => false, () => undefined)).rejects.toThrow("reply lost");
    expect(ids).toHaveLength(1);
    const first = claimIds.begin("c1", TERMS);
    expect(claimIds.begin("c1", TERMS)).toBe(first);
    expect(claimIds.begin("c1", { ...TERMS, clean: true })).not.toBe(first);
  });
});
