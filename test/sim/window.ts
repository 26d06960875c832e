import type { Violation } from "./checker.js";
import type { History, Stop, Write } from "./history.js";
import type { Receive, SqsTrail } from "./trail.js";

/**
 * Decision 038's window, as a checker rule. A message sent to a node's queue while that node cannot serve (crashed,
 * SIGSTOPped, cut off) waits there until the node comes back or a survivor drains the queue. A subscriber that
 * reconnected to another node meanwhile gets the publisher's newer messages directly, so the waiting one arrives
 * after them. Keeping the order would mean holding the resumed session's deliveries for up to a TTL plus the
 * visibility timeout, which decisions 031 and 038 refuse. An order violation (subscriber S got m after the newer
 * m') is that window, and not a defect, only when the SQS trail shows, for some node Q, every one of:
 * 1. m was sent to Q's queue, and a copy of it for S (S among the copy's targets, or a copy its reader matches
 *    itself) was received from it (by Q or by a survivor draining it) before m reached S;
 * 2. Q was stopped at some time between that send and that receive;
 * 3. m' reached S through a node other than Q, before that receive was handled or while m was being passed on
 *    from it (m arrived within one heartbeat of it: the drainer's store round trip and forward, which a message
 *    sent directly can overtake; decision 038, "the same window seen late"). A receive answered while its reader
 *    was stopped (a long poll of a node that was paused meanwhile) is handled when the reader runs again. m'
 *    reached S when a node other than Q first wrote it to S's connection, if that was earlier than S got it: S
 *    may have left that connection (moved to a paused node), and the next holder re-sends what was in flight in
 *    the order it was first sent ([MQTT-4.6.0-1]), m' before m (decision 038, "Paths the rule did not see");
 * 4. m reached S no later than the stop's start plus its length (at least one TTL and two heartbeats: when
 *    survivors judge Q dead and drain), the visibility timeout (what Q had received comes back after it), one TTL
 *    and two heartbeats more (a drainer that itself stops), and two heartbeats of slack; or, later than that, m was
 *    held a second time, by the same window on another node: the node that drained it from Q passed it on to a
 *    node R's queue (S's node by then), and R stopped between that send and a receive of it from R's queue, m
 *    reached S within one heartbeat of that receive, and within R's bound (two crashes in a row, the second while
 *    m was on its way: decision 023, "2026-12-06, later", seeds 345, 366, 494).
 * 5. Or, instead of 1–4, m's copy for S never came out of Q's queue before m reached S because the publisher sent m
 *    again (it reconnected to another node: a PUBLISH with DUP) and that copy reached S first: m was sent to Q's
 *    queue for S (a copy naming S, or one its reader matches itself while S's session was last connected to Q),
 *    and before that re-send to no other node's queue but as a copy naming other subscribers; Q had stopped by
 *    one heartbeat after that send; no receive from Q's queue of a copy for S was handled before m reached S; m'
 *    reached S through a node other than Q; the re-send kept the order key m's first copy was given (decision 045:
 *    with another key the broker itself may have put m behind m'); and m reached S after the re-send, within the
 *    stop's bound of rule 4. Without the re-send m would have come from Q's queue, later, and been excused by rules
 *    1–4; the re-send only shortened the wait (CI seeds 590, 893, 1203, 1248).
 * Anything else stays a violation: a late delivery that no stopped node held up, one held after the receive longer
 * than passing it on takes, or one later than the design allows.
 */
type Order = NonNullable<Violation["order"]>;

export interface WindowLimits {
  nodeTtlMs: number;
  heartbeatMs: number;
  visibilityMs: number;
}

/**
 * Why `v` is decision 038's window (a line for the log), or null when it is a violation. `writes` (History.writes):
 * when nodes wrote each QoS 1/2 message to each subscriber's connection.
 */
