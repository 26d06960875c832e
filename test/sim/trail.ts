import type { History } from "./history.js";
import type { Violation } from "./checker.js";

/**
 * `--classify` (decision 038): where each forwarded message went in SQS, to sort a run's order violations into
 * shapes. Only records; never changes what the model does.
 */

export interface Receive {
  /** Node whose queue it is (from the queue name). */
  owner: string;
  /** Node that received it. */
  reader: string;
  rc: number;
  at: number;
  /**
   * The sessions this copy was for: the node message's targets, or null for a copy its reader matches against its
   * own sessions (`match`), which may be any subscriber.
   */
  to: readonly string[] | null;
}

/** A send of a forwarded message to a node's queue; `to` as for a Receive. */
export interface Send {
  owner: string;
  at: number;
  to: readonly string[] | null;
}

export class SqsTrail {
  private readonly receives = new Map<string, Receive[]>();

  private readonly sends = new Map<string, Send[]>();
  /** Debug lines of the last shape() calls. */
  readonly notes: string[] = [];

  sent(queue: string, body: string): void {
    const owner = ownerOf(queue);
    for (const { key, to } of keysOf(body)) {
      let list = this.sends.get(key);
      if (list === undefined) this.sends.set(key, (list = []));
      list.push({ owner, at: Date.now(), to });
    }
  }

  received(queue: string, reader: string, rc: number, body: string): void {
    const owner = ownerOf(queue);
    for (const { key, to } of keysOf(body)) {
      let list = this.receives.get(key);
      if (list === undefined) this.receives.set(key, (list = []));
      list.push({ owner, reader, rc, at: Date.now(), to });
    }
  }

  /**
   * The shape of an order violation (decision 038): `<drain|own>-<inflight|queued>-<before|after>`. Judged from the
   * SQS receive that led to the late delivery: the last receive of the late message before it reached the
   * subscriber, or, when that was a node's own receive of a copy another node drained from a third node's queue and
   * passed on, that drain (unless it was handed back: its queue was received from again later). `drain`: by a node
   * other than the queue's; `inflight`: received before (back after the visibility timeout); `before`: the newer
   * message had reached the subscriber before that receive (only holding its deliveries could have kept the order),
   * `after`: later (the late message was put behind it). `nosqs`: it never went through SQS.
   */
  shape(v: Violation): string {
    const o = v.order;
    if (o === undefined) return v.kind;
    const d = this.leadingReceive(v);
    if (d === undefined) return "nosqs";
    const sent = this.sendsTo(o.key, d.owner, d.at);
    this.notes.push(`${o.subscriber} ${o.key} at ${t(o.at)} after ${o.newer} at ${t(o.newerAt)}: sent to ${d.owner} at ${sent.map((x) => t(x)).join(",")}, received by ${d.reader} at ${t(d.at)} rc=${d.rc}`);
    return `${d.reader === d.owner ? "own" : "drain"}-${d.rc > 1 ? "inflight" : "queued"}-${o.newerAt < d.at ? "before" : "after"}`;
  }

  /**
   * The receive that led to an order violation's late delivery: the last receive of the late message before it
   * reached the subscriber, or, when that was a node's own receive of a copy another node drained from a third
   * node's queue and passed on, that drain (unless it was handed back: its queue was received from again later).
   */
  leadingReceive(v: Violation): Receive | undefined {
    const o = v.order;
    if (o === undefined) return undefined;
    const got = (this.receives.get(o.key) ?? []).filter((r) => r.at <= o.at);
    const last = got[got.length - 1];
    if (last === undefined) return undefined;
    const drains = got.filter((r, i) => r.reader !== r.owner && r.owner !== last.owner && !got.slice(i + 1).some((x) => x.owner === r.owner));
    return last.reader === last.owner ? (drains.pop() ?? last) : last;
  }

  /** Every receive of the message `key` (by queue owner and reader), in time order. */
  receivesOf(key: string): readonly Receive[] {
    return this.receives.get(key) ?? [];
  }

  /** Every send of the message `key` to a node's queue, in time order. */
  sendsOf(key: string): readonly Send[] {
    return this.sends.get(key) ?? [];
  }

  /** When the message `key` was sent to `owner`'s queue, up to `until`. */
  sendsTo(key: string, owner: string, until: number): number[] {
    return (this.sends.get(key) ?? []).filter((x) => x.owner === owner && x.at <= until).map((x) => x.at);
  }
}

/** Counts of shapes over the violations of one run. */
export function shapes(trail: SqsTrail, violations: readonly Violation[], _history: History): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of violations) {
    const s = trail.shape(v);
    out.set(s, (out.get(s) ?? 0) + 1);
  }
  return out;
}

function t(ms: number): string {
  return new Date(ms).toISOString().slice(14, 23);
}

function ownerOf(queue: string): string {
  return /node-(.*)\.fifo$/.exec(queue)?.[1] ?? queue;
}

/** The publishes (payload keys) of the `deliver` node messages in a queue body, with the sessions each was for. */
function keysOf(body: string): { key: string; to: string[] | null }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const keys: { key: string; to: string[] | null }[] = [];
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    const d = m as { type?: string; msg?: { payload?: string }; match?: boolean; targets?: { clientId?: string }[] };
    if (d.type !== "deliver" || d.msg?.payload === undefined) continue;
    const to = d.match === true || !Array.isArray(d.targets) ? null : d.targets.map((t) => String(t.clientId));
    keys.push({ key: Buffer.from(d.msg.payload, "base64").toString(), to });
  }
  return keys;
}
