import { wordQos } from "../core/subscription-word.js";
import { randomUUID } from "node:crypto";
import type { QoS } from "mqtt-packet";
import type { Broker } from "../broker/broker.js";
import type { Message } from "../broker/types.js";
import type { GatewayBackend, KickResult, LiveStats, LiveStatsOptions, PublishMessage, PublishResult, SessionQueue } from "./backend.js";
import { ConflictError, NotFoundError, UnavailableError } from "./errors.js";
import { grantOnBehalf } from "./on-behalf.js";
import { DEFAULT_TOPIC_RATES, TopicRateTracker } from "./topic-rates.js";

export interface LocalBackendOptions {
  /** How long a request waits for its store writes before answering 503 (the writes are retried meanwhile). */
  durableTimeoutMs?: number;
}

/** Topic counting stops after this long without a `GET /v1/stats?top=…` (the dashboard polls every few seconds). */
const TOPIC_TRACKING_IDLE_MS = 5 * 60_000;
/** Offline sessions whose stored queues are read at once for the largest-queues list. */
const QUEUE_READS_IN_PARALLEL = 64;

/**
 * The gateway backend of `npm start`: the in-process broker. Publishes go through the broker's routing (and its
 * journal for durability); kicks close the session's connection; subscriptions change the broker's trie and
 * the store, exactly as SUBSCRIBE/UNSUBSCRIBE do.
 */