export function lateDrain(
  v: Violation,
  trail: SqsTrail,
  stops: readonly Stop[],
  limits: WindowLimits,
  writes?: ReadonlyMap<string, readonly Write[]>,
  seen?: ClientsSeen,
): string | null {
  const o = v.order;
  if (v.kind !== "order" || o === undefined) return null;
  return drained(o, trail, stops, limits, writes) ?? (seen === undefined ? null : resentAhead(o, trail, stops, limits, seen));
}

/** What rule 5 reads of the run's History: the publishers' re-sends, the order keys given, where clients connected. */
export type ClientsSeen = Pick<History, "resends" | "orders" | "connects">;

/** Rules 1–4: m's copy for S came out of a stopped node's queue late. Why, or null. */
function drained(o: Order, trail: SqsTrail, stops: readonly Stop[], limits: WindowLimits, writes?: ReadonlyMap<string, readonly Write[]>): string | null {
  const receives = trail.receivesOf(o.key);
  for (const send of trail.sendsOf(o.key)) {
    const q = send.owner;
    // m' reached S through the node that first wrote it to S, when that was before S got it (a re-send by Q).
    const written = firstWrite(writes?.get(`${o.subscriber} ${o.newer}`), q, stops);
    if (send.at > o.at || (q === o.newerNode && written >= o.newerAt)) continue;
    const newerAt = Math.min(o.newerAt, written);
    // Each receive from Q's queue of a copy that was for S (another copy of m, for another subscriber, tells nothing).
    for (const r of receives) {
      if (!receivedFor(r, q, send.at, o)) continue;
      const handled = handledAt(r.reader, r.at, stops);
      // m was delivered when a node first wrote it to S after that receive (S may have got it later, re-sent).
      const late = Math.min(o.at, firstWrite(writes?.get(`${o.subscriber} ${o.key}`), "", stops, r.at));
      if (newerAt >= handled && late - handled > limits.heartbeatMs) continue;
      for (const s of stops) {
        if (s.node !== q || s.from > r.at || s.to < send.at) continue;
        const bound = stopBound(s, limits);
        const why = `${o.subscriber} got ${o.key} after ${o.newer}, ${o.at - s.from} ms after ${q}'s ${s.kind}, from ${q}'s queue (received by ${r.reader}, rc ${r.rc})${o.newerAt - newerAt > limits.heartbeatMs ? `; ${o.newer} was written to ${o.subscriber} ${o.newerAt - newerAt} ms before it got it` : ""}`;
        if (o.at <= bound) return why;
        const again = heldAgain(o, q, r.at, trail, stops, limits, writes);
        if (again !== null) return `${why}; ${again}`;
      }
    }
  }
  return null;
}

/** Rule 5: m's copy for S waited in a stopped node's queue, and the publisher's re-send of m reached S first. */
function resentAhead(o: Order, trail: SqsTrail, stops: readonly Stop[], limits: WindowLimits, seen: ClientsSeen): string | null {
  const resent = seen.resends.get(o.key)?.find((at) => at <= o.at);
  if (resent === undefined) return null;
  // The re-send kept its first copy's order key: a broker that gave it a newer one may have sorted it behind m'.
  const keys = seen.orders.get(o.key);
  if (keys === undefined || keys.length === 0 || keys.some((k) => k !== keys[0])) return null;
  const connects = seen.connects.get(o.subscriber) ?? [];
  const sends = trail.sendsOf(o.key);
  const receives = trail.receivesOf(o.key);
  for (const send of sends) {
    const q = send.owner;
    if (send.at > resent || q === o.newerNode || !forS(send.to, o, q, send.at, connects)) continue;
    // Before the re-send, m went to no other node's queue for S: that copy would have been the one S got.
    if (sends.some((x) => x.owner !== q && x.at < resent && forS(x.to, o, x.owner, x.at, connects))) continue;
    if (receives.some((r) => receivedFor(r, q, send.at, o) && handledAt(r.reader, r.at, stops) <= o.at)) continue;
    for (const s of stops) {
      // Q had stopped by a heartbeat after the send: a live Q would have handled m for S.
      if (s.node !== q || s.from > send.at + limits.heartbeatMs || s.to < send.at) continue;
      if (o.at <= stopBound(s, limits)) {
        return `${o.subscriber} got ${o.key} after ${o.newer}, ${o.at - s.from} ms after ${q}'s ${s.kind}: its copy waited in ${q}'s queue and the publisher's re-send (at ${resent}) reached ${o.subscriber} first`;
      }
    }
  }
  return null;
}

