import { connect, type Socket } from "node:net";
import { generate, parser as createParser, type Packet } from "mqtt-packet";

/**
 * A raw MQTT client on a plain socket: sends exact packets or bytes and reads what the broker answers.
 * Used for behaviour the `mqtt` package would never produce (malformed input, protocol violations).
 */
export class RawClient {
  private readonly received: Packet[] = [];
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;
  parseError: Error | null = null;

  private constructor(readonly socket: Socket) {
    const parser = createParser({ protocolVersion: 4 });
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

  static open(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off("error", reject);
        resolve(new RawClient(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Opens a socket and completes a 3.1.1 CONNECT; returns the client and its CONNACK. */
  static async connected(port: number, connect: Partial<Extract<Packet, { cmd: "connect" }>> = {}): Promise<RawClient> {
    const client = await RawClient.open(port);
    client.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: `raw-${Math.random().toString(36).slice(2, 10)}`, ...connect });
    const connack = await client.next();
    if (connack.cmd !== "connack" || connack.returnCode !== 0) throw new Error(`connect failed: ${JSON.stringify(connack)}`);
    return client;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet));
  }

  sendBytes(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
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

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