export function localBackend(broker: Broker, opts: LocalBackendOptions = {}): GatewayBackend {
  const timeoutMs = opts.durableTimeoutMs ?? 10_000;
  const store = broker.store;

  /** Rejects with 503 when the store has not confirmed the writes in time (they stay queued in the journal). */
  function durable<T>(p: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`the store did not confirm ${what} within ${timeoutMs} ms; it is retried and may still take effect`)), timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Cluster only: subscription changes made here for a session this node does not hold go to the node that holds
   * it (its custodian, decision 017), which updates its trie and routes and sends the retained messages.
   */
  async function tellNodes(clientId: string, add: Record<string, QoS>, remove: string[]): Promise<void> {
    const cluster = broker.cluster;
    if (cluster === null || broker.sessions.has(clientId)) return;
    const id = cluster.newMessageId();
    await durable(cluster.tellCustodian(clientId, { type: "subscriptions", id, clientId, add, remove, deliverRetained: true }), "the subscription change on the session's node");
  }

  /** The session's subscriptions, from memory when the broker holds the session, else from the store. */
  async function subscriptionsOf(clientId: string): Promise<Map<string, QoS> | null> {
    const session = broker.sessions.get(clientId);
    if (session !== undefined) return new Map([...session.subscriptions].map(([filter, word]) => [filter, wordQos(word)]));
    const snapshot = await store.getSession(clientId);
    return snapshot === null ? null : new Map(Object.entries(snapshot.subscriptions).map(([filter, word]) => [filter, wordQos(word)]));
  }

  // Per-topic counts from the broker's publish events, only while someone asks for them (topic-rates.ts).
  const topics = new TopicRateTracker(
    (onTopic) => {
      const listener = (msg: { topic: string }): void => onTopic(msg.topic);
      broker.on("message.published", listener);
      return () => broker.off("message.published", listener);
    },
    { ...DEFAULT_TOPIC_RATES, idleMs: TOPIC_TRACKING_IDLE_MS },
  );

  /**
   * Sessions with messages waiting, most queued first: connected sessions from memory (their queue and in-flight
   * window), offline persistent sessions from the store (where their queues are), as GET /v1/clients/{id} counts.
   * Sessions another node owns (cluster stubs, `owner` set) are that node's to report.
   */
  async function largestQueues(top: number): Promise<SessionQueue[]> {
    const found: SessionQueue[] = [];
    const offline: string[] = [];
    for (const s of broker.sessions.values()) {
      if (s.link !== null) {
        if (s.queuedCount + s.inflightCount > 0) found.push({ clientId: s.clientId, connected: true, queued: s.queuedCount, inflight: s.inflightCount });
      } else if (s.persistent && s.owner === null) {
        offline.push(s.clientId);
      }
    }
    for (let i = 0; i < offline.length; i += QUEUE_READS_IN_PARALLEL) {
      const snapshots = await Promise.all(offline.slice(i, i + QUEUE_READS_IN_PARALLEL).map((id) => store.getSession(id)));
      for (const snap of snapshots) {
        if (snap === null || snap.outgoing.length === 0) continue;
        let inflight = 0;
        for (const o of snap.outgoing) if (o.packetId !== 0) inflight++;
        found.push({ clientId: snap.clientId, connected: false, queued: snap.outgoing.length - inflight, inflight });
      }
    }
    found.sort((a, b) => b.queued - a.queued || b.inflight - a.inflight || (a.clientId < b.clientId ? -1 : 1));
    return found.slice(0, top);
  }

  return {
    store,

    async publish(messages: readonly PublishMessage[]): Promise<PublishResult[]> {
      // Routed synchronously one after the other: per-publisher order holds [MQTT-4.6.0-6].
      const routed = messages.map((m) => broker.publishExternal(toMessage(m)));
      const matched = await durable(Promise.all(routed), messages.length === 1 ? "the message" : `${messages.length} messages`);
      return matched.map((n) => ({ id: randomUUID(), matched: n }));
    },

    async kick(clientId: string, discardSession: boolean): Promise<KickResult> {
      const known = broker.sessions.has(clientId) || (await store.getSession(clientId)) !== null;
      if (!known) throw new NotFoundError(`no client '${clientId}'`);
      let disconnected = broker.disconnectClient(clientId);
      // In a cluster the client may be connected to another node: the store names it.
      if (!disconnected && broker.cluster !== null) disconnected = await broker.cluster.kickRemote(clientId);
      if (!discardSession) return { disconnected, sessionDiscarded: false };
      const deleted = await durable(broker.discardSession(clientId), "the session removal");
      // A clean session ends with its connection; it is gone either way.
      return { disconnected, sessionDiscarded: deleted || (!broker.sessions.has(clientId) && (await store.getSession(clientId)) === null) };
    },

    async subscribe(clientId: string, add: Readonly<Record<string, QoS>>): Promise<Record<string, QoS>> {
      const current = await subscriptionsOf(clientId);
      if (current === null) throw new NotFoundError(`no session for client '${clientId}'`);
      const max = broker.config.limits.maxSubscriptionsPerSession;
      const added = Object.keys(add).filter((f) => !current.has(f)).length;
      if (current.size + added > max) {
        throw new ConflictError(`client '${clientId}' has ${current.size} subscriptions; ${added} more would exceed the limit of ${max}`, [
          { pointer: "#/subscriptions", detail: `at most ${max - current.size} new filters can be added` },
        ]);
      }
      const session = broker.sessions.get(clientId);
      // The client's own rules: the live policy when it is connected here, else computed for its identity.
      const attached = session !== undefined && session.link !== null;
      let policy = attached ? session.clientPolicy : null;
      let username = session?.username ?? null;
      if (!attached) {
        username = (await store.getSession(clientId))?.username ?? username;
        const who = { clientId, username: username ?? undefined, protocolVersion: 4 } as const;
        policy = broker.auth.resolvePolicy !== undefined ? await broker.auth.resolvePolicy(who) : (broker.auth.policyFor?.(who) ?? null);
      }
      const granted = grantOnBehalf(clientId, username, policy, add);
      if (session === undefined || session.link === null) {
        // Offline: the store is the record (not fenced: nobody owns the session); then the trie, so messages
        // published from now on are queued for it. Retained messages are sent when it is online.
        const ok = await durable(store.updateSubscriptions(clientId, null, granted, []), "the subscriptions");
        if (!ok) throw new NotFoundError(`no session for client '${clientId}'`);
        if (session !== undefined) for (const [filter, qos] of Object.entries(granted)) broker.subscriptions.subscribe(session, filter, qos, add[filter], "rest");
        // In a cluster the node that holds the client (it sends the retained messages) and every other node's trie.
        await tellNodes(clientId, granted, []);
        return granted;
      }
      // Online: as a SUBSCRIBE from the client, durable before the answer, then the retained messages.
      for (const [filter, qos] of Object.entries(granted)) broker.subscriptions.subscribe(session, filter, qos, add[filter], "rest");
      const ok = await durable(broker.subscriptions.persist(session, granted, []), "the subscriptions");
      if (!ok) {
        for (const filter of Object.keys(granted)) broker.subscriptions.unsubscribe(session, filter);
        throw new UnavailableError("the store refused or failed to record the subscriptions");
      }
      if (session.link !== null) for (const [filter, qos] of Object.entries(granted)) broker.subscriptions.deliverRetained(session, filter, qos);
      return granted;
    },

    async unsubscribe(clientId: string, filters: readonly string[]): Promise<string[]> {
      const current = await subscriptionsOf(clientId);
      if (current === null) throw new NotFoundError(`no session for client '${clientId}'`);
      const removed = filters.filter((f) => current.has(f));
      if (removed.length === 0) return [];
      const session = broker.sessions.get(clientId);
      if (session === undefined || session.link === null) {
        await durable(store.updateSubscriptions(clientId, null, {}, removed), "the subscription removal");
        if (session !== undefined) for (const filter of removed) broker.subscriptions.unsubscribe(session, filter, "rest");
        await tellNodes(clientId, {}, removed);
        return removed;
      }
      for (const filter of removed) broker.subscriptions.unsubscribe(session, filter, "rest");
      const ok = await durable(broker.subscriptions.persist(session, {}, removed), "the subscription removal");
      if (!ok) throw new UnavailableError("the store refused or failed to record the subscription removal");
      return removed;
    },

    deleteRetained(topic: string): Promise<boolean> {
      return durable(broker.deleteRetained(topic), "the retained message removal");
    },

    async liveStats({ top, topicVisible }: LiveStatsOptions): Promise<LiveStats> {
      const sampledAt = Date.now();
      let connections = 0;
      let sessions = 0;
      let queued = 0;
      let inflight = 0;
      for (const s of broker.sessions.values()) {
        if (s.link !== null) connections++;
        if (s.owner === null) sessions++;
        queued += s.queuedCount;
        inflight += s.inflightCount;
      }
      const { stats } = broker;
      const live: LiveStats = {
        sampledAt,
        nodeId: broker.config.nodeId,
        connections,
        sessions,
        queued,
        inflight,
        messages: { received: stats.messagesReceived, sent: stats.messagesSent, dropped: stats.droppedTotal },
      };
      if (top <= 0) return live;
      const { topics: topTopics, windowSeconds } = topics.top(top, topicVisible);
      return { ...live, topTopics, topicWindowSeconds: windowSeconds, largestQueues: await largestQueues(top) };
    },
  };
}

/** The broker message of a REST publish: MQTT 5 props and the publication time only when it has them (decision 024). */
function toMessage(m: PublishMessage): Message {
  const { topic, payload, qos, retain, props, publishedAt } = m;
  if (props === undefined) return { topic, payload, qos, retain };
  return publishedAt === undefined ? { topic, payload, qos, retain, props } : { topic, payload, qos, retain, props, publishedAt };
}
