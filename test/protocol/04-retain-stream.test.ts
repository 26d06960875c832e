import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import type { Connection } from "../../broker/connection.js";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

/** Retained delivery at the limits: the slow-consumer bound (broker/retained.ts) and the retained byte budget. */

const HWM = 16_384;
const PAYLOAD = 4096;
const BASE = "a/b/c/d/e/f/g/h";

/** `n` distinct filters that each match every `a/b/c/d/e/f/g/h/<i>`. */
function matchAll(n: number): string[] {
  const levels = BASE.split("/");
  const out: string[] = [];
  for (let mask = 0; out.length < n; mask++) {
    const prefix = levels.map((l, i) => ((mask >> i) & 1 ? "+" : l)).join("/");
    out.push(`${prefix}/+`, `${prefix}/#`);
  }
  return out.slice(0, n);
}

async function retain(c: RawClient, topic: string, payload: Buffer, messageId: number): Promise<void> {
  c.send({ cmd: "publish", topic, payload, qos: 1, retain: true, dup: false, messageId });
  expect((await c.expect("puback")).messageId).toBe(messageId);
}

async function silentClient(port: number, clientId: string): Promise<Socket> {
  const sock = connect({ port, host: "127.0.0.1" });
  sock.on("error", () => {});
  await once(sock, "connect");
  sock.write(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId, clean: true, keepalive: 0 }));
  const [connack] = (await once(sock, "data")) as [Buffer];
  expect([connack[0], connack[3]]).toEqual([0x20, 0]);
  sock.pause();
  return sock;
}

