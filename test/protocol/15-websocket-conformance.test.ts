import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { useBroker } from "../helpers/fixture.js";

// MQTT over WebSocket (MQTT 3.1.1 section 6), with a raw `ws` client that controls frame types and boundaries.

/** A raw WebSocket MQTT client: sends exact frames, parses what comes back across frame boundaries. */
class WsClient {
  readonly packets: Packet[] = [];
  /** Whether each data frame received was binary. */
  readonly frameKinds: boolean[] = [];
  parseError: Error | null = null;
  closeCode: number | null = null;
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    const parser = createParser({ protocolVersion: 4 });
    parser.on("packet", (p: Packet) => this.packets.push(p));
    parser.on("error", (err: Error) => {
      this.parseError = err;
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.frameKinds.push(isBinary);
      parser.parse(data);
    });
    this.closedPromise = new Promise((resolve) =>
      ws.on("close", (code) => {
        this.closeCode = code;
        this.closedFlag = true;
        resolve();
      }),
    );
  }

  /** Opens a WebSocket offering `protocols`; rejects when the handshake fails. */
  static open(port: number, protocols: string[] = ["mqtt"]): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, protocols);
      ws.once("open", () => {
        ws.off("error", reject);
        ws.on("error", () => {});
        resolve(new WsClient(ws));
      });
      ws.once("error", reject);
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  binary(bytes: Buffer): void {
    this.ws.send(bytes, { binary: true });
  }

  text(s: string): void {
    this.ws.send(s, { binary: false });
  }

  /** Waits until at least `count` packets have arrived; rejects on close or timeout. */
  async waitPackets(count: number, timeoutMs = 2000): Promise<Packet[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length < count) {
      if (this.closedFlag) throw new Error(`closed after ${this.packets.length} of ${count} packets`);
      if (Date.now() > deadline) throw new Error(`${this.packets.length} of ${count} packets within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.packets.slice(0, count);
  }

  async waitClosed(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`websocket still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  destroy(): void {
    this.ws.terminate();
  }
}

const f = useBroker({ ws: { port: 0 } });

async function ws(protocols?: string[]): Promise<WsClient> {
  return f.track(await WsClient.open(f.b.port("ws"), protocols));
}

const connect = (clientId: string, extra: Partial<Extract<Packet, { cmd: "connect" }>> = {}): Buffer =>
  generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId, ...extra });

const cmds = (packets: Packet[]): string[] => packets.map((p) => p.cmd);

describe("binary frames only", () => {
  it("[MQTT-6.0.0-1] a CONNECT sent in a text frame is not processed: the connection is closed without CONNACK", async () => {
    const before = f.b.broker.stats.connectionsRefused;
    const c = await ws();
    // Every byte of this CONNECT is ASCII, so it is a valid text frame that would parse as MQTT if it were read.
    const bytes = connect("text-connect");
    expect([...bytes].every((x) => x < 0x80)).toBe(true);
    c.text(bytes.toString("latin1"));
    await c.waitClosed();
    expect(c.packets).toEqual([]);
    expect(c.closeCode).not.toBe(1000);
    expect(f.b.broker.sessions.has("text-connect")).toBe(false);
    expect(f.b.broker.stats.connectionsRefused).toBe(before);
  });

  it("[MQTT-6.0.0-1] a PUBLISH in a text frame after CONNECT closes the connection: not delivered, and the will is published", async () => {
    const watcher = await f.raw({ clientId: "ws-text-watcher" });
    await watcher.subscribe("ws6/#", 0);
    const c = await ws();
    c.binary(connect("ws-text-pub", { will: { topic: "ws6/will", payload: Buffer.from("gone"), qos: 0, retain: false } }));
    expect(cmds(await c.waitPackets(1))).toEqual(["connack"]);
    // PUBLISH QoS 0, topic "ws6/text", payload "hi": all ASCII.
    const publish = generate({ cmd: "publish", topic: "ws6/text", payload: Buffer.from("hi"), qos: 0, retain: false, dup: false });
    expect([...publish].every((x) => x < 0x80)).toBe(true);
    c.text(publish.toString("latin1"));
    await c.waitClosed();
    const got = await watcher.expect("publish");
    expect(got.topic).toBe("ws6/will");
    expect(await watcher.silentFor(200)).toBe(true);
  });

  it("[MQTT-6.0.0-1] the server itself sends every packet (CONNACK, SUBACK, PUBLISH, PUBACK, PINGRESP) in binary frames", async () => {
    const c = await ws();
    c.binary(connect("ws-binary-out"));
    await c.waitPackets(1);
    c.binary(generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "ws6/self", qos: 1 }] }));
    await c.waitPackets(2);
    c.binary(generate({ cmd: "publish", topic: "ws6/self", payload: Buffer.from("x"), qos: 1, messageId: 2, retain: false, dup: false }));
    await c.waitPackets(4);
    c.binary(generate({ cmd: "pingreq" }));
    const packets = await c.waitPackets(5);
    expect(cmds(packets).sort()).toEqual(["connack", "pingresp", "puback", "publish", "suback"]);
    expect(c.frameKinds.length).toBeGreaterThan(0);
    expect(c.frameKinds.every((binary) => binary)).toBe(true);
  });
});

