import { connect as netConnect, type Socket } from "node:net";
import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import { fullGc } from "../helpers/gc.js";
import { RawClient } from "../helpers/raw-client.js";
import { mulberry32 as prng } from "../helpers/prng.js";

// Malformed input, after Mosquitto's 13-malformed tests and mqtt-packet's testRandom: every bad packet closes
// only the connection it came on, the broker never answers with garbage, and nothing leaks.

type Bytes = number[] | Buffer | string;
const bytes = (b: Bytes): Buffer => (typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b));
const cat = (...parts: Bytes[]): Buffer => Buffer.concat(parts.map(bytes));
/** A packet: first byte, encoded remaining length, body. */
function pkt(first: number, body: Bytes = []): Buffer {
  const b = bytes(body);
  const len: number[] = [];
  let n = b.length;
  do {
    len.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return cat([first], len, b);
}
/** A 2-byte length prefixed string; `len` overrides the declared length. */
function str(s: Bytes, len?: number): Buffer {
  const b = bytes(s);
  const n = len ?? b.length;
  return cat([n >> 8, n & 0xff], b);
}
interface ConnectOpts {
  proto?: string;
  level?: number;
  flags?: number;
  id?: Buffer;
  tail?: Buffer;
}
function connectPkt({ proto = "MQTT", level = 4, flags = 0x02, id = str("bad"), tail = Buffer.alloc(0) }: ConnectOpts = {}): Buffer {
  return pkt(0x10, cat(str(proto), [level, flags, 0, 0], id, tail));
}
const INVALID_UTF8: [string, number[]][] = [
  ["overlong NUL 0xC0 0x80", [0x61, 0xc0, 0x80]],
  ["surrogate 0xED 0xA0 0x80", [0x61, 0xed, 0xa0, 0x80]],
  ["byte 0xFF", [0x61, 0xff]],
  ["truncated sequence 0xE2 0x82", [0xe2, 0x82]],
];

interface Case {
  name: string;
  /** Sent after a valid CONNECT/CONNACK when true, as the first bytes otherwise. */
  afterConnect: boolean;
  bytes: Buffer;
  /** CONNACK return code expected before the close (unsupported protocol level only). */
  connack?: number;
}
const pre = (name: string, bytes: Buffer, connack?: number): Case => ({ name, afterConnect: false, bytes, connack });
const post = (name: string, bytes: Buffer): Case => ({ name, afterConnect: true, bytes });
const PINGREQ = [0xc0, 0x00];

const CASES: Case[] = [
  pre("[MQTT-4.8.0-1] CONNECT with a 5-byte remaining length", cat([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f])),
  post("[MQTT-4.8.0-1] PUBLISH with a 5-byte remaining length", cat([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])),
  pre("[MQTT-4.8.0-1] reserved packet type 0 as first packet", pkt(0x00)),
  post("[MQTT-4.8.0-1] reserved packet type 0", pkt(0x00, [0, 1])),
  post("[MQTT-4.8.0-1] reserved packet type 15", pkt(0xf0)),
  pre("[MQTT-2.2.2-2] CONNECT with reserved header flags 0x1", connectPkt().fill(0x11, 0, 1)),
  pre("[MQTT-3.1.2-3] CONNECT with the reserved connect flag set", connectPkt({ flags: 0x03 })),
  pre("[MQTT-3.1.2-1] CONNECT with protocol name MQTX: no CONNACK", connectPkt({ proto: "MQTX" })),
  pre("[MQTT-3.1.2-2] CONNECT with protocol level 6: CONNACK 0x01", connectPkt({ level: 6 }), 1),
  pre("[MQTT-3.1.2-13] CONNECT with will QoS but no will flag", connectPkt({ flags: 0x0a })),
  pre("[MQTT-3.1.2-15] CONNECT with will retain but no will flag", connectPkt({ flags: 0x22 })),
  pre("[MQTT-3.1.2-19] CONNECT with user name flag and no user name", connectPkt({ flags: 0x82 })),
  pre("[MQTT-4.8.0-1] CONNECT client id length beyond the packet end", connectPkt({ id: str("abc", 10) })),
  pre("[MQTT-4.8.0-1] CONNECT cut inside the keepalive", pkt(0x10, cat(str("MQTT"), [4, 2, 0]))),
  pre("[MQTT-1.5.3-2] CONNECT client id containing U+0000", connectPkt({ id: str([0x61, 0x00, 0x62]) })),
  ...INVALID_UTF8.flatMap(([what, b]) => [
    pre(`[MQTT-1.5.3-1] CONNECT client id with ill-formed UTF-8: ${what}`, connectPkt({ id: str(b) })),
    pre(`[MQTT-1.5.3-1] CONNECT user name with ill-formed UTF-8: ${what}`, connectPkt({ flags: 0x82, tail: str(b) })),
    pre(`[MQTT-1.5.3-1] CONNECT will topic with ill-formed UTF-8: ${what}`, connectPkt({ flags: 0x06, tail: cat(str(b), str("w")) })),
    post(`[MQTT-1.5.3-1] PUBLISH topic with ill-formed UTF-8: ${what}`, pkt(0x30, cat(str(b), "x"))),
    post(`[MQTT-1.5.3-1] SUBSCRIBE filter with ill-formed UTF-8: ${what}`, pkt(0x82, cat([0, 1], str(b), [0]))),
    post(`[MQTT-1.5.3-1] UNSUBSCRIBE filter with ill-formed UTF-8: ${what}`, pkt(0xa2, cat([0, 1], str(b)))),
  ]),
  post("[MQTT-1.5.3-2] PUBLISH topic containing U+0000", pkt(0x30, cat(str([0x61, 0x00]), "x"))),
  post("[MQTT-1.5.3-2] SUBSCRIBE filter containing U+0000", pkt(0x82, cat([0, 1], str([0x61, 0x00]), [0]))),
  post("[MQTT-4.8.0-1] PUBLISH topic length beyond the packet end", cat([0x30, 0x03, 0x00, 0x05, 0x61], PINGREQ)),
  post("[MQTT-4.8.0-1] PUBLISH with remaining length 1", cat([0x30, 0x01, 0x00], PINGREQ)),
  post("[MQTT-4.8.0-1] PUBLISH QoS 1 cut before its packet id", cat(pkt(0x32, str("a")), PINGREQ)),
  post("[MQTT-4.8.0-1] PUBLISH QoS 1 cut before its packet id, nothing following", pkt(0x32, str("a"))),
  post("[MQTT-4.8.0-1] PUBLISH QoS 2 cut inside its packet id", cat(pkt(0x34, cat(str("a"), [0])), PINGREQ)),
  post("[MQTT-3.3.1-4] PUBLISH with QoS 3", pkt(0x36, cat(str("a"), [0, 1]))),
  post("[MQTT-2.3.1-1] PUBLISH QoS 1 with packet id 0", pkt(0x32, cat(str("a"), [0, 0]))),
  post("[MQTT-3.3.2-2] PUBLISH topic with a wildcard", pkt(0x30, cat(str("a/+"), "x"))),
  // The connection remembers the last valid topic name: one that differs from it is checked again.
  post(
    "[MQTT-3.3.2-2] PUBLISH topic with a wildcard after valid ones",
    cat(pkt(0x30, cat(str("a/b"), "x")), pkt(0x30, cat(str("a/b"), "y")), pkt(0x30, cat(str("a/#"), "x"))),
  ),
  post("[MQTT-4.7.3-1] PUBLISH with an empty topic after a valid one", cat(pkt(0x30, cat(str("a"), "x")), pkt(0x30, cat(str(""), "x")))),
  post("[MQTT-4.7.3-1] PUBLISH with an empty topic", pkt(0x30, cat(str(""), "x"))),
  post("[MQTT-3.6.1-1] PUBREL with header flags 0x0", pkt(0x60, [0, 1])),
  post("[MQTT-2.2.2-2] PUBACK with header flags 0x2", pkt(0x42, [0, 1])),
  post("[MQTT-2.2.2-2] PUBREC with header flags 0x1", pkt(0x51, [0, 1])),
  post("[MQTT-2.2.2-2] PUBCOMP with header flags 0x8", pkt(0x78, [0, 1])),
  post("[MQTT-3.8.1-1] SUBSCRIBE with header flags 0x0", pkt(0x80, cat([0, 1], str("a"), [0]))),
  post("[MQTT-3.10.1-1] UNSUBSCRIBE with header flags 0x0", pkt(0xa0, cat([0, 1], str("a")))),
  post("[MQTT-2.2.2-2] PINGREQ with header flags 0x1", pkt(0xc1)),
  post("[MQTT-2.2.2-2] DISCONNECT with header flags 0x2", pkt(0xe2)),
  post("[MQTT-4.8.0-1] PUBREL with remaining length 0", cat(pkt(0x62), PINGREQ)),
  post("[MQTT-4.8.0-1] PUBREL with remaining length 0, nothing following", pkt(0x62)),
  post("[MQTT-4.8.0-1] PUBACK with remaining length 3", pkt(0x40, [0, 1, 0])),
  post("[MQTT-4.8.0-1] PUBREC with remaining length 1", cat(pkt(0x50, [0]), PINGREQ)),
  post("[MQTT-4.8.0-1] PUBCOMP with remaining length 4", pkt(0x70, [0, 1, 0, 2])),
  post("[MQTT-4.8.0-1] PINGREQ with remaining length 1", pkt(0xc0, [0])),
  post("[MQTT-3.8.3-3] SUBSCRIBE with no topic filter", pkt(0x82, [0, 1])),
  post("[MQTT-3-8.3-4] SUBSCRIBE requesting QoS 3", pkt(0x82, cat([0, 1], str("a"), [3]))),
  post("[MQTT-3-8.3-4] SUBSCRIBE with reserved option bits set", pkt(0x82, cat([0, 1], str("a"), [0x04]))),
  post("[MQTT-4.8.0-1] SUBSCRIBE filter without its QoS byte", pkt(0x82, cat([0, 1], str("a")))),
  post("[MQTT-4.8.0-1] SUBSCRIBE filter length beyond the packet end", pkt(0x82, cat([0, 1], str("ab", 9), [0]))),
  post("[MQTT-3.10.3-2] UNSUBSCRIBE with no topic filter", pkt(0xa2, [0, 1])),
  post("[MQTT-4.8.0-1] client sends CONNACK", pkt(0x20, [0, 0])),
  post("[MQTT-4.8.0-1] client sends SUBACK", pkt(0x90, [0, 1, 0])),
  post("[MQTT-4.8.0-1] client sends PINGRESP", pkt(0xd0)),
  post("[MQTT-3.1.0-2] second CONNECT", connectPkt({ id: str("again") })),
  pre("[MQTT-3.1.0-1] PINGREQ before CONNECT", pkt(0xc0)),
];

/** Reads everything the broker sends on a socket; any unparsable byte is a failure. */
function watch(socket: Socket): { packets: Packet[]; errors: Error[]; closed: Promise<void> } {
  const packets: Packet[] = [];
  const errors: Error[] = [];
  const parser = createParser({ protocolVersion: 4 });
  parser.on("packet", (p: Packet) => packets.push(p));
  parser.on("error", (e: Error) => errors.push(e));
  socket.on("data", (chunk) => parser.parse(chunk));
  socket.on("error", () => {});
  return { packets, errors, closed: new Promise((resolve) => socket.once("close", () => resolve())) };
}
function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: "127.0.0.1" }, () => resolve(s));
    s.once("error", reject);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
