import type { QoS } from "mqtt-packet";
import type { History, Published, Receipt } from "./history.js";

/**
 * The properties a run must keep, judged from what the clients saw (docs/decisions/023-simulation.md):
 * - lost: an acknowledged QoS >= 1 message (PUBACK / PUBREC received by its publisher) did not reach a persistent
 *   session that was subscribed to a matching filter (granted QoS >= 1) before the message was first sent (by at
 *   least `propagationMs`: the time a subscription may take to reach the other nodes);
 * - duplicate: a message delivered at QoS 2 reached a subscription more than once (the subscriber delivers a
 *   packet id once until PUBREL, so a second receipt is a second PUBLISH under a new packet id);
 * - order: a subscriber got a publisher's QoS >= 1 messages on one topic (first receipts) out of publish order. Per
 *   topic, as [MQTT-4.6.0-6] ("Ordered Topic") and the cluster's contract (DESIGN 3.2.3: "from one publisher to one
 *   subscriber on one topic") state it: messages on different topics may take different paths;
 * - overlap: two live nodes served one client id at once for longer than a take-over may take;
 * - session lost: a persistent session was gone at reconnect (CONNACK sessionPresent = 0);
 * - protocol: a client got a packet it should not have;
 * - will: (hook) a will of a crashed node's client was not published exactly once. Filled in by `willCheck`
 *   once stored wills exist (slice "lease").
 */

export type ViolationKind = "lost" | "duplicate" | "order" | "overlap" | "session-lost" | "protocol" | "will";

export interface Violation {
  kind: ViolationKind;
  detail: string;
  /** An order violation: `subscriber` got `key` at `at` after the newer `newer` (at `newerAt`). */
  order?: { subscriber: string; key: string; at: number; newer: string; newerAt: number; newerNode: string };
}

export interface CheckOptions {
  /** Longest time two nodes may both hold a client's connection (the kick's travel time). */
  maxOverlapMs: number;
  /**
   * How long a new subscription may take to reach every node's routing (a broadcast today, a route-log poll with
   * design A): a message sent sooner after the SUBACK is not required. Default 1,000 ms.
   */
  propagationMs?: number;
  /** Extra checks (the wills hook). */
  extra?: ((history: History) => Violation[])[];
}

/** MQTT topic filter matching (no $-topic rules needed: the simulation publishes none). */
export function matches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The QoS a subscriber's session gets a message at: the best of its matching subscriptions, capped by the message's. */
function effectiveQos(subs: { filter: string; granted: QoS; since: number }[], m: Published): { qos: QoS; since: number } | null {
  let best: { qos: QoS; since: number } | null = null;
  for (const s of subs) {
    if (s.granted > 2 || !matches(s.filter, m.topic)) continue;
    const qos = Math.min(s.granted, m.qos) as QoS;
    if (best === null || qos > best.qos) best = { qos, since: s.since };
  }
  return best;
}

export function check(history: History, opts: CheckOptions): Violation[] {
  const violations: Violation[] = [];
  const propagationMs = opts.propagationMs ?? 1_000;
  const bySubscriber = new Map<string, Receipt[]>();
  for (const r of history.receipts) {
    let list = bySubscriber.get(r.subscriber);
    if (list === undefined) bySubscriber.set(r.subscriber, (list = []));
    list.push(r);
  }
  for (const [subscriber, subs] of history.subscriptions) {
    const receipts = bySubscriber.get(subscriber) ?? [];
    const counts = new Map<string, number>();
    for (const r of receipts) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
    for (const m of history.published.values()) {
      const eff = effectiveQos(subs, m);
      if (eff === null || eff.qos === 0) continue;
      const got = counts.get(m.key) ?? 0;
      if (got === 0 && m.ackedAt !== null && eff.since + propagationMs <= m.sentAt) {
        violations.push({ kind: "lost", detail: `${m.key} (QoS ${m.qos}, topic ${m.topic}, acknowledged at ${at(m.ackedAt)}) never reached ${subscriber}` });
      }
      if (eff.qos === 2 && got > 1) {
        const nodes = receipts.filter((r) => r.key === m.key).map((r) => `${r.node}@${at(r.at)}`);
        violations.push({ kind: "duplicate", detail: `${m.key} (QoS 2) reached ${subscriber} ${got} times: ${nodes.join(", ")}` });
      }
    }
    // Order: first receipts of each publisher's QoS >= 1 messages on one topic must come in publish order.
    const seen = new Set<string>();
    const last = new Map<string, { n: number; at: number; node: string }>();
    for (const r of receipts) {
      if (seen.has(r.key)) continue;
      seen.add(r.key);
      const m = history.published.get(r.key);
      if (m === undefined || m.qos === 0 || r.qos === 0) continue;
      const stream = `${m.publisher}\u0000${m.topic}`;
      const prev = last.get(stream);
      if (prev !== undefined && m.n < prev.n) {
        violations.push({
          kind: "order",
          detail: `${subscriber} got ${m.key} (${m.topic}) at ${at(r.at)} after ${m.publisher}:${prev.n} (at ${at(prev.at)})`,
          order: { subscriber, key: m.key, at: r.at, newer: `${m.publisher}:${prev.n}`, newerAt: prev.at, newerNode: prev.node },
        });
      }
      if (prev === undefined || m.n > prev.n) last.set(stream, { n: m.n, at: r.at, node: r.node });
    }
  }
  for (const o of history.overlaps) {
    if (o.to - o.from > opts.maxOverlapMs) {
      violations.push({ kind: "overlap", detail: `${o.clientId} served by ${o.nodes.join(" and ")} from ${at(o.from)} to ${at(o.to)}` });
    }
  }
  for (const s of history.sessionsLost) violations.push({ kind: "session-lost", detail: `${s.clientId}'s session was gone at ${at(s.at)} on ${s.node}` });
  for (const p of history.protocolErrors) violations.push({ kind: "protocol", detail: p });
  for (const extra of opts.extra ?? []) violations.push(...extra(history));
  return violations;
}

function at(t: number): string {
  return new Date(t).toISOString().slice(14, 23);
}
