import { remainingExpiry, toReadableProperties } from "../core/readable-properties.js";
import type { NodeRecord, RetainedRecord, SessionRecord, SessionSnapshot } from "../core/store/types.js";
import { type SubscriptionWord, wordQos } from "../core/subscription-word.js";

/** Store records as the API shows them (ISO timestamps, counts instead of message contents). */

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function clientSummary(r: SessionRecord) {
  return {
    clientId: r.clientId,
    connected: r.node !== null,
    node: r.node,
    clean: r.clean,
    username: r.username,
    connectedAt: iso(r.connectedAt),
    disconnectedAt: iso(r.disconnectedAt),
  };
}

export function clientDetail(s: SessionSnapshot) {
  let inflight = 0;
  for (const o of s.outgoing) if (o.packetId !== 0) inflight++;
  return {
    ...clientSummary(s),
    since: iso(s.node !== null ? s.connectedAt : s.disconnectedAt),
    subscriptions: subscriptionList(s.subscriptions),
    inflight,
    queued: s.outgoing.length - inflight,
  };
}

/** Subscriptions ordered by filter, with their granted QoS (MQTT 5 options are left out of the listing). */
export function subscriptionList(subs: Record<string, SubscriptionWord>): { filter: string; qos: 0 | 1 | 2 }[] {
  return Object.keys(subs)
    .sort()
    .map((filter) => ({ filter, qos: wordQos(subs[filter] as SubscriptionWord) }));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A retained message; `encoding` utf8 falls back to base64 for a payload that is not valid UTF-8. Its MQTT 5
 * properties in their readable form, `messageExpiry` as what remains of it at `now` (what a new subscriber gets).
 */
export function retainedMessage(m: RetainedRecord, encoding: "base64" | "utf8", now: number) {
  let payload: string | null = null;
  if (encoding === "utf8") {
    try {
      payload = utf8.decode(m.payload);
    } catch {
      payload = null;
    }
  }
  return {
    topic: m.topic,
    qos: m.qos,
    payload: payload ?? m.payload.toString("base64"),
    encoding: payload === null ? ("base64" as const) : ("utf8" as const),
    bytes: m.payload.length,
    updatedAt: new Date(m.updatedAt).toISOString(),
    ...toReadableProperties(m.props, remainingExpiry(m.props, m.publishedAt, now)),
  };
}

export function nodeInfo(n: NodeRecord) {
  const base = { nodeId: n.nodeId, address: n.address, startedAt: new Date(n.startedAt).toISOString(), heartbeatAt: new Date(n.heartbeatAt).toISOString() };
  if (n.stats === undefined) return base;
  const { sampledAt, version, connections, sessions, messages, rates, queued, inflight } = n.stats;
  return { ...base, stats: { sampledAt: new Date(sampledAt).toISOString(), version, connections, sessions, messages, rates, queued, inflight } };
}
