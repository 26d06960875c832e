import { generate, parser as createParser, type Packet, type QoS } from "mqtt-packet";
import type { History } from "./history.js";
import type { Link } from "./link.js";

/** SIM_TRACE=<clientId>: that client prints every PUBLISH it gets (and whether it took it as a QoS 2 repeat). */
const TRACE = process.env.SIM_TRACE;
/** SIM_TRACE_PUB=<clientId>: that client prints every QoS 1/2 PUBLISH it sends, and re-sends after a reconnect. */
const TRACE_PUB = process.env.SIM_TRACE_PUB;

/**
 * A simulated MQTT 3.1.1 device with a persistent session (clean = false): what a well-behaved client library
 * does, and no more. It keeps its in-flight QoS 1/2 PUBLISHes across connections and sends them again (DUP) on
 * every reconnect, in order, PUBRELs for those already PUBREC'd; it delivers an incoming QoS 2 message once per
 * packet id until the PUBREL (MQTT's "method B"), keeping those ids across connections; it detects a dead
 * connection by keepalive (PINGREQ without an answer) and by connect timeout. Everything it sees goes to History.
 */

interface InFlight {
  key: string;
  topic: string;
  qos: 1 | 2;
  stage: "publish" | "pubrel";
}

const KEEPALIVE_S = 10;
const CONNECT_TIMEOUT_MS = 8_000;

export class SimClient {
  link: Link | null = null;
  node: string | null = null;
  connected = false;
  /** The client has been told its session exists at least once (a later sessionPresent = 0 is a loss). */
  private hadSession = false;
  private readonly inflight = new Map<number, InFlight>();
  private readonly awaitingRel = new Set<number>();
  private nextPid = 1;
  private n = 0;
  private lastHeard = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private connectedAt = 0;
  /** Filters to subscribe once (subscribers); done when all were SUBACK'd. */
  private subscribed = false;

  constructor(
    readonly id: string,
    private readonly filters: ReadonlyMap<string, QoS>,
    private readonly history: History,
    /** The connection was lost (closed by the broker, reset, or judged dead): the driver reconnects it. */
    private readonly onLost: (client: SimClient) => void,
    /** A will sent with every CONNECT (payload `will:<clientId>`); none by default (hook for slice "lease"). */
    private readonly will: { topic: string; qos: QoS } | null = null,
  ) {}

  get inFlightCount(): number {
    return this.inflight.size;
  }

  get ready(): boolean {
    return this.connected && (this.filters.size === 0 || this.subscribed);
  }