const CONNECT_OK = (id: string) => generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: id });

describe("malformed packets close only their own connection", () => {
  const f = useBroker();
  let sentinel: RawClient;
  let nextId = 1;
  beforeAll(async () => {
    sentinel = await RawClient.connected(f.b.mqttPort, { clientId: "sentinel" });
    expect(await sentinel.subscribe("sentinel/echo", 1)).toEqual([1]);
  });
  afterAll(() => {
    sentinel?.destroy();
  });

  /** The healthy client, connected before every attack, still completes a QoS 1 round trip. */
  async function sentinelRoundTrip(): Promise<void> {
    const id = (nextId = (nextId % 60000) + 1);
    sentinel.send({ cmd: "publish", topic: "sentinel/echo", payload: Buffer.from(`ping ${id}`), qos: 1, messageId: id, retain: false, dup: false });
    const got = [await sentinel.next(), await sentinel.next()];
    const ack = got.find((p) => p.cmd === "puback");
    const echo = got.find((p) => p.cmd === "publish");
    expect(ack?.messageId).toBe(id);
    expect(echo?.cmd === "publish" && echo.payload.toString()).toBe(`ping ${id}`);
    if (echo?.cmd === "publish") sentinel.send({ cmd: "puback", messageId: echo.messageId as number });
    expect(sentinel.closed).toBe(false);
  }

  for (const c of CASES) {
    it(`${c.name}: closes that connection${c.connack === undefined ? " without answering" : ` after CONNACK ${c.connack}`}`, async () => {
      const raw = c.afterConnect ? await f.raw() : await f.open();
      raw.sendBytes(c.bytes);
      await raw.waitClosed(3000);
      expect(raw.parseError).toBeNull();
      if (c.connack === undefined) {
        expect(raw.buffered).toEqual([]);
      } else {
        expect(raw.buffered.map((p) => p.cmd === "connack" && p.returnCode)).toEqual([c.connack]);
      }
      await sentinelRoundTrip();
    });
  }

  it("[MQTT-4.8.0-1] a DISCONNECT with a non-zero remaining length is a protocol violation: the will is published", async () => {
    const watcher = await f.raw();
    await watcher.subscribe("will/bad-disconnect", 0);
    const raw = await f.raw({ will: { topic: "will/bad-disconnect", payload: Buffer.from("gone"), qos: 0, retain: false } });
    raw.sendBytes(pkt(0xe0, [0]));
    await raw.waitClosed();
    const will = await watcher.expect("publish");
    expect(will.payload.toString()).toBe("gone");
    watcher.destroy();
  });

  it("[MQTT-1.5.3-3] U+FEFF (0xEF 0xBB 0xBF) in a topic is kept, not stripped", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe([["\uFEFFbom", 0], ["bom", 0]])).toEqual([0, 0]);
    sub.sendBytes(pkt(0x30, cat(str([0xef, 0xbb, 0xbf, 0x62, 0x6f, 0x6d]), "x")));
    const msg = await sub.expect("publish");
    expect(Buffer.from(msg.topic)).toEqual(Buffer.from([0xef, 0xbb, 0xbf, 0x62, 0x6f, 0x6d]));
    expect(await sub.silentFor(100)).toBe(true);
    sub.destroy();
  });
});

