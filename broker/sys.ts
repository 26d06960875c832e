import type { Broker } from "./broker.js";
import { VERSION } from "./version.js";

/**
 * Publishes broker statistics under $SYS/broker/... as retained QoS 0 messages on an interval, in the layout
 * Mosquitto users know. Wildcard subscriptions starting with # or + never see them [MQTT-4.7.2-1].
 */
export class SysPublisher {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly broker: Broker,
    private readonly intervalSeconds: number,
  ) {}

  start(): void {
    if (this.intervalSeconds <= 0 || this.timer !== null) return;
    this.publishStatic();
    this.publishAll();
    this.timer = setInterval(() => this.publishAll(), this.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private publishStatic(): void {
    this.set("$SYS/broker/version", `mqgate ${VERSION}`);
  }

  /** One pass: every counter as a retained message. Public for tests. */
  publishAll(): void {
    const b = this.broker;
    const s = b.stats;
    const { connected, offline } = b.sessionCounts();
    this.set("$SYS/broker/uptime", `${Math.floor((Date.now() - s.startedAt) / 1000)} seconds`);
    this.set("$SYS/broker/clients/connected", connected);
    this.set("$SYS/broker/clients/disconnected", offline);
    this.set("$SYS/broker/clients/total", connected + offline);
    this.set("$SYS/broker/connections/total", s.connectionsTotal);
    this.set("$SYS/broker/connections/refused", s.connectionsRefused);
    this.set("$SYS/broker/messages/received", s.messagesReceived);
    this.set("$SYS/broker/messages/sent", s.messagesSent);
    this.set("$SYS/broker/messages/dropped", s.droppedTotal);
    this.set("$SYS/broker/publish/denied", s.publishDenied);
    this.set("$SYS/broker/deliveries/denied", s.deliveriesDenied);
    this.set("$SYS/broker/bytes/received", s.bytesReceived);
    this.set("$SYS/broker/bytes/sent", s.bytesSent);
    this.set("$SYS/broker/subscriptions/count", b.subscriptionCount);
    b.refreshRetainedStats();
    this.set("$SYS/broker/retained messages/count", b.retainedStats.count);
    this.set("$SYS/broker/heap/current", process.memoryUsage().heapUsed);
  }

  private set(topic: string, value: string | number): void {
    this.broker.publish({ topic, payload: Buffer.from(String(value)), qos: 0, retain: true });
  }
}
