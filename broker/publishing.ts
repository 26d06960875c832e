import type { EventEmitter } from "node:events";
import type { QoS } from "mqtt-packet";
import type { MessageProperties } from "../core/message-properties.js";
import { rootWithOrderKey } from "../core/order-key.js";
import type { BrokerEvents, PublishAdmission, RemoteRoutes } from "./broker-types.js";
import type { Connection } from "./connection.js";
import type { Journal } from "./journal.js";
import type { LocalRouter, RoutingHost } from "./local-routing.js";
import { PublishedMessage, PublishedMessage5 } from "./published-message.js";
import type { RetainedMessages } from "./retained-messages.js";
import type { Session } from "./session.js";
import type { BrokerStats } from "./stats.js";
import type { Message } from "./types.js";

/** What publishing needs from the broker core; the publish path reads these fields, it builds no closure per message. */
export interface PublishingParts {
  readonly router: LocalRouter;
  readonly retained: Pick<RetainedMessages, "write">;
  readonly journal: Journal;
  readonly stats: BrokerStats;
  readonly events: Pick<EventEmitter<BrokerEvents>, "emit" | "listenerCount">;
  /** Drop accounting (the broker). */
  readonly host: RoutingHost;
  /** The broker's clock (Broker.now). */
  readonly now: () => number;
}

/**
 * A message published on this node, from a client, a will, the REST gateway or another node's publish request:
 * authorized (clients), counted, written to the store when retained, and routed to the sessions held here and, in
 * a cluster, once to each other node whose routes match (RemoteRoutes). It owns the admission check of QoS 1/2
 * publishes and the cluster's route table as the core sees it. The path allocates no closure or promise per message.
 */
export class Publisher {
  private readonly router: LocalRouter;
  private readonly retained: Pick<RetainedMessages, "write">;
  private readonly journal: Journal;
  private readonly stats: BrokerStats;
  private readonly events: Pick<EventEmitter<BrokerEvents>, "emit" | "listenerCount">;
  private readonly host: RoutingHost;
  private readonly now: () => number;
  private admission: PublishAdmission | null = null;
  private remote: RemoteRoutes | null = null;

  constructor(parts: PublishingParts) {
    this.router = parts.router;
    this.retained = parts.retained;
    this.journal = parts.journal;
    this.stats = parts.stats;
    this.events = parts.events;
    this.host = parts.host;
    this.now = parts.now;
  }

  /** Installs (or, with null, removes) the admission check of QoS 1/2 publishes. */
  setAdmission(admission: PublishAdmission | null): void {
    this.admission = admission;
  }

  /** The cluster's route table (Broker.useRemoteRoutes); once, before `start()`. */
  useRemoteRoutes(routes: RemoteRoutes): void {
    this.remote = routes;
  }

  /** Whether a QoS 1/2 PUBLISH from `conn` may be accepted now (see PublishAdmission). */
  admits(conn: Connection, topic: string, payloadBytes: number): boolean {
    return this.admission === null || this.admission.admits(conn.clientId ?? "", topic, payloadBytes);
  }

  /**
   * In a cluster, the root a QoS 2 publish of `session`'s client is routed under and recorded with (decision 025),
   * carrying the message's order key (`<root>#<key>`, core/order-key.ts `orderKeyOfRoot`); else null.
   */
  qos2Root(session: Session): string | null {
    const root = this.remote?.newRoot();
    return root === undefined ? null : rootWithOrderKey(root, session.nextOrderKey());
  }

  /**
   * A PUBLISH (or will) from a connected client: authorize, then route. False when it was not authorized (an
   * MQTT 5 client is told so: PUBACK or PUBREC 0x87). MQTT 5 `props` go with the message; with a Message Expiry
   * Interval the message records when it was published, so every copy counts down from then.
   */
  fromClient(conn: Connection, topic: string, payload: Buffer, qos: QoS, retain: boolean, props?: MessageProperties, orderKey?: string): boolean {
    // QoS 1/2 carry the publisher's order key: a copy that comes late (drained from a dead node's queue) is stored
    // in its place for an offline subscriber (decision 038). A QoS 2 publish routed under a root has the key the
    // root was made with (`orderKey`), wherever it is routed again.
    // Without one, the key is built only if something reads it (broker/published-message.ts): a message delivered to
    // clean sessions of this node never does.
    const session = conn.session;
    const publishedAt = props?.messageExpiryInterval === undefined ? undefined : this.now();
    const msg: Message =
      orderKey === undefined && qos !== 0 && session !== null
        ? props === undefined
          ? new PublishedMessage(topic, payload, qos, retain, session.orderPrefix, session.countPublish())
          : new PublishedMessage5(topic, payload, qos, retain, session.orderPrefix, session.countPublish(), props, publishedAt)
        : props === undefined
          ? orderKey === undefined
            ? { topic, payload, qos, retain }
            : { topic, payload, qos, retain, order: orderKey }
          : publishedAt === undefined
            ? { topic, payload, qos, retain, props, order: orderKey }
            : { topic, payload, qos, retain, props, publishedAt, order: orderKey };
    // Clients cannot publish to $SYS; everything else is up to the authorizer.
    if (topic.startsWith("$SYS") || conn.policy === null || !conn.policy.canPublish(topic)) {
      this.stats.publishDenied++;
      this.host.onDrop(conn.session, msg, "not-authorized");
      return false;
    }
    this.stats.messagesReceived++;
    this.stats.receivedByQos[qos]++;
    if (this.events.listenerCount("message.published") > 0) this.events.emit("message.published", msg, conn.clientId ?? null);
    const outer = this.router.swapPublisher(conn.session);
    try {
      this.publish(msg);
    } finally {
      this.router.swapPublisher(outer);
    }
    return true;
  }

  /** A will goes out as its client's publish; an authorizer that throws denies, and the session still ends properly. */
  will(conn: Connection, session: Session, w: Message): void {
    try {
      this.fromClient(conn, w.topic, w.payload, w.qos, w.retain, w.props);
    } catch {
      this.stats.publishDenied++;
      this.host.onDrop(session, w, "not-authorized");
    }
  }

  /**
   * Routes a message: stores or clears it when retained, then delivers one copy to each matching session at
   * min(message QoS, highest granted QoS) [MQTT-3.3.5-1], RETAIN=0 [MQTT-3.3.1-9]. Returns the matched count.
   */
  publish(msg: Message): number {
    if (msg.retain) this.retained.write(msg);
    const remote = this.remote;
    if (remote === null) return this.router.route(msg, null, false, "deliver");
    const root = this.journal.dedupId === null ? remote.rootFor(msg.topic) : null;
    if (root !== null) return this.journal.withDedupId(root, () => this.router.routeInCluster(msg, remote));
    return this.router.routeInCluster(msg, remote);
  }

  /**
   * A publish from outside MQTT (the REST gateway, a will published by a survivor): routed like a client publish
   * (topic already validated). Resolves with the matched session count once every store write it caused is
   * durable: the copies queued for persistent sessions and the retained message. The same rule as PUBACK/PUBREC
   * for a client publish.
   */
  external(msg: Message): Promise<number> {
    this.stats.messagesReceived++;
    this.stats.receivedByQos[msg.qos]++;
    if (this.events.listenerCount("message.published") > 0) this.events.emit("message.published", msg, null);
    const mark = this.journal.writes;
    return this.journal.durableSince(mark, this.publish(msg));
  }

  /** A shared subscription member's session ended: what it was not sent goes to the group's other members (4.8.2). */
  handBack(entries: Iterable<{ msg: Message; group: string }>, session: Session): void {
    this.router.handBack(entries, session, this.remote);
  }
}
