import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Store } from "../../core/store/types.js";
import { Lease, type LeaseHost } from "../../broker/lease.js";

/**
 * The lease of a cluster node (broker/lease.ts, decision 019), on fake timers and a fake monotonic clock: when it
 * is given up, from when a renewal counts, and how the node comes back. Renewals are answered by hand.
 */

const TTL = 3000;
const MARGIN = 300;
const HEARTBEAT = 1000;

interface Renewal {
  at: number;
  answer(renewed: boolean): void;
  fail(err: Error): void;
}

function harness() {
  const renewals: Renewal[] = [];
  const events: string[] = [];
  let rejoinAnswer: ((at: number) => void) | null = null;
  let rejoinFail: ((err: Error) => void) | null = null;
  const store = {
    heartbeat: (_node: string, now: number) =>
      new Promise<boolean>((resolve, reject) => renewals.push({ at: now, answer: resolve, fail: reject })),
  } as unknown as Store;
  const host: LeaseHost = {
    store,
    lost: (reason) => events.push(`lost: ${reason}`),
    rejoin: () =>
      new Promise<number>((resolve, reject) => {
        events.push("rejoin");
        rejoinAnswer = resolve;
        rejoinFail = reject;
      }),
    rejoined: async () => void events.push("rejoined"),
    onError: (operation) => events.push(`error: ${operation}`),
  };
  const lease = new Lease({ nodeId: "n1", heartbeatMs: HEARTBEAT, ttlMs: TTL, marginMs: MARGIN }, host);
  return {
    lease,
    renewals,
    events,
    /** The registration was sent at monotonic time `at` (default: now) and succeeded. */
    rejoined: (at = Lease.now()) => (rejoinAnswer as ((at: number) => void) | null)?.(at),
    rejoinFails: (err: Error) => (rejoinFail as ((err: Error) => void) | null)?.(err),
    losses: () => events.filter((e) => e.startsWith("lost")).length,
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Lease", () => {
  it("holds from the start of the registration while renewals are answered", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    expect(h.lease.valid).toBe(true);
    for (let i = 0; i < 10; i++) {
      await vi.advanceTimersByTimeAsync(HEARTBEAT);
      h.renewals.at(-1)?.answer(true);
    }
    expect(h.lease.valid).toBe(true);
    expect(h.losses()).toBe(0);
    expect(h.renewals).toHaveLength(11); // one at the start, then one per heartbeat
    h.lease.stop();
  });

  it("without an answered renewal, the watchdog gives it up ttl - margin after the registration: connections closed, registered again", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(TTL - MARGIN - 1);
    expect(h.lease.valid).toBe(true);
    expect(h.losses()).toBe(0);
    await vi.advanceTimersByTimeAsync(260); // one watchdog period
    expect(h.lease.valid).toBe(false);
    expect(h.events.filter((e) => !e.startsWith("error"))).toEqual([expect.stringMatching(/^lost: lease of node n1 ran out/), "rejoin"]);
    // No renewals while lost (one was due at 3000); serving again once registered.
    const sent = h.renewals.length;
    await vi.advanceTimersByTimeAsync(500);
    expect(h.renewals).toHaveLength(sent);
    expect(h.lease.valid).toBe(false);
    h.rejoined();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lease.valid).toBe(true);
    expect(h.events.at(-1)).toBe("rejoined");
    expect(h.losses()).toBe(1);
    h.lease.stop();
  });

  it("a renewal answered late extends the lease from when it was sent, not from its answer (a pause in between does not stretch it)", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(HEARTBEAT); // renewal 0 sent at 0 (never answered), renewal 1 at 1000
    await vi.advanceTimersByTimeAsync(1500); // answered at 2500: valid until 1000 + ttl - margin = 3700
    h.renewals[1]?.answer(true);
    // Renewals 2 and 3 (sent at 2000 and 3000) are never answered.
    await vi.advanceTimersByTimeAsync(3700 - 2500 - 1);
    expect(h.lease.valid).toBe(true);
    await vi.advanceTimersByTimeAsync(260);
    expect(h.lease.valid).toBe(false);
    expect(h.losses()).toBe(1);
    h.lease.stop();
  });

  it("a renewal the store refuses (the record expired) gives the lease up at once", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(HEARTBEAT);
    h.renewals[0]?.answer(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lease.valid).toBe(false);
    expect(h.events.find((e) => e.startsWith("lost"))).toMatch(/^lost: node n1 was considered dead by the cluster/);
    h.lease.stop();
  });

  it("at most two renewals are in flight: a store that does not answer collects no backlog", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(2 * HEARTBEAT + 1);
    expect(h.renewals).toHaveLength(2);
    // The watchdog gives the lease up; no more renewals go out meanwhile.
    await vi.advanceTimersByTimeAsync(HEARTBEAT);
    expect(h.renewals).toHaveLength(2);
    expect(h.losses()).toBe(1);
    h.lease.stop();
  });

  it("an answer to a renewal sent before the node registered again does not count, even a refusal", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(HEARTBEAT); // renewal 1 in flight
    await vi.advanceTimersByTimeAsync(TTL); // lost meanwhile
    h.rejoined();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lease.valid).toBe(true);
    h.renewals[0]?.answer(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lease.valid).toBe(true);
    expect(h.losses()).toBe(1);
    h.lease.stop();
  });

  it("after a lost lease, the new one runs from when the registration was sent, not from its answer", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(TTL);
    expect(h.losses()).toBe(1);
    h.rejoined(Lease.now() - 2000); // a registration that took 2 s: valid for 700 ms more
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lease.valid).toBe(true);
    await vi.advanceTimersByTimeAsync(700 + 260);
    expect(h.losses()).toBe(2);
    h.lease.stop();
  });

  it("a registration that fails is retried until it succeeds", async () => {
    const h = harness();
    h.lease.start(Lease.now());
    await vi.advanceTimersByTimeAsync(TTL);
    h.rejoinFails(new Error("store down"));
    await vi.advanceTimersByTimeAsync(150); // the retry comes after 100 ms
    expect(h.events.filter((e) => e === "rejoin").length).toBeGreaterThan(1);
    expect(h.lease.valid).toBe(false);
    h.rejoined();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.lease.valid).toBe(true);
    h.lease.stop();
  });

  it("refuses a margin that is not below the TTL", () => {
    expect(() => new Lease({ nodeId: "n1", heartbeatMs: HEARTBEAT, ttlMs: TTL, marginMs: TTL }, {} as LeaseHost)).toThrow(/margin/);
  });
});