// --- fuzzing ----------------------------------------------------------------------------------------------

const TEMPLATES: Packet[] = [
  { cmd: "publish", topic: "fuzz/a", payload: Buffer.from("hello"), qos: 0, retain: false, dup: false },
  { cmd: "publish", topic: "fuzz/b/c", payload: Buffer.from("x".repeat(40)), qos: 1, messageId: 7, retain: false, dup: false },
  { cmd: "publish", topic: "fuzz/é", payload: Buffer.alloc(3), qos: 2, messageId: 300, retain: false, dup: false },
  { cmd: "subscribe", messageId: 2, subscriptions: [{ topic: "fuzz/#", qos: 2 }, { topic: "fuzz/+/c", qos: 1 }] },
  { cmd: "unsubscribe", messageId: 3, unsubscriptions: ["fuzz/#"] },
  { cmd: "puback", messageId: 1 },
  { cmd: "pubrec", messageId: 1 },
  { cmd: "pubrel", messageId: 300 },
  { cmd: "pubcomp", messageId: 1 },
  { cmd: "pingreq" },
  { cmd: "disconnect" },
];

function mutate(rand: () => number, input: Buffer): Buffer {
  const buf = Buffer.from(input);
  const pick = (n: number) => Math.floor(rand() * n);
  switch (pick(6)) {
    case 0: // flip 1-3 bits
      for (let i = 0, n = 1 + pick(3); i < n; i++) buf[pick(buf.length)]! ^= 1 << pick(8);
      return buf;
    case 1: // truncate
      return buf.subarray(0, pick(buf.length));
    case 2: // overwrite random bytes
      for (let i = 0, n = 1 + pick(4); i < n; i++) buf[pick(buf.length)] = pick(256);
      return buf;
    case 3: // random remaining length
      buf[1] = pick(256);
      return buf;
    case 4: // random first byte
      buf[0] = pick(256);
      return buf;
    default: // random bytes appended
      return cat(buf, Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256))));
  }
}

