import type { QoS } from "mqtt-packet";
import { PayloadTooLarge } from "../core/communicator/errors.js";
// Not core/events/index.js: that re-exports the SQS sink, and a single node should not load the AWS SDK.
import { InvalidEvent } from "../core/events/errors.js";
import { createEventFactory } from "../core/events/factory.js";
import { publishedTopicFilter, type PublishedTopicsConfig } from "../core/events/filter.js";
import type { MqgateEvent } from "../core/events/schema.js";
import type { EventSink } from "../core/events/sink.js";
import type { Broker } from "./broker.js";

/**
 * Sends what devices do to the events queue (docs/events.md): connected, disconnected (with reason), subscribed,
 * unsubscribed, every accepted publish on the configured topics, and drops. Events are handed to the sink in the
 * order they happen, so the FIFO queue (grouped by clientId) keeps each client's order.
 *
 * A `message.published` of a QoS 1/2 publish is part of the publisher's acknowledgement: the journal batch the
 * PUBACK/PUBREC waits for completes only once the sink accepted the event (retried until it does). Other events
 * are retried the same way but hold nothing back. Never a password: the schema has no field for one.
 */

export interface EventBridge {
  /** Marks a client gone with its node (called by the cluster's failure handling). */
  sessionLost(clientId: string, username: string | null): void;
  /** Stops retrying and flushes the sink. */
  close(): Promise<void>;
}

export interface EventBridgeOptions {
  nodeId: string;
  topics?: PublishedTopicsConfig;
  onError(err: Error): void;
}

interface SubscribeEntry {
  filter: string;
  requestedQos: QoS;
  grantedQos: QoS | 128;
}

const RETRY_MAX_MS = 2000;

type Source = "mqtt" | "rest" | "policy";

/** What one client's SUBSCRIBE or UNSUBSCRIBE (or resume re-check) reported, filter by filter, within one tick. */
type PendingByClient<T> = Map<string, { source: Source; items: T[] }>;

export function attachEvents(broker: Broker, sink: EventSink, opts: EventBridgeOptions): EventBridge {
  const make = createEventFactory({ node: opts.nodeId });
  const published = publishedTopicFilter(opts.topics ?? {});
  let closed = false;
  const pendingSubs: PendingByClient<SubscribeEntry> = new Map();
  const pendingUnsubs: PendingByClient<string> = new Map();
  let flushScheduled = false;

  /** Emits until the sink takes it; gives up only on an event that can never be sent (reported). */
  async function emit(event: MqgateEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.emit([event]);
        return;
      } catch (err) {
        opts.onError(err as Error);
        if (err instanceof InvalidEvent || err instanceof PayloadTooLarge || closed) return;
        await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_MAX_MS, 25 * 2 ** Math.min(attempt, 10))).unref());
      }
    }
  }

  // SUBSCRIBE and UNSUBSCRIBE become one event per packet: the broker reports filters one by one in one tick.
  function schedule(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      for (const [clientId, { source, items }] of pendingSubs) {
        void emit(make("session.subscribed", { clientId, source, subscriptions: items }));
      }
      pendingSubs.clear();
      for (const [clientId, { source, items }] of pendingUnsubs) {
        void emit(make("session.unsubscribed", { clientId, source, filters: items }));
      }
      pendingUnsubs.clear();
    });
  }

  function add<T>(pending: PendingByClient<T>, clientId: string, source: Source, item: T): void {
    if (clientId === "") return;
    let entry = pending.get(clientId);
    if (entry === undefined) {
      entry = { source, items: [] };
      pending.set(clientId, entry);
    }
    entry.items.push(item);
    schedule();
  }

  broker.on("client.connected", (session, conn, sessionPresent) => {
    const username = conn.client?.username;
    void emit(
      make("client.connected", {
        clientId: session.clientId,
        ...(username !== undefined ? { username } : {}),
        protocolVersion: conn.client?.protocolVersion ?? 4,
        clean: session.clean,
        sessionPresent,
        keepalive: conn.keepalive,
        transport: conn.transport,
        remoteAddress: conn.remoteAddress,
      }),
    );
  });
  broker.on("client.disconnected", (clientId, reason, _err, conn) => {
    const username = conn.client?.username;
    void emit(make("client.disconnected", { clientId, ...(username !== undefined ? { username } : {}), reason }));
  });
  broker.on("session.subscribed", (clientId, filter, qos, requested, source) => {
    add(pendingSubs, clientId, source, { filter, requestedQos: requested, grantedQos: qos });
  });
  broker.on("subscribe.refused", (clientId, filter, _reason, requested) => {
    if (filter === "") return;
    add(pendingSubs, clientId, "mqtt", { filter, requestedQos: requested, grantedQos: 128 });
  });
  broker.on("session.unsubscribed", (clientId, filter, source) => {
    add(pendingUnsubs, clientId, source, filter);
  });
  broker.on("session.expired", (clientId, username) => {
    void emit(make("session.expired", { clientId, ...(username !== null ? { username } : {}) }));
  });
  broker.on("message.published", (msg, clientId) => {
    if (clientId === null || !published(msg.topic)) return;
    const sent = emit(
      make("message.published", { clientId, topic: msg.topic, qos: msg.qos, retain: msg.retain, payload: msg.payload.toString("base64") }),
    );
    // The publisher's PUBACK/PUBREC waits for this batch: the event is in the queue before the ack.
    if (msg.qos > 0) broker.journal.track(sent);
  });
  broker.on("message.dropped", (clientId, msg, reason) => {
    if (clientId === null || msg.topic === "") return;
    const direction = reason === "not-authorized" ? "inbound" : "outbound";
    void emit(make("message.dropped", { clientId, why: reason, direction, topic: msg.topic, qos: msg.qos }));
  });

  return {
    sessionLost(clientId, username) {
      void emit(make("client.disconnected", { clientId, ...(username !== null ? { username } : {}), reason: "node-failure" }));
    },
    async close() {
      closed = true;
      await sink.close();
    },
  };
}
