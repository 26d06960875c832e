import type { QoS } from "mqtt-packet";
import { createEventFactory } from "../core/events/factory.js";
import { toReadableProperties } from "../core/readable-properties.js";
import { publishedTopicFilter, type PublishedTopicsConfig } from "../core/events/filter.js";
import type { MqgateEvent } from "../core/events/schema.js";
import type { EventSink } from "../core/events/sink.js";
import type { Broker } from "./broker.js";
import { EventBuffer, type EventBufferStats, eventBytes, publishedEventBytes } from "./event-buffer.js";

/**
 * Sends what devices do to the events queue (docs/events.md): connected, disconnected (with reason), subscribed,
 * unsubscribed, every accepted publish on the configured topics, and drops. Events are handed to the sink in the
 * order they happen, so the FIFO queue (grouped by clientId) keeps each client's order.
 *
 * A `message.published` of a QoS 1/2 publish is part of the publisher's acknowledgement: the journal batch the
 * PUBACK/PUBREC waits for completes only once the sink accepted the event (retried until it does). Other events
 * are retried the same way but hold nothing back. Never a password: the schema has no field for one.
 *
 * What waits is bounded (`EventBuffer`, decision 009): beyond `maxEvents` / `maxBytes` events are dropped and
 * counted, and a QoS 1/2 publish that would produce one is refused before it is accepted (the broker closes its
 * connection, so the client sends it again later), never acknowledged without its event.
 */

export interface EventBridge {
  /** Marks a client gone with its node (called by the cluster's failure handling). */
  sessionLost(clientId: string, username: string | null): void;
  /** Events held, their bytes, and drops by reason (metrics). */
  readonly buffered: EventBufferStats;
  /** Sends what it can, drops the rest (counted) and flushes the sink. */
  close(): Promise<void>;
}

export interface EventBridgeOptions {
  nodeId: string;
  topics?: PublishedTopicsConfig;
  /** Bounds of what waits for the events queue (events.maxBufferedEvents, events.maxBufferedBytes). */
  maxEvents: number;
  maxBytes: number;
  onError(err: Error): void;
  /** The buffer overflowed (`full`) or has room again; `dropped` events were lost meanwhile (log them). */
  onOverflow?(full: boolean, dropped: number): void;
}

interface SubscribeEntry {
  filter: string;
  requestedQos: QoS;
  grantedQos: QoS | 128;
}

type Source = "mqtt" | "rest" | "policy";

/** What one client's SUBSCRIBE or UNSUBSCRIBE (or resume re-check) reported, filter by filter, within one tick. */
type PendingByClient<T> = Map<string, { source: Source; items: T[] }>;

export function attachEvents(broker: Broker, sink: EventSink, opts: EventBridgeOptions): EventBridge {
  const make = createEventFactory({ node: opts.nodeId });
  const published = publishedTopicFilter(opts.topics ?? {});
  const buffer = new EventBuffer(sink, {
    maxEvents: opts.maxEvents,
    maxBytes: opts.maxBytes,
    onError: opts.onError,
    onOverflow: (full, dropped) => opts.onOverflow?.(full, dropped),
  });
  const pendingSubs: PendingByClient<SubscribeEntry> = new Map();
  const pendingUnsubs: PendingByClient<string> = new Map();
  let flushScheduled = false;

  /** Queues an event behind its client's earlier ones (dropped and counted when the buffer is full). */
  function emit(event: MqgateEvent): void {
    buffer.hold(event, eventBytes(event), false);
  }

  // A QoS 1/2 publish is accepted only if its event will fit: checked before the broker routes or acknowledges it.
  broker.publisher.setAdmission({
    admits(clientId, topic, payloadBytes) {
      return !published(topic) || buffer.fits(publishedEventBytes(clientId, topic, payloadBytes));
    },
  });

  // SUBSCRIBE and UNSUBSCRIBE become one event per packet: the broker reports filters one by one in one tick.
  function schedule(): void {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      for (const [clientId, { source, items }] of pendingSubs) {
        emit(make("session.subscribed", { clientId, source, subscriptions: items }));
      }
      pendingSubs.clear();
      for (const [clientId, { source, items }] of pendingUnsubs) {
        emit(make("session.unsubscribed", { clientId, source, filters: items }));
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
    emit(
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
    emit(make("client.disconnected", { clientId, ...(username !== undefined ? { username } : {}), reason }));
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
    // An MQTT 5 publish carries its properties (v3), in the REST API's readable form; a 3.1.1 publish has none.
    const props = toReadableProperties(msg.props);
    const fields = { clientId, topic: msg.topic, qos: msg.qos, retain: msg.retain, payload: msg.payload.toString("base64") };
    const event = make("message.published", props === undefined ? fields : { ...fields, ...props });
    const bytes = publishedEventBytes(clientId, msg.topic, msg.payload.length) + (props === undefined ? 0 : JSON.stringify(props).length);
    const sent = buffer.hold(event, bytes, msg.qos > 0);
    // The publisher's PUBACK/PUBREC waits for this batch: the event is in the queue before the ack. (A QoS 1/2
    // publish whose event does not fit was refused by the admission check above, before it got here.)
    if (sent !== null) broker.journal.track(sent);
  });
  broker.on("message.dropped", (clientId, msg, reason) => {
    if (clientId === null || msg.topic === "") return;
    const direction = reason === "not-authorized" ? "inbound" : "outbound";
    emit(make("message.dropped", { clientId, why: reason, direction, topic: msg.topic, qos: msg.qos }));
  });

  return {
    sessionLost(clientId, username) {
      emit(make("client.disconnected", { clientId, ...(username !== null ? { username } : {}), reason: "node-failure" }));
    },
    buffered: buffer,
    async close() {
      // The admission check stays: a closed buffer fits nothing, so no QoS 1/2 publish is accepted without its event.
      await buffer.close();
      await sink.close();
    },
  };
}
