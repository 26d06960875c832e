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
