import { Duplex } from "node:stream";
import mqttPacket, { type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { Connection } from "../../broker/connection.js";
import { useBroker } from "../helpers/fixture.js";

/**
 * A client link whose own buffer is far above `limits.socketHighWaterMark`, and which can stop reading: the
 * situation of every TCP socket on Node 22 and later (64 KiB default high-water mark) with a 16 KiB limit, and of
 * WebSocket and TLS streams, made deterministic. Each write the broker makes is held (not acknowledged) while the
 * client does not read, exactly as a socket whose kernel buffer is full.
 */
class StallingLink extends Duplex {
  readonly packets: Packet[] = [];
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private held: Array<() => void> = [];
  private reading = true;

  constructor() {
    super({ writableHighWaterMark: 1 << 20 });
    this.parser.on("packet", (p: Packet) => this.packets.push(p));
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.reading) {
      this.parser.parse(chunk);
      done();
    } else {
      this.held.push(() => {
        this.parser.parse(chunk);
        done();
      });
    }
  }

  /** Sends a packet to the broker. */
  sendPacket(packet: Packet): void {
    this.push(mqttPacket.generate(packet));
  }

  stopReading(): void {
    this.reading = false;
  }

  startReading(): void {
    this.reading = true;
    for (const release of this.held.splice(0)) release();
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("slow consumer recovery does not depend on the stream's own high-water mark", () => {
  const HWM = 16_384;
  const f = useBroker({ limits: { socketHighWaterMark: HWM } });

  it("a subscriber congested below its stream's high-water mark leaves congestion once it reads again, and gets what follows in order", async () => {
    const link = new StallingLink();
    const conn = new Connection(f.b.broker, link, "127.0.0.1:9", "tcp");
    f.b.broker.addConnection(conn);
    link.sendPacket({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "stalling", clean: true, keepalive: 0 } as Packet);
    await until("CONNACK", () => link.packets.some((p) => p.cmd === "connack"));
    link.sendPacket({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "drain/#", qos: 0 }] } as Packet);
    await until("SUBACK", () => link.packets.some((p) => p.cmd === "suback"));

    link.stopReading();
    const pub = await f.raw({ clientId: "drain-pub" });
    const watcher = await f.raw({ clientId: "drain-watcher" });
    expect(await watcher.subscribe("drain/#", 0)).toEqual([0]);
    const droppedBefore = f.b.broker.stats.dropped["slow-consumer"];
    // One 1 KiB message per round trip, so every message is its own small write: the backlog crosses our
    // 16 KiB limit long before the stream's 1 MiB one, and the stream never asks for "drain".
    const payload = Buffer.alloc(1024, 0x61);
    let sent = 0;
    while (!conn.congested) {
      if (sent > 200) throw new Error("no congestion after 200 KiB to a client that does not read");
      pub.send({ cmd: "publish", topic: "drain/t", payload, qos: 0, retain: false, dup: false } as Packet);
      await watcher.expect("publish");
      sent++;
    }
    expect(link.writableNeedDrain).toBe(false);
    pub.send({ cmd: "publish", topic: "drain/t", payload, qos: 0, retain: false, dup: false } as Packet);
    await watcher.expect("publish");
    expect(f.b.broker.stats.dropped["slow-consumer"] - droppedBefore).toBe(1);

    link.startReading();
    await until("congestion to clear after the client reads again", () => !conn.congested);
    pub.send({ cmd: "publish", topic: "drain/after", payload: Buffer.from("after"), qos: 0, retain: false, dup: false } as Packet);
    await until("the message published after recovery", () => link.packets.some((p) => p.cmd === "publish" && p.topic === "drain/after"));
    const topics = link.packets.filter((p) => p.cmd === "publish").map((p) => (p.cmd === "publish" ? p.topic : ""));
    expect(topics).toEqual([...Array.from({ length: sent }, () => "drain/t"), "drain/after"]);
    pub.destroy();
    watcher.destroy();
    conn.close("socket-closed");
  });
});

describe("a session queue drained at once stays within the high-water mark", () => {
  const HWM = 16_384;
  const f = useBroker({ limits: { socketHighWaterMark: HWM, maxInflight: 1, maxQueued: 1000 } });

  it("300 queued QoS 0 messages released by one PUBACK are written up to the mark, the rest when the client reads", async () => {
    const link = new StallingLink();
    const conn = new Connection(f.b.broker, link, "127.0.0.1:9", "tcp");
    f.b.broker.addConnection(conn);
    link.sendPacket({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "burst", clean: true, keepalive: 0 } as Packet);
    await until("CONNACK", () => link.packets.some((p) => p.cmd === "connack"));
    link.sendPacket({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "burst/#", qos: 1 }] } as Packet);
    await until("SUBACK", () => link.packets.some((p) => p.cmd === "suback"));
    const session = f.b.broker.sessions.get("burst");
    if (session === undefined) throw new Error("no session");

    // The window (1) holds the first QoS 1 message, the second waits in the queue, and every QoS 0 message
    // queues behind it to keep order.
    const pub = await f.raw({ clientId: "burst-pub" });
    pub.send({ cmd: "publish", topic: "burst/q1", payload: Buffer.from("a"), qos: 1, messageId: 1, retain: false, dup: false } as Packet);
    pub.send({ cmd: "publish", topic: "burst/q1", payload: Buffer.from("b"), qos: 1, messageId: 2, retain: false, dup: false } as Packet);
    const payload = Buffer.alloc(1024, 0x62);
    for (let i = 0; i < 300; i++) pub.send({ cmd: "publish", topic: "burst/q0", payload, qos: 0, retain: false, dup: false } as Packet);
    await until("301 queued messages", () => session.queuedCount === 301);
    const first = link.packets.find((p) => p.cmd === "publish");
    if (first === undefined || first.cmd !== "publish" || first.messageId === undefined) throw new Error("no first PUBLISH");

    // The client stops reading, then acknowledges: the whole queue becomes writable in one tick.
    link.stopReading();
    link.sendPacket({ cmd: "puback", messageId: first.messageId } as Packet);
    await until("the second QoS 1 message in flight", () => session.inflight.size === 1 && !session.inflight.has(first.messageId as number));
    expect(conn.congested).toBe(true);
    expect(link.writableLength).toBeLessThanOrEqual(HWM + 1100);
    expect(session.queuedCount).toBeGreaterThan(250);

    link.startReading();
    await until("every queued message", () => link.packets.filter((p) => p.cmd === "publish").length === 302);
    const order = link.packets.filter((p) => p.cmd === "publish").map((p) => (p.cmd === "publish" ? p.topic : ""));
    expect(order).toEqual(["burst/q1", "burst/q1", ...Array.from({ length: 300 }, () => "burst/q0")]);
    expect(conn.congested).toBe(false);
    pub.destroy();
    conn.close("socket-closed");
  });
});
