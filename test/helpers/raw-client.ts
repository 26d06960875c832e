import { connect, type Socket } from "node:net";
import { generate, parser as createParser, type IConnackPacket, type IConnectPacket, type Packet, type QoS } from "mqtt-packet";

/**
 * A raw MQTT client on a plain socket: sends exact packets or bytes and reads what the broker answers.
 * Used for behaviour the `mqtt` package would never produce (malformed input, protocol violations).
 */
export class RawClient {
  private readonly received: Packet[] = [];
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  private lastPacketId = 0;
  private readonly closedPromise: Promise<void>;
  parseError: Error | null = null;

  private constructor(
    readonly socket: Socket,
    /** 4 (3.1.1) or 5: how packets are generated and parsed. */
    readonly protocolVersion: 4 | 5 = 4,
  ) {
    const parser = createParser({ protocolVersion });
    parser.on("packet", (p: Packet) => {
      this.received.push(p);
      this.wake();
    });
    parser.on("error", (err: Error) => {
      this.parseError = err;
    });
    socket.on("data", (chunk) => parser.parse(chunk));
    socket.on("error", () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.on("close", () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** `localAddress` picks the source address (any of 127.0.0.0/8 works on loopback), for per-address behaviour. */
  static open(port: number, host = "127.0.0.1", localAddress?: string, protocolVersion: 4 | 5 = 4): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, ...(localAddress !== undefined ? { localAddress } : {}) }, () => {
        socket.off("error", reject);
        resolve(new RawClient(socket, protocolVersion));
      });
      socket.once("error", reject);
    });
  }

  /** Opens a socket and completes a 3.1.1 CONNECT; throws unless the broker accepts it. */
  static async connected(port: number, fields: Partial<IConnectPacket> = {}): Promise<RawClient> {
    const client = await RawClient.open(port);
    const connack = await client.connect(fields);
    if (connack.returnCode !== 0) throw new Error(`connect failed: ${JSON.stringify(connack)}`);
    return client;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet, { protocolVersion: this.protocolVersion }));
  }

  sendBytes(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /**
   * Sends a 3.1.1 CONNECT (clean session, keepalive 0 and a random client id unless `fields` say otherwise) and
   * returns the CONNACK, whatever its return code (waiting up to `timeoutMs` for it).
   */
  async connect(fields: Partial<IConnectPacket> = {}, timeoutMs = 2000): Promise<IConnackPacket> {
    this.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: this.protocolVersion, clean: true, keepalive: 0, clientId: `raw-${Math.random().toString(36).slice(2, 10)}`, ...fields });
    return this.expect("connack", timeoutMs);
  }

  /**
   * Sends SUBSCRIBE, for one filter at `qos` or a list of [filter, QoS] pairs (`qos` is then unused), and returns the
   * SUBACK return codes; throws if the SUBACK carries another packet id. Packet ids count 1, 2, ... per client.
   */
  async subscribe(subs: [string, QoS][] | string, qos: QoS = 0, messageId = this.nextPacketId()): Promise<number[]> {
    const list: [string, QoS][] = typeof subs === "string" ? [[subs, qos]] : subs;
    this.send({ cmd: "subscribe", messageId, subscriptions: list.map(([topic, q]) => ({ topic, qos: q })) });
    const suback = await this.expect("suback");
    if (suback.messageId !== messageId) throw new Error(`SUBACK carries packet id ${suback.messageId}, the SUBSCRIBE had ${messageId}`);
    return suback.granted as number[];
  }

  /** Sends UNSUBSCRIBE and waits for the UNSUBACK; throws if it carries another packet id. */
  async unsubscribe(filters: string[] | string, messageId = this.nextPacketId()): Promise<void> {
    this.send({ cmd: "unsubscribe", messageId, unsubscriptions: typeof filters === "string" ? [filters] : filters });
    const unsuback = await this.expect("unsuback");
    if (unsuback.messageId !== messageId) throw new Error(`UNSUBACK carries packet id ${unsuback.messageId}, the UNSUBSCRIBE had ${messageId}`);
  }

  /** Next packet from the broker; rejects on timeout or when the socket closes first. */
  async next(timeoutMs = 2000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closedFlag) throw new Error("connection closed while waiting for a packet");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.shift() as Packet;
  }

  /** Next packet of a given type, failing if another type arrives first. */
  async expect<C extends Packet["cmd"]>(cmd: C, timeoutMs = 2000): Promise<Extract<Packet, { cmd: C }>> {
    const packet = await this.next(timeoutMs);
    if (packet.cmd !== cmd) throw new Error(`expected ${cmd}, got ${packet.cmd}: ${JSON.stringify(packet)}`);
    return packet as Extract<Packet, { cmd: C }>;
  }

  /** Resolves true if nothing arrives within `ms` (and the socket stays open). */
  async silentFor(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received.length === 0;
  }

  /** Resolves when the broker closes the socket; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Packets received and not yet consumed. */
  get buffered(): readonly Packet[] {
    return this.received;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private nextPacketId(): number {
    this.lastPacketId = (this.lastPacketId % 65535) + 1;
    return this.lastPacketId;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