describe("frames and packets are independent", () => {
  it("[MQTT-6.0.0-2] a CONNECT split over two binary frames (and one over a frame per byte) gets CONNACK", async () => {
    const bytes = connect("ws-split");
    const c = await ws();
    c.binary(bytes.subarray(0, 5));
    c.binary(bytes.subarray(5));
    expect(await c.waitPackets(1)).toMatchObject([{ cmd: "connack", returnCode: 0 }]);

    const d = await ws();
    for (const byte of connect("ws-bytewise")) d.binary(Buffer.from([byte]));
    expect(await d.waitPackets(1)).toMatchObject([{ cmd: "connack", returnCode: 0 }]);
  });

  it("[MQTT-6.0.0-2] CONNECT, SUBSCRIBE, PUBLISH and PINGREQ in one binary frame are all processed, in order", async () => {
    const c = await ws();
    c.binary(
      Buffer.concat([
        connect("ws-batch"),
        generate({ cmd: "subscribe", messageId: 7, subscriptions: [{ topic: "ws6/batch", qos: 1 }] }),
        generate({ cmd: "publish", topic: "ws6/batch", payload: Buffer.from("one frame"), qos: 1, messageId: 8, retain: false, dup: false }),
        generate({ cmd: "pingreq" }),
      ]),
    );
    const [connack, suback, x, y, pingresp] = await c.waitPackets(5);
    expect(connack).toMatchObject({ cmd: "connack", returnCode: 0 });
    expect(suback).toMatchObject({ cmd: "suback", messageId: 7, granted: [1] });
    const pair = [x, y] as Packet[];
    expect(pair.find((p) => p.cmd === "puback")).toMatchObject({ messageId: 8 });
    const delivered = pair.find((p) => p.cmd === "publish");
    expect(delivered?.cmd === "publish" && [delivered.topic, delivered.payload.toString()]).toEqual(["ws6/batch", "one frame"]);
    expect(pingresp?.cmd).toBe("pingresp");
    expect(c.parseError).toBeNull();
  });

  it("[MQTT-6.0.0-2] a frame may end in the middle of a packet and the next frame complete it along with more packets", async () => {
    const c = await ws();
    const all = Buffer.concat([
      connect("ws-straddle"),
      generate({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: "ws6/straddle", qos: 0 }] }),
      generate({ cmd: "unsubscribe", messageId: 4, unsubscriptions: ["ws6/straddle"] }),
      generate({ cmd: "pingreq" }),
    ]);
    const cut = connect("ws-straddle").length + 4; // inside the SUBSCRIBE
    c.binary(all.subarray(0, cut));
    c.binary(all.subarray(cut, all.length - 1)); // ends inside the PINGREQ
    c.binary(all.subarray(all.length - 1));
    const packets = await c.waitPackets(4);
    expect(packets.map((p) => [p.cmd, p.messageId])).toEqual([
      ["connack", undefined],
      ["suback", 3],
      ["unsuback", 4],
      ["pingresp", undefined],
    ]);
  });
});

describe("subprotocol", () => {
  it("[MQTT-6.0.0-4] the server selects and returns the subprotocol mqtt, also when the client lists others first", async () => {
    for (const offered of [["mqtt"], ["mqttv3.1", "mqtt"], ["chat", "mqtt"]]) {
      const c = await ws(offered);
      expect(c.ws.protocol).toBe("mqtt");
      c.binary(connect(`ws-proto-${offered.length}-${offered[0]}`));
      expect(await c.waitPackets(1)).toMatchObject([{ cmd: "connack", returnCode: 0 }]);
    }
  });

  it("[MQTT-6.0.0-4] a client offering only mqttv3.1 is refused at the handshake; an MQTT 3.1 client offering mqtt is served", async () => {
    const before = f.b.broker.stats.connectionsTotal;
    await expect(WsClient.open(f.b.port("ws"), ["mqttv3.1"])).rejects.toThrow();
    expect(f.b.broker.stats.connectionsTotal).toBe(before);

    const c = await ws(["mqtt"]);
    c.binary(generate({ cmd: "connect", protocolId: "MQIsdp", protocolVersion: 3, clean: true, keepalive: 0, clientId: "ws-mqtt31" }));
    expect(await c.waitPackets(1)).toMatchObject([{ cmd: "connack", returnCode: 0 }]);
  });
});