  /** Opens a connection to `node` over `link` (the previous one, if any, is abandoned or closed by the caller). */
  connect(node: string, link: Link): void {
    this.stopTimer();
    this.link = link;
    this.node = node;
    this.connected = false;
    this.connectedAt = Date.now();
    this.lastHeard = Date.now();
    const parser = createParser({ protocolVersion: 4 });
    parser.on("packet", (p: Packet) => {
      if (this.link === link) this.onPacket(p);
    });
    parser.on("error", (err: Error) => this.history.protocolErrors.push(`${this.id}: parse error ${err.message}`));
    link.onData = (buf) => parser.parse(buf);
    // What the broker writes to this connection, read on its own: also what never reaches this client.
    const written = createParser({ protocolVersion: 4 });
    written.on("packet", (p: Packet) => {
      if (p.cmd === "publish" && p.qos > 0) this.history.wrote(this.id, p.payload.toString(), node);
    });
    written.on("error", () => {});
    link.onWrite = (buf) => written.parse(buf);
    link.onClose = () => {
      if (this.link !== link) return;
      this.lost(`closed by ${node}`);
    };
    const will = this.will === null ? {} : { will: { topic: this.will.topic, payload: Buffer.from(`will:${this.id}`), qos: this.will.qos, retain: false } };
    this.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: this.id, keepalive: KEEPALIVE_S, ...will });
    this.timer = setInterval(() => this.watch(link), 2_000);
  }

  /** Ends the connection normally (DISCONNECT, then close). */
  disconnect(): void {
    const link = this.link;
    if (link === null) return;
    this.send({ cmd: "disconnect" });
    this.detach();
    link.close();
  }

  /** Drops the connection without a word (the device lost power or network). */
  drop(mode: "close" | "abandon"): void {
    const link = this.link;
    if (link === null) return;
    this.detach();
    if (mode === "close") link.close();
    else link.abandon();
  }

  /** Publishes the next message of this client; QoS 1/2 are kept until acknowledged. */
  publish(topic: string, qos: QoS): void {
    const key = `${this.id}:${++this.n}`;
    this.history.published.set(key, { key, publisher: this.id, n: this.n, topic, qos, sentAt: Date.now(), ackedAt: null });
    if (qos === 0) {
      this.send({ cmd: "publish", topic, payload: Buffer.from(key), qos: 0, retain: false, dup: false });
      return;
    }
    const messageId = this.allocate();
    this.inflight.set(messageId, { key, topic, qos, stage: "publish" });
    if (TRACE_PUB === this.id) console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} ${this.id} sends ${key} q${qos} id=${messageId} via ${this.node}`);
    this.send({ cmd: "publish", topic, payload: Buffer.from(key), qos, messageId, retain: false, dup: false });
  }

  private allocate(): number {
    for (;;) {
      const id = this.nextPid;
      this.nextPid = (this.nextPid % 65535) + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  private detach(): void {
    this.stopTimer();
    this.link = null;
    this.node = null;
    this.connected = false;
  }

  private lost(why: string): void {
    this.history.note(`${this.id} lost its connection to ${this.node ?? "?"}: ${why}`);
    const link = this.link;
    this.detach();
    link?.abandon();
    this.onLost(this);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private watch(link: Link): void {
    if (this.link !== link) return;
    const now = Date.now();
    if (!this.connected && now - this.connectedAt > CONNECT_TIMEOUT_MS) return this.lost("no CONNACK");
    if (this.connected && now - this.lastHeard > KEEPALIVE_S * 1000 * 1.5) return this.lost("keepalive timeout");
    if (this.connected && now - this.lastHeard > 4_000) this.send({ cmd: "pingreq" });
  }

  private send(p: Packet): void {
    this.link?.send(generate(p));
  }

  private onPacket(p: Packet): void {
    this.lastHeard = Date.now();
    switch (p.cmd) {
      case "connack":
        if (p.returnCode !== 0) return this.lost(`CONNACK ${p.returnCode}`);
        this.connected = true;
        if (p.sessionPresent !== true && this.hadSession) {
          this.history.sessionsLost.push({ clientId: this.id, at: Date.now(), node: this.node ?? "?" });
          this.subscribed = false;
        }
        this.hadSession = true;
        this.history.connected(this.id, this.node ?? "?");
        if (this.filters.size > 0 && !this.subscribed) {
          this.send({ cmd: "subscribe", messageId: this.allocate(), subscriptions: [...this.filters].map(([topic, qos]) => ({ topic, qos })) });
        }
        for (const [messageId, f] of this.inflight) {
          if (TRACE_PUB === this.id) console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} ${this.id} re-sends ${f.key} stage=${f.stage} id=${messageId} via ${this.node}`);
          if (f.stage === "publish") this.history.resent(f.key);
          if (f.stage === "publish") this.send({ cmd: "publish", topic: f.topic, payload: Buffer.from(f.key), qos: f.qos, messageId, retain: false, dup: true });
          else this.send({ cmd: "pubrel", messageId });
        }
        return;
      case "suback": {
        const subs = [...this.filters.keys()].map((filter, i) => ({ filter, granted: (p.granted[i] ?? 128) as QoS, since: Date.now() }));
        this.history.subscriptions.set(this.id, [...(this.history.subscriptions.get(this.id) ?? []), ...subs]);
        this.subscribed = true;
        return;
      }
      case "puback":
      case "pubrec": {
        const f = this.inflight.get(p.messageId ?? -1);
        if (f === undefined || f.stage !== "publish" || (p.cmd === "puback") !== (f.qos === 1)) {
          if (p.cmd === "pubrec" && f?.stage === "pubrel") return this.send({ cmd: "pubrel", messageId: p.messageId as number });
          this.history.protocolErrors.push(`${this.id}: unexpected ${p.cmd} ${p.messageId}`);
          return;
        }
        const pub = this.history.published.get(f.key);
        if (pub !== undefined && pub.ackedAt === null) pub.ackedAt = Date.now();
        if (p.cmd === "puback") this.inflight.delete(p.messageId as number);
        else {
          f.stage = "pubrel";
          this.send({ cmd: "pubrel", messageId: p.messageId as number });
        }
        return;
      }
      case "pubcomp":
        this.inflight.delete(p.messageId ?? -1);
        return;
      case "publish": {
        const key = p.payload.toString();
        const messageId = p.messageId ?? 0;
        if (TRACE === this.id) console.log(`${new Date(Date.now()).toISOString().slice(14, 23)} ${this.id} got PUBLISH ${key} q${p.qos} id=${messageId} dup=${p.dup}${p.qos === 2 && this.awaitingRel.has(messageId) ? " (awaiting PUBREL: taken as a repeat)" : ""}`);
        if (p.qos === 2 && this.awaitingRel.has(messageId)) return this.send({ cmd: "pubrec", messageId });
        this.history.receipts.push({ subscriber: this.id, key, qos: p.qos, at: Date.now(), node: this.node ?? "?", dup: p.dup });
        if (p.qos === 1) this.send({ cmd: "puback", messageId });
        if (p.qos === 2) {
          this.awaitingRel.add(messageId);
          this.send({ cmd: "pubrec", messageId });
        }
        return;
      }
      case "pubrel":
        this.awaitingRel.delete(p.messageId ?? -1);
        this.send({ cmd: "pubcomp", messageId: p.messageId as number });
        return;
      case "pingresp":
        return;
      default:
        this.history.protocolErrors.push(`${this.id}: unexpected ${p.cmd}`);
    }
  }
}
