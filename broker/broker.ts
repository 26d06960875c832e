import { EventEmitter } from "node:events";
import type { QoS } from "mqtt-packet";
import type { Auth } from "../core/auth/types.js";
import type { MqgateConfig } from "../core/config/types.js";
import { SubscriptionTrie, type TopicLimits } from "../core/topic/index.js";
import type { Connection } from "./connection.js";
import { RetainedStore } from "./retained.js";
import { Session, type SessionObserver } from "./session.js";
import { BrokerStats } from "./stats.js";
import type { CloseReason, DropReason, Message } from "./types.js";

interface Subscription {
  readonly session: Session;
  readonly qos: QoS;
}

/** Events for the process edge (logs, metrics, the events queue). The broker itself never logs. */
export interface BrokerEvents {
  "client.connected": [session: Session, conn: Connection, sessionPresent: boolean];
  "client.disconnected": [clientId: string, reason: CloseReason, error: Error | undefined, conn: Connection];
  "client.refused": [conn: Connection, returnCode: number, reason: string];
  /** A socket closed before its client was connected (timeouts, malformed CONNECT, refusals). */
  "connection.closed": [conn: Connection, reason: CloseReason, error: Error | undefined];
  "session.subscribed": [clientId: string, filter: string, qos: QoS];
  "session.unsubscribed": [clientId: string, filter: string];
  "subscribe.refused": [clientId: string, filter: string, reason: string];
  /** Emitted for every accepted client publish (and wills). Only computed when someone listens. */
  "message.published": [msg: Message, clientId: string | null];
  "message.dropped": [clientId: string | null, msg: Message, reason: DropReason];
}

/**
 * The broker core: sessions, the subscription trie, retained messages and routing. Transport-agnostic:
 * listeners hand it Connections; handlers call into it.
 */
export class Broker extends EventEmitter<BrokerEvents> implements SessionObserver {
  readonly stats = new BrokerStats();
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly retained: RetainedStore;
  readonly topicLimits: TopicLimits;
  private readonly trie = new SubscriptionTrie<Subscription>();
  /** Scratch map for one routing pass: session -> highest granted QoS (one copy per session [MQTT-3.3.5-1]). */
  private readonly scratch = new Map<Session, QoS>();
  private targets = this.scratch;
  private routing = false;
  private readonly collectTarget = (sub: Subscription): void => {
    const prev = this.targets.get(sub.session);
    if (prev === undefined || sub.qos > prev) this.targets.set(sub.session, sub.qos);
  };

  constructor(
    readonly config: MqgateConfig,
    readonly auth: Auth,
  ) {
    super();
    this.retained = new RetainedStore(config.limits.maxRetained);
    this.topicLimits = { maxTopicLength: config.limits.maxTopicLength, maxTopicLevels: config.limits.maxTopicLevels };
  }

  get subscriptionCount(): number {
    return this.trie.size;
  }

  // --- connections and sessions --------------------------------------------------------------------------

  /** Whether a new socket may be accepted under `maxConnections`. */
  canAccept(): boolean {
    return this.connections.size < this.config.limits.maxConnections;
  }

  addConnection(conn: Connection): void {
    this.connections.add(conn);
    this.stats.connectionsTotal++;
  }

  /**
   * Authentication passed: take over an attached client id [MQTT-3.1.4-2], discard or resume the session
   * [MQTT-3.1.2-4] [MQTT-3.1.2-6], send CONNACK with session present [MQTT-3.2.2-1..3], then re-send what
   * is in flight and drain the queue.
   */
  acceptConnection(conn: Connection, clientId: string, clean: boolean): void {
    const existing = this.sessions.get(clientId);
    if (existing?.link) (existing.link as Connection).close("takeover");
    let session = this.sessions.get(clientId);
    if (session !== undefined && clean) {
      this.dropSession(session);
      session = undefined;
    }
    const sessionPresent = session !== undefined;
    if (session === undefined) {
      session = new Session(clientId, clean, this.config.limits, this);
      this.sessions.set(clientId, session);
    }
    session.clean = clean;
    conn.session = session;
    conn.writePacket({ cmd: "connack", returnCode: 0, sessionPresent });
    session.attach(conn);
    conn.completeConnect();
    this.emit("client.connected", session, conn, sessionPresent);
  }

  onConnectRefused(conn: Connection, returnCode: number, reason: string): void {
    this.stats.connectionsRefused++;
    this.emit("client.refused", conn, returnCode, reason);
  }