describe("retained delivery under the slow-consumer bound", () => {
  // 400 filters in one SUBSCRIBE: above the default limits.maxFiltersPerPacket (100), raised to test the stream itself.
  const f = useBroker({ limits: { socketHighWaterMark: HWM, maxFiltersPerPacket: 1000 } });

  it("a client that does not read never has more than socketHighWaterMark plus one packet unsent; QoS 0 waits, nothing is dropped", async () => {
    const pub = await f.raw();
    for (let i = 0; i < 50; i++) await retain(pub, `${BASE}/${i}`, Buffer.alloc(PAYLOAD, i), 1 + i);
    const sock = await silentClient(f.b.mqttPort, "slow");
    // 400 distinct filters matching all 50 x 4 KB: 80 MB if nothing held it back, far more than socket and kernel take.
    sock.write(generate({ cmd: "subscribe", messageId: 1, subscriptions: matchAll(400).map((topic) => ({ topic, qos: 0 as const })) }));
    const conn = (): Connection | undefined => [...f.b.broker.connections].find((c) => c.clientId === "slow");
    const packet = PAYLOAD + 2 + 2 + `${BASE}/49`.length + 4;
    let peak = 0;
    const sent0 = f.b.broker.stats.messagesSent;
    const end = Date.now() + 2000;
    while (Date.now() < end) {
      peak = Math.max(peak, conn()?.unsentBytes ?? 0);
      await new Promise((r) => setImmediate(r));
    }
    expect(conn()?.congested).toBe(true); // the bound was reached: the test exercised it
    expect(peak).toBeGreaterThan(HWM / 2);
    expect(peak).toBeLessThanOrEqual(HWM + packet);
    expect(f.b.broker.stats.dropped["slow-consumer"]).toBe(0);
    expect(f.b.broker.stats.messagesSent - sent0).toBeLessThan(400 * 50);

    // Reading again, the client gets messages in order of the lookups: the stream resumed on "drain".
    const parser = createParser({ protocolVersion: 4 });
    let retained = 0;
    parser.on("packet", (p: Packet) => {
      if (p.cmd === "publish" && p.retain) retained++;
    });
    sock.on("data", (chunk: Buffer) => parser.parse(chunk));
    sock.resume();
    const deadline = Date.now() + 20_000;
    while (retained < 400 * 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(retained).toBe(400 * 50);
    expect(f.b.broker.stats.dropped["slow-consumer"]).toBe(0);
    sock.destroy();
  }, 40_000);

  it("UNSUBSCRIBE while retained messages wait for acknowledgements: none of them is offered afterwards", async () => {
    // 50 retained messages (as in the test above), through 400 filters at QoS 1: 20,000 deliveries, so the stream
    // waits once the session holds maxQueued (1,000) unacknowledged messages. The client keeps reading (so its
    // UNSUBSCRIBE is read) but acknowledges nothing until it has unsubscribed.
    const pub = await f.raw();
    for (let i = 0; i < 50; i++) await retain(pub, `${BASE}/${i}`, Buffer.alloc(PAYLOAD, i), 1 + i);
    const filters = matchAll(400);
    const sock = await silentClient(f.b.mqttPort, "leaver");
    const unacked: number[] = [];
    let received = 0;
    let acking = false;
    const parser = createParser({ protocolVersion: 4 });
    parser.on("packet", (p: Packet) => {
      if (p.cmd !== "publish") return;
      received++;
      if (acking) sock.write(generate({ cmd: "puback", messageId: p.messageId as number }));
      else unacked.push(p.messageId as number);
    });
    sock.on("data", (chunk: Buffer) => parser.parse(chunk));
    sock.resume();
    sock.write(generate({ cmd: "subscribe", messageId: 1, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) }));
    const session = (): ReturnType<typeof f.b.broker.sessions.get> => f.b.broker.sessions.get("leaver");
    const until = async (what: string, check: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what} (queued ${session()?.queuedCount}, in flight ${session()?.inflight.size}, received ${received})`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until("the stream to wait for acknowledgements", () => (session()?.queuedCount ?? 0) >= 1000);
    sock.write(generate({ cmd: "unsubscribe", messageId: 2, unsubscriptions: filters }));
    await until("the UNSUBSCRIBE to be handled", () => session()?.subscriptions.size === 0);
    // What was offered before the UNSUBSCRIBE may still arrive (queued, in flight); nothing after it.
    const s = session();
    if (s === undefined) throw new Error("no session");
    const mayStillArrive = received + s.queuedCount + s.inflight.size;
    acking = true;
    for (const id of unacked.splice(0)) sock.write(generate({ cmd: "puback", messageId: id }));
    await until("the queue to drain", () => s.queuedCount === 0 && s.inflight.size === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toBeLessThanOrEqual(mayStillArrive);
    expect(received).toBeLessThan(400 * 50);
    sock.destroy();
  }, 30_000);
});

describe("limits.maxRetainedBytes", () => {
  const f = useBroker({ limits: { maxRetainedBytes: 100 } });

  it("a retained message beyond the byte budget is delivered live but not stored: counted and evented as retained-limit", async () => {
    const dropped: [string | null, string, string][] = [];
    f.b.broker.on("message.dropped", (clientId, msg, reason) => dropped.push([clientId, msg.topic, reason]));
    const pub = await f.raw();
    const live = await f.raw();
    expect(await live.subscribe("bytes/#", 1)).toEqual([1]);
    await retain(pub, "bytes/1", Buffer.alloc(50), 1); // 57 bytes
    expect((await live.expect("publish")).topic).toBe("bytes/1");
    await retain(pub, "bytes/2", Buffer.alloc(50), 2); // 114 > 100
    const second = await live.expect("publish");
    expect([second.topic, second.retain]).toEqual(["bytes/2", false]);
    await f.b.broker.journal.barrier();
    expect(f.b.broker.stats.dropped["retained-limit"]).toBe(1);
    expect(dropped).toEqual([[null, "bytes/2", "retained-limit"]]);
    expect(await f.b.broker.store.getRetained("bytes/2")).toBeNull();
    await retain(pub, "bytes/1", Buffer.alloc(10), 3); // shrinks to 17
    await retain(pub, "bytes/2", Buffer.alloc(50), 4); // 74: fits now
    await f.b.broker.journal.barrier();
    expect(f.b.broker.stats.dropped["retained-limit"]).toBe(1);
    expect(await f.b.broker.store.retainedStats()).toEqual({ count: 2, bytes: 74 });
    const late = await f.raw();
    expect(await late.subscribe("bytes/+", 0)).toEqual([0]);
    const got = [await late.expect("publish"), await late.expect("publish")].map((p) => [p.topic, p.payload.length, p.retain]);
    expect(got).toEqual([["bytes/1", 10, true], ["bytes/2", 50, true]]);
  });
});
