import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Outbox } from "../../broker/outbox.js";
import { batchForTurn, beginRead, endRead, SAME_TURN_GAP_MS, setClockForTests } from "../../broker/write-batches.js";

// When batches leave (broker/write-batches.ts, decisions 035 and 054), with the clock set by the test: a read after a
// pause writes when its callback returns and schedules nothing; a read that follows another closely waits for the
// turn's end, with every other batch of that turn.

/** An outbox that records when it was flushed. */
function outbox(log: string[], name: string): Outbox {
  return { flush: () => log.push(name) } as unknown as Outbox;
}

const turnEnd = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const ticks = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

let now = 0;
/** One read's callback at `at` ms, lasting 5 µs, batching for `outboxes`. */
function read(at: number, ...outboxes: Outbox[]): void {
  now = at;
  beginRead();
  for (const o of outboxes) batchForTurn(o);
  now = at + 0.005;
  endRead();
}
const GAP = SAME_TURN_GAP_MS;

describe("write batches and turns", () => {
  beforeEach(async () => {
    await turnEnd();
    now = 0;
    setClockForTests(() => now);
  });
  afterEach(() => vi.restoreAllMocks());

  it("a read after a pause writes its batches when its callback returns, with no immediate", () => {
    const log: string[] = [];
    const immediates = vi.spyOn(globalThis, "setImmediate");
    read(10, outbox(log, "device"), outbox(log, "backend"));
    expect(log).toEqual(["device", "backend"]);
    read(20, outbox(log, "device2"));
    expect(log).toEqual(["device", "backend", "device2"]);
    expect(immediates).not.toHaveBeenCalled();
  });

  it("reads that follow one another closely leave together at the turn's end", async () => {
    const log: string[] = [];
    const backend = outbox(log, "backend");
    read(10, outbox(log, "a"), backend);
    expect(log).toEqual(["a", "backend"]);
    log.length = 0;
    // 15 µs after the first read began, then 15 µs after that one: the same turn.
    read(10.015, outbox(log, "b"), backend);
    read(10.03, outbox(log, "c"));
    expect(log).toEqual([]);
    await turnEnd();
    expect(log).toEqual(["b", "backend", "c"]);
  });

  it("a read just past the gap is the first of its turn again", async () => {
    const log: string[] = [];
    read(10);
    read(10 + GAP / 2, outbox(log, "busy"));
    expect(log).toEqual([]);
    read(10 + GAP / 2 + GAP * 1.5, outbox(log, "first"));
    // The first read of the next turn writes at its end, and takes the earlier read's batch with it.
    expect(log).toEqual(["busy", "first"]);
    await turnEnd();
    expect(log).toEqual(["busy", "first"]);
  });

  it("reads that batch nothing schedule nothing, however close", () => {
    const immediates = vi.spyOn(globalThis, "setImmediate");
    for (let i = 0; i < 10; i++) read(10 + (i * GAP) / 10);
    expect(immediates).not.toHaveBeenCalled();
  });

  it("a write that follows no read goes after its callback, or with a busy turn's batches that already wait", async () => {
    const log: string[] = [];
    now = 50;
    batchForTurn(outbox(log, "timer"));
    expect(log).toEqual([]);
    await ticks();
    expect(log).toEqual(["timer"]);
    read(60);
    read(60 + GAP / 10, outbox(log, "busy read"));
    // The journal's answer among the busy turn's reads: it waits with them.
    now = 60 + GAP / 5;
    batchForTurn(outbox(log, "journal"));
    await ticks();
    expect(log).toEqual(["timer"]);
    await turnEnd();
    expect(log).toEqual(["timer", "busy read", "journal"]);
  });

  it("a write from an immediate just after busy reads goes after its callback, not a turn later", async () => {
    const log: string[] = [];
    const immediates = vi.spyOn(globalThis, "setImmediate");
    read(70);
    // Busy, but batching nothing: nothing waits for the turn's end.
    read(70 + GAP / 10);
    // The journal answers from its own immediate, within the gap: its write must not wait for another immediate.
    const afterItsCallback = await new Promise<string[]>((resolve) =>
      setImmediate(() => {
        now = 70 + GAP / 5;
        batchForTurn(outbox(log, "journal's answer"));
        process.nextTick(() => resolve([...log]));
      }),
    );
    expect(afterItsCallback).toEqual(["journal's answer"]);
    // The only immediate is the test's own.
    expect(immediates).toHaveBeenCalledTimes(1);
  });
});
