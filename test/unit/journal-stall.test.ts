import { afterEach, describe, expect, it, vi } from "vitest";
import { Journal } from "../../broker/journal.js";
import { STALL_REPORT_MS } from "../../broker/journal-stall.js";
import { MemoryStore } from "../../core/store/memory.js";

/**
 * A journal batch whose side effect never settles holds every later acknowledgement of the node: it is reported,
 * with what it waits for, once it has waited STALL_REPORT_MS, and not before.
 */

afterEach(() => {
  vi.useRealTimers();
});

describe("journal stall report", () => {
  it("names the side effects a batch still waits for, after STALL_REPORT_MS, and an ack waiting behind it", async () => {
    vi.useFakeTimers();
    const stalls: { batchId: number; waitedMs: number; pending: string[] }[] = [];
    const journal = new Journal(new MemoryStore(), {
      onStoreError() {},
      onStoreRecovered() {},
      onStall: (batchId, waitedMs, pending) => stalls.push({ batchId, waitedMs, pending }),
    });
    let settle = (): void => {};
    const stuck = new Promise<void>((resolve) => (settle = resolve));
    journal.label(stuck, () => "forwards to node-2");
    const done = journal.track(Promise.resolve());
    const batch = journal.track(stuck);
    expect(batch).toBe(done); // the same batch: one settled side effect, one that is not
    const acked: number[] = [];
    journal.wait({ onDurable: (id) => acked.push(id) });
    await vi.advanceTimersByTimeAsync(STALL_REPORT_MS - 1000);
    expect(stalls).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]?.batchId).toBe(batch);
    expect(stalls[0]?.pending).toEqual(["forwards to node-2"]);
    expect(stalls[0]?.waitedMs).toBeGreaterThanOrEqual(STALL_REPORT_MS);
    expect(acked).toEqual([]);
    settle();
    await vi.advanceTimersByTimeAsync(STALL_REPORT_MS * 2);
    expect(acked).toEqual([batch]);
    expect(stalls).toHaveLength(1); // settled: reported no more
    journal.close();
  });

  it("reports an unlabelled side effect as such, and nothing while batches complete", async () => {
    vi.useFakeTimers();
    const stalls: string[][] = [];
    const journal = new Journal(new MemoryStore(), { onStoreError() {}, onStoreRecovered() {}, onStall: (_b, _w, pending) => stalls.push(pending) });
    for (let i = 0; i < 20; i++) {
      journal.track(Promise.resolve());
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(stalls).toEqual([]);
    journal.track(new Promise(() => {}));
    await vi.advanceTimersByTimeAsync(STALL_REPORT_MS + 1000);
    expect(stalls).toEqual([["unlabelled"]]);
    journal.close();
  });
});