  /** Called once per connection when it closes, for whatever reason. */
  onConnectionClosed(conn: Connection, reason: CloseReason, err: Error | undefined): void {
    this.connections.delete(conn);
    const session = conn.session;
    if (session === null || session.link !== conn) {
      this.emit("connection.closed", conn, reason, err);
      return;
    }
    session.detach();
    // The will is published on any close but DISCONNECT [MQTT-3.1.2-8], then forgotten [MQTT-3.1.2-10].
    const will = conn.will;
    conn.will = null;
    if (will !== null && reason !== "client-disconnect") this.publishFromClient(conn, will.topic, will.payload, will.qos, will.retain);
    // A clean session ends with its connection [MQTT-3.1.2-6].
    if (session.clean) this.dropSession(session);
    this.emit("client.disconnected", session.clientId, reason, err, conn);
  }

  private dropSession(session: Session): void {
    for (const filter of session.subscriptions.keys()) this.trie.remove(filter, session.clientId);
    session.subscriptions.clear();
    this.sessions.delete(session.clientId);
  }

  // --- subscriptions -------------------------------------------------------------------------------------

  subscribe(session: Session, filter: string, qos: QoS): void {
    session.subscriptions.set(filter, qos);
    this.trie.add(filter, session.clientId, { session, qos });
    this.emit("session.subscribed", session.clientId, filter, qos);
  }

  unsubscribe(session: Session, filter: string): boolean {
    if (!session.subscriptions.delete(filter)) return false;
    this.trie.remove(filter, session.clientId);
    this.emit("session.unsubscribed", session.clientId, filter);
    return true;
  }

  onSubscribeRefused(conn: Connection, filter: string, reason: string): void {
    this.emit("subscribe.refused", conn.clientId ?? "", filter, reason);
  }

  /** Sends the retained messages matching a new subscription, RETAIN=1 [MQTT-3.3.1-6] [MQTT-3.3.1-8]. */
  deliverRetained(session: Session, filter: string, grantedQos: QoS): void {
    this.retained.forEachMatching(filter, (_topic, msg) => {
      session.deliver(msg, msg.qos < grantedQos ? msg.qos : grantedQos, true);
    });
  }

  // --- publishing ----------------------------------------------------------------------------------------

  /** A PUBLISH (or will) from a connected client: authorize, then route. */
  publishFromClient(conn: Connection, topic: string, payload: Buffer, qos: QoS, retain: boolean): void {
    const msg: Message = { topic, payload, qos, retain };
    // Clients cannot publish to $SYS; everything else is up to the authorizer.
    if (topic.startsWith("$SYS") || conn.policy === null || !conn.policy.canPublish(topic)) {
      this.stats.publishDenied++;
      this.onDrop(conn.session, msg, "not-authorized");
      return;
    }
    this.stats.messagesReceived++;
    if (this.listenerCount("message.published") > 0) this.emit("message.published", msg, conn.clientId ?? null);
    this.publish(msg);
  }

  /**
   * Routes a message: stores or clears it when retained, then delivers one copy to each matching session at
   * min(message QoS, highest granted QoS) [MQTT-3.3.5-1], RETAIN=0 [MQTT-3.3.1-9]. Returns the matched count.
   */
  publish(msg: Message): number {
    if (msg.retain && !this.retained.apply(msg)) this.onDrop(null, msg, "retained-limit");
    // A publish from inside a delivery (an event listener publishing) gets its own scratch map.
    const targets = this.routing ? new Map<Session, QoS>() : this.scratch;
    this.targets = targets;
    this.trie.match(msg.topic, this.collectTarget);
    const matched = targets.size;
    if (matched === 0) return 0;
    const outer = this.routing;
    this.routing = true;
    const qos = msg.qos;
    try {
      for (const [session, granted] of targets) session.deliver(msg, granted < qos ? granted : qos, false);
    } finally {
      targets.clear();
      this.routing = outer;
    }
    return matched;
  }

  onDrop(session: Session | null, msg: Message, reason: DropReason): void {
    this.stats.dropped[reason]++;
    this.emit("message.dropped", session?.clientId ?? null, msg, reason);
  }

  /** Closes every connection (shutdown). */
  closeAll(reason: CloseReason): void {
    for (const conn of [...this.connections]) conn.close(reason);
  }
}