/**
 * Whether a copy with targets `to`, sent to `node`'s queue at `at`, is for S: it names S, or its reader matches it
 * against its own sessions (`null`) and S last connected to `node` before then.
 */
function forS(to: readonly string[] | null, o: Order, node: string, at: number, connects: readonly { node: string; at: number }[]): boolean {
  if (to !== null) return to.includes(o.subscriber);
  let last: string | undefined;
  for (const c of connects) if (c.at <= at) last = c.node;
  return last === node;
}

/**
 * Rule 4's second hold: m, received from `q`'s queue at `drainedAt` and passed on, was sent to another node R's
 * queue, R stopped between that send and a receive of m (for S) from its queue, and m reached S within one
 * heartbeat of that receive's handling and within R's bound. Why, or null.
 */
function heldAgain(o: Order, q: string, drainedAt: number, trail: SqsTrail, stops: readonly Stop[], limits: WindowLimits, writes?: ReadonlyMap<string, readonly Write[]>): string | null {
  for (const send of trail.sendsOf(o.key)) {
    const r2 = send.owner;
    if (r2 === q || send.at < drainedAt || send.at > o.at) continue;
    for (const r of trail.receivesOf(o.key)) {
      if (!receivedFor(r, r2, send.at, o)) continue;
      const handled = handledAt(r.reader, r.at, stops);
      const late = Math.min(o.at, firstWrite(writes?.get(`${o.subscriber} ${o.key}`), "", stops, r.at));
      if (late - handled > limits.heartbeatMs) continue;
      for (const s of stops) {
        if (s.node !== r2 || s.from > r.at || s.to < send.at) continue;
        const bound = stopBound(s, limits);
        if (o.at <= bound) return `passed on to ${r2}'s queue, held again by ${r2}'s ${s.kind} (received by ${r.reader}, rc ${r.rc})`;
      }
    }
  }
  return null;
}

/**
 * Rule 4's bound for a stop: its start, its length (at least a TTL and two heartbeats), the visibility timeout, a
 * drainer's TTL and two heartbeats, and two heartbeats of slack.
 */
function stopBound(s: Stop, limits: WindowLimits): number {
  const drainAfter = limits.nodeTtlMs + 2 * limits.heartbeatMs;
  const length = Number.isFinite(s.to) ? s.to - s.from : 0;
  return s.from + Math.max(length, drainAfter) + limits.visibilityMs + drainAfter + 2 * limits.heartbeatMs;
}

/** Whether `r` is a receive from `owner`'s queue, after the send at `sentAt` and before S got m, of a copy for S. */
function receivedFor(r: Receive, owner: string, sentAt: number, o: Order): boolean {
  return r.owner === owner && r.at >= sentAt && r.at <= o.at && (r.to === null || r.to.includes(o.subscriber));
}

/**
 * When a node other than `q` first wrote a message to S's connection at or after `after` (when it could: a paused
 * writer's bytes leave when it runs again), or Infinity. The client may have got it only later, as a re-send of the next
 * holder, which re-sends what is in flight in the order it was first sent ([MQTT-4.6.0-1]): in the broker's view it
 * was delivered at that first write.
 */
function firstWrite(list: readonly Write[] | undefined, q: string, stops: readonly Stop[], after = -Infinity): number {
  let first = Infinity;
  for (const w of list ?? []) if (w.node !== q && w.at >= after) first = Math.min(first, handledAt(w.node, w.at, stops));
  return first;
}

/** When `reader` could handle what SQS answered it at `at`: at once, or when the stop it was in ended. */
function handledAt(reader: string, at: number, stops: readonly Stop[]): number {
  for (const s of stops) if (s.node === reader && s.from <= at && at <= s.to) return s.to;
  return at;
}