describe("fuzzing and leaks", () => {
  // Thousands of connections from 127.0.0.1 within seconds: the per-address rate limit (decision 010, tested in
  // test/security/auth-storm.test.ts) is off so that what is measured here is the broker's clean-up.
  const f = useBroker({ limits: { maxPacketSize: 4096, connectionRatePerAddress: 0 } });
  let sentinel: RawClient;
  beforeAll(async () => {
    sentinel = await RawClient.connected(f.b.mqttPort, { clientId: "fuzz-sentinel" });
    await sentinel.subscribe("sentinel/echo", 1);
  });
  afterAll(() => {
    sentinel?.destroy();
  });
  let mid = 0;
  async function sentinelRoundTrip(): Promise<void> {
    mid = (mid % 60000) + 1;
    sentinel.send({ cmd: "publish", topic: "sentinel/echo", payload: Buffer.from(String(mid)), qos: 1, messageId: mid, retain: false, dup: false });
    const cmds = [await sentinel.next(), await sentinel.next()];
    expect(cmds.map((p) => p.cmd).sort()).toEqual(["puback", "publish"]);
    const echo = cmds.find((p) => p.cmd === "publish");
    if (echo?.cmd === "publish") sentinel.send({ cmd: "puback", messageId: echo.messageId as number });
  }

  it("[MQTT-4.8.0-1] 300 seeded random mutations of valid packets: no crash, no garbage, no leaked connection", async () => {
    // Fixed seed; FUZZ_SEED=<n> replays or explores another sequence.
    const seed = Number(process.env.FUZZ_SEED ?? 0x5eed13);
    const rand = prng(seed);
    const baseConnections = f.b.broker.connections.size;
    const baseSessions = f.b.broker.sessions.size;
    const errors: string[] = [];
    let answered = 0;
    const ITERATIONS = 300;
    const BATCH = 15;
    for (let start = 0; start < ITERATIONS; start += BATCH) {
      const batch = [];
      for (let i = start; i < Math.min(start + BATCH, ITERATIONS); i++) {
        // Draw every random number of this iteration up front so the sequence does not depend on timing.
        const parts: Buffer[] = [];
        for (let k = 0, n = 1 + Math.floor(rand() * 5); k < n; k++) {
          const template = generate(TEMPLATES[Math.floor(rand() * TEMPLATES.length)]!);
          parts.push(rand() < 0.8 ? mutate(rand, template) : template);
        }
        const split = rand() < 0.5;
        batch.push(
          (async () => {
            const socket = await openSocket(f.b.mqttPort);
            const w = watch(socket);
            socket.write(CONNECT_OK(`fuzz-${i}`));
            await until("CONNACK", () => w.packets.length > 0);
            if (split) for (const p of parts) socket.write(p);
            else socket.write(Buffer.concat(parts));
            await Promise.race([w.closed, sleep(40)]);
            socket.destroy();
            await w.closed;
            answered += w.packets.length;
            for (const e of w.errors) errors.push(`seed ${seed} iteration ${i}: broker sent unparsable bytes: ${e.message}`);
          })(),
        );
      }
      await Promise.all(batch);
      await sentinelRoundTrip();
    }
    expect(errors).toEqual([]);
    expect(answered).toBeGreaterThan(ITERATIONS); // at least every CONNACK: the fuzz reached the broker
    await until("fuzz connections to be released", () => f.b.broker.connections.size === baseConnections);
    expect(f.b.broker.sessions.size).toBe(baseSessions);
    await sentinelRoundTrip();
  });

  it("2000 connect + garbage + close cycles: connections and sessions return to baseline, heap growth bounded", async () => {
    const baseConnections = f.b.broker.connections.size;
    const baseSessions = f.b.broker.sessions.size;
    const garbage = [
      Buffer.from([0x00, 0x00]),
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]),
      pkt(0x30, cat(str([0xc0, 0x80]), "x")),
      pkt(0x82, [0, 1]),
      Buffer.from([0xf0, 0x00]),
    ];
    const cycle = async (i: number) => {
      const socket = await openSocket(f.b.mqttPort);
      const w = watch(socket);
      socket.write(CONNECT_OK(`leak-${i}`));
      await until("CONNACK", () => w.packets.length > 0);
      socket.write(garbage[i % garbage.length]!);
      await Promise.race([w.closed, sleep(2000)]);
      socket.destroy();
      await w.closed;
      expect(w.errors).toEqual([]);
      expect(w.packets.map((p) => p.cmd)).toEqual(["connack"]);
    };
    const run = async (from: number, count: number) => {
      for (let i = from; i < from + count; i += 25) await Promise.all(Array.from({ length: 25 }, (_, k) => cycle(i + k)));
    };
    await run(0, 100); // warm-up
    await until("warm-up connections to close", () => f.b.broker.connections.size === baseConnections);
    // Measured after a full collection each time: the bound is about what stays alive (a leak), not about garbage
    // the collector has not reached yet (Node 24's young generation holds more of it than Node 20's).
    fullGc();
    const heapBefore = process.memoryUsage().heapUsed;
    await run(100, 2000);
    await until("connections to be released", () => f.b.broker.connections.size === baseConnections);
    expect(f.b.broker.sessions.size).toBe(baseSessions);
    fullGc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(growth).toBeLessThan(50 * 1024 * 1024);
    await sentinelRoundTrip();
  });
});
