import type { JournalEvents } from "./journal.js";

/**
 * What a journal batch still waits for, for the stall report (Journal, `onStall`). A batch whose side effects
 * (forwards to other nodes, events, held deliveries) do not settle holds every later acknowledgement of the node,
 * so one that waits long is reported with what it waits for.
 */

const PENDING = Symbol("pending");

/** Labels of `tasks` not settled yet ("unlabelled" for those tracked without one). */
export async function unsettled(tasks: readonly Promise<unknown>[], labels: WeakMap<Promise<unknown>, () => string>): Promise<string[]> {
  const sentinel = Promise.resolve(PENDING);
  const out: string[] = [];
  for (const task of tasks) {
    // An already settled task wins the race: its reaction was queued before the sentinel's.
    const state = await Promise.race([task, sentinel]).catch(() => null);
    if (state !== PENDING) continue;
    const label = labels.get(task);
    out.push(label === undefined ? "unlabelled" : label());
  }
  return out;
}

/** A batch reported as stalled once it waited this long, and again each time as long again. */
export const STALL_REPORT_MS = 5000;

/** The oldest applied batch as the stall watch sees it (the head of Journal's completing batches). */
export interface StalledBatch {
  readonly batchId: number;
  readonly tasks: readonly Promise<unknown>[];
  readonly since: number;
}

/**
 * The journal's stall watch: every STALL_REPORT_MS / 5 it looks at the oldest applied batch, and reports it with what
 * it waits for (`unsettled`) once it has waited STALL_REPORT_MS or more, and again each STALL_REPORT_MS while it
 * lasts. One per journal; the timer does not keep the process alive.
 */
export class StallWatch {
  private readonly timer: NodeJS.Timeout;
  private reportedAt = 0;

  constructor(
    /** The oldest applied batch still waiting to become durable, if any. */
    private readonly head: () => StalledBatch | undefined,
    /** Names of tracked side effects (Journal.label). */
    private readonly labels: WeakMap<Promise<unknown>, () => string>,
    private readonly events: Pick<JournalEvents, "onStall">,
  ) {
    this.timer = setInterval(() => this.check(), STALL_REPORT_MS / 5);
    this.timer.unref();
  }

  /** The journal closed. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Reports the oldest applied batch when it has waited STALL_REPORT_MS or more for its side effects. */
  private check(): void {
    const head = this.head();
    const report = this.events.onStall;
    if (head === undefined || report === undefined) return;
    const now = Date.now();
    const waited = now - head.since;
    if (waited < STALL_REPORT_MS || now - this.reportedAt < STALL_REPORT_MS) return;
    this.reportedAt = now;
    void unsettled(head.tasks, this.labels).then((pending) => {
      if (this.head() === head) report(head.batchId, waited, pending);
    });
  }
}
