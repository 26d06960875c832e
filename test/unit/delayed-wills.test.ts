import { afterEach, describe, expect, it, vi } from "vitest";
import { DelayedWills, type WillRelease } from "../../broker/delayed-wills.js";

/** broker/delayed-wills.ts: MQTT 5 wills waiting out their Will Delay Interval on a node (decision 026, 028). */
describe("DelayedWills", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function waiting(wills: DelayedWills, clientId: string, delayMs: number): { released: WillRelease[]; cancelled: number } {
    const seen = { released: [] as WillRelease[], cancelled: 0 };
    wills.schedule(clientId, delayMs, (why) => seen.released.push(why), () => seen.cancelled++);
    return seen;
  }

  it("a delay longer than a Node.js timer can wait (about 24.8 days) is waited out in full, not published at once", () => {
    vi.useFakeTimers();
    const wills = new DelayedWills();
    const DAY = 24 * 3600 * 1000;
    const w = waiting(wills, "c", 40 * DAY);
    vi.advanceTimersByTime(DAY);
    expect(w.released).toEqual([]);
    vi.advanceTimersByTime(38 * DAY);
    expect(w.released).toEqual([]);
    expect(wills.size).toBe(1);
    vi.advanceTimersByTime(DAY);
    expect(w.released).toEqual(["due"]);
    expect(wills.size).toBe(0);
  });

  it("tells why a will is let go: due, session ended (Clean Start), node stopping; a reconnection or a lost lease cancels", () => {
    vi.useFakeTimers();
    const wills = new DelayedWills();
    const due = waiting(wills, "due", 1000);
    const ended = waiting(wills, "ended", 1000);
    const back = waiting(wills, "back", 1000);
    wills.reconnected("ended", true);
    wills.reconnected("back", false);
    vi.advanceTimersByTime(1000);
    expect([due.released, ended.released, back.released, back.cancelled]).toEqual([["due"], ["session-ended"], [], 1]);
    const stopping = waiting(wills, "stopping", 1000);
    wills.flush();
    expect(stopping.released).toEqual(["stopping"]);
    const forgotten = waiting(wills, "forgotten", 1000);
    wills.forgetAll();
    expect([forgotten.cancelled, forgotten.released]).toEqual([1, []]);
    vi.advanceTimersByTime(5000);
    expect(forgotten.released).toEqual([]);
    expect(wills.size).toBe(0);
  });
});
