import { PassThrough } from "node:stream";
import { generate, type Packet } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import { readInto, SharedBufferReads, type ChunkSink } from "../../broker/borrowed-reads.js";
import { PacketDecoder, type PacketSink } from "../../broker/decoder.js";
import type { Auth, ConnectDecision } from "../../core/auth/types.js";
import { createAllowAll } from "../../core/auth/allow-all.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { socketPair } from "../helpers/socket-pair.js";
import { until } from "../helpers/wait.js";

// Plain TCP connections read into one buffer all of them share (broker/borrowed-reads.ts, decision 039): bytes
// that must outlive a read are copied out, reading goes on while the connection is paused (bounded), and an end of
// stream waits for what was read before it.

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


/** Records the bytes pushed to it, copying them (a borrowed chunk is overwritten by the next read). */
function byteSink(): ChunkSink & { bytes: Buffer[]; total: () => number } {
  const bytes: Buffer[] = [];
  return {
    bytes,
    total: () => bytes.reduce((n, b) => n + b.length, 0),
    push(chunk, length = chunk.length) {
      bytes.push(Buffer.from(chunk.subarray(0, length)));
    },
  };
}

describe("readInto", () => {
  it("takes a plain socket a server accepted on this Node (the fast path is active), and hands each read over", async () => {
    const { server, client } = await socketPair(cleanups, { allowHalfOpen: true });
    const reads: string[] = [];
    const buffers = new Set<Buffer>();
    expect(readInto(server, (length, buf) => (reads.push(buf.toString("latin1", 0, length)), buffers.add(buf), true))).toBe(true);
    client.write("hello");
    await until(() => reads.length > 0, "a read");
    client.write("world");
    await until(() => reads.join("") === "helloworld", "both reads");
    // No "data" event: the bytes went to the callback, in one buffer shared by every such socket.
    expect([...buffers].map((b) => b.length)).toEqual([64 * 1024]);
  });

  it("leaves other streams, and a socket already set, to read the usual way", async () => {
    expect(readInto(new PassThrough(), () => true)).toBe(false);
    const { server } = await socketPair(cleanups, { allowHalfOpen: true });
    expect(readInto(server, () => true)).toBe(true);
    expect(readInto(server, () => true)).toBe(false);
  });
});

describe("SharedBufferReads", () => {
  it("keeps what arrives while paused, stops the socket at its high-water mark, and hands everything over in order on resume", async () => {
    const { server, client } = await socketPair(cleanups, { allowHalfOpen: true });
    const sink = byteSink();
    const reads = new SharedBufferReads(server, sink);
    expect(readInto(server, (length, buf) => (reads.onRead(buf, length), true))).toBe(true);
    reads.pause();
    // 1 MiB in distinct bytes: what is kept must be copies, not views of the buffer the next read overwrites.
    const sent = Buffer.alloc(1 << 20);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 8)) & 0xff;
    client.write(sent);
    await until(() => server.isPaused(), "the socket to stop at the bound");
    const received = server.bytesRead;
    expect(sink.total()).toBe(0);
    // Kept: at least the high-water mark, and at most one read (64 KiB) beyond it; the rest waits in the kernel.
    expect(received).toBeGreaterThanOrEqual(server.readableHighWaterMark);
    expect(received).toBeLessThan(server.readableHighWaterMark + 64 * 1024 + 1);
    reads.resume();
    await until(() => sink.total() === sent.length, "every byte");
    expect(Buffer.concat(sink.bytes).equals(sent)).toBe(true);
  });

  it("stops handing over kept bytes when one of them pauses reading again, and goes on at the next resume", async () => {
    const { server, client } = await socketPair(cleanups, { allowHalfOpen: true });
    const got: string[] = [];
    let reads: SharedBufferReads | null = null;
    const sink: ChunkSink = {
      push(chunk, length = chunk.length) {
        const s = chunk.toString("latin1", 0, length);
        got.push(s);
        if (s === "b") reads?.pause();
      },
    };
    reads = new SharedBufferReads(server, sink);
    const r = reads;
    readInto(server, (length, buf) => (r.onRead(buf, length), true));
    r.pause();
    for (const part of ["a", "b", "c"]) {
      const before = server.bytesRead;
      client.write(part);
      await until(() => server.bytesRead > before, `'${part}' read`);
    }
    r.resume();
    expect(got).toEqual(["a", "b"]);
    r.resume();
    expect(got).toEqual(["a", "b", "c"]);
  });

  it("an end of stream while bytes are kept takes effect once they are handed over", async () => {
    const { server, client } = await socketPair(cleanups, { allowHalfOpen: true });
    const sink = byteSink();
    const reads = new SharedBufferReads(server, sink);
    readInto(server, (length, buf) => (reads.onRead(buf, length), true));
    let ended = 0;
    server.on("end", () => {
      if (!reads.endAfterHeld(() => ended++)) ended++;
    });
    reads.pause();
    client.end("last words");
    await until(() => server.readableEnded, "the end of stream");
    expect(ended).toBe(0);
    reads.resume();
    expect(Buffer.concat(sink.bytes).toString()).toBe("last words");
    expect(ended).toBe(1);
  });
});

describe("PacketDecoder with borrowed chunks", () => {
  function recorder(): PacketSink & { packets: Packet[] } {
    const packets: Packet[] = [];
    return { packets, onPacket: (p) => (packets.push(p), true), onDecodeError: (e) => { throw e; }, onOversize: () => { throw new Error("oversize"); } };
  }

  it("a PUBLISH keeps its payload, and a packet cut across reads its bytes, after the buffer is overwritten", () => {
    const shared = Buffer.alloc(256);
    const r = recorder();
    const decoder = new PacketDecoder(r, 1 << 20);
    const publish = generate({ cmd: "publish", topic: "t/1", payload: Buffer.from("payload-one"), qos: 1, messageId: 7, retain: false, dup: false });
    const second = generate({ cmd: "publish", topic: "t/2", payload: Buffer.from("payload-two"), qos: 0, retain: false, dup: false });
    const puback = generate({ cmd: "puback", messageId: 9 });
    // Read 1: a whole PUBLISH, a PUBACK and the first 5 bytes of another PUBLISH.
    const one = Buffer.concat([publish, puback, second.subarray(0, 5)]);
    one.copy(shared);
    decoder.push(shared, one.length, true);
    shared.fill(0xee);
    // Read 2: the rest of the second PUBLISH, into the same (overwritten) buffer.
    second.subarray(5).copy(shared);
    decoder.push(shared, second.length - 5, true);
    shared.fill(0xdd);
    expect(r.packets.map((p) => p.cmd)).toEqual(["publish", "puback", "publish"]);
    expect((r.packets[0] as { payload: Buffer }).payload.toString()).toBe("payload-one");
    expect((r.packets[1] as { messageId: number }).messageId).toBe(9);
    expect((r.packets[2] as { topic: string; payload: Buffer }).topic).toBe("t/2");
    expect((r.packets[2] as { payload: Buffer }).payload.toString()).toBe("payload-two");
  });
});

describe("PacketDecoder with borrowed chunks at MQTT 5", () => {
  it("a PUBLISH keeps its payload and binary properties after the buffer is overwritten", () => {
    const shared = Buffer.alloc(256);
    const packets: Packet[] = [];
    const decoder = new PacketDecoder({ onPacket: (p) => (packets.push(p), true), onDecodeError: (e) => { throw e; }, onOversize: () => { throw new Error("oversize"); } }, 1 << 20);
    decoder.setProtocolLevel(5);
    const publish = generate(
      { cmd: "publish", topic: "t/5", payload: Buffer.from("five"), qos: 1, messageId: 3, retain: false, dup: false, properties: { correlationData: Buffer.from("corr"), responseTopic: "r/5" } },
      { protocolVersion: 5 },
    );
    publish.copy(shared);
    decoder.push(shared, publish.length, true);
    shared.fill(0xaa);
    const p = packets[0] as { payload: Buffer; props?: { correlationData?: Buffer; responseTopic?: string } };
    expect(p.payload.toString()).toBe("five");
    expect(p.props?.correlationData?.toString()).toBe("corr");
    expect(p.props?.responseTopic).toBe("r/5");
  });
});

describe("a broker's plain TCP connection", () => {
  let b: TestBroker | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it("a PUBLISH sent while CONNECT is being authenticated, then the end of stream: the PUBLISH is still routed", async () => {
    let release: () => void = () => {};
    let asked = false;
    const allow = createAllowAll();
    const auth: Auth = {
      name: "held",
      connect: async (client, password, signal) => {
        const decision = await allow.connect(client, password, signal);
        if (client.clientId !== "slow") return decision;
        asked = true;
        return new Promise<ConnectDecision>((r) => (release = () => r(decision)));
      },
    };
    b = await startTestBroker({}, auth);
    const sub = await RawClient.connected(b.mqttPort, { clientId: "sub" });
    cleanups.push(() => sub.destroy());
    await sub.subscribe("held/+", 0);
    const slow = await RawClient.open(b.mqttPort);
    cleanups.push(() => slow.destroy());
    slow.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 30, clientId: "slow" } as Packet);
    await until(() => asked, "the CONNECT to be authenticated");
    const before = b.broker.stats.bytesReceived;
    // A read of its own while reading is paused for the CONNECT, then the client's end of stream.
    slow.send({ cmd: "publish", topic: "held/1", payload: Buffer.from("sent before the end"), qos: 0, retain: false, dup: false } as Packet);
    await until(() => b !== undefined && b.broker.stats.bytesReceived > before, "the PUBLISH to be read");
    slow.socket.end();
    await new Promise((r) => setTimeout(r, 50));
    release();
    const got = await sub.expect("publish");
    expect(got.topic).toBe("held/1");
    expect(got.payload.toString()).toBe("sent before the end");
    await slow.waitClosed();
  });
});
