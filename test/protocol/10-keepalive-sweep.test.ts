import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../broker/connection.js";
import { SWEEP_INTERVAL_MS, TICK_MS } from "../../broker/keepalive-sweep.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";

/**
 * Keepalive through the broker's sweep (decision 033), on a clock the test drives: real sockets and packets, but the
 * sweep's time is the test's, so the assertions are about 1.5 × keepalive in that time, not about wall-clock waits.
 * The documented bound: a silent client is closed no earlier than 1.5 × keepalive after its last packet and at most
 * 2 sweep intervals + 2 ticks later.
 */
const LATE_BOUND_MS = 2 * SWEEP_INTERVAL_MS + 2 * TICK_MS;

describe("keepalive sweep (MQTT 3.1.1 and 5.0, driven clock, limits.maxKeepaliveSeconds = 20)", () => {
  let b: TestBroker;
  let clockMs = 0;
  const clients: RawClient[] = [];

  beforeAll(async () => {
    b = await startTestBroker({ limits: { maxKeepaliveSeconds: 20 } }, undefined, undefined, { keepaliveClock: () => clockMs });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await b.close();
  });

  /** Moves the driven clock to `ms`, one sweep per interval as the broker's timer does, and one at `ms`. */
  function runTo(ms: number): void {
    while (clockMs + SWEEP_INTERVAL_MS < ms) {
      clockMs += SWEEP_INTERVAL_MS;
      b.broker.keepalives.sweep();
    }
    clockMs = ms;
    b.broker.keepalives.sweep();
  }

  /** The broker's connection of `clientId`, if it is still open. */
  function open(clientId: string): Connection | undefined {
    return [...b.broker.connections].find((c) => c.clientId === clientId && !c.isClosed);
  }

  async function client(fields: Record<string, unknown>, version: 4 | 5 = 4): Promise<RawClient> {
    const c = await RawClient.open(b.mqttPort, "127.0.0.1", undefined, version);
    clients.push(c);
    const connack = await c.connect(fields);
    expect(version === 4 ? connack.returnCode : connack.reasonCode).toBe(0);
    return c;
  }

  it("[MQTT-3.1.2-24] closes a 3.1.1 client silent for 1.5 x keepalive after its last packet, not before, and publishes its will", async () => {
    clockMs = 1_000_000;
    const start = clockMs;
    const w = await client({ clientId: "ks-watch", keepalive: 0 });
    await w.subscribe("ks/will", 0);
    const c = await client({ clientId: "ks-silent", keepalive: 10, will: { topic: "ks/will", payload: Buffer.from("silent"), qos: 0, retain: false } });
    // The last packet comes between two sweeps.
    runTo(start + 7_300);
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
    const last = clockMs;
    // A sweep right after the packet anchors it at its own time: the tightest case for "not before".
    b.broker.keepalives.sweep();
    runTo(last + 15_000 - 1);
    expect(open("ks-silent"), "closed before 1.5 x keepalive").toBeDefined();
    runTo(last + 15_000 + LATE_BOUND_MS);
    expect(open("ks-silent"), "still open after 1.5 x keepalive + the bound").toBeUndefined();
    await c.waitClosed();
    expect(Buffer.from((await w.expect("publish")).payload).toString()).toBe("silent");
  });

  it("[MQTT-3.1.2-23] any control packet (PUBLISH QoS 0, PINGREQ) resets it: a client that talks every keepalive stays", async () => {
    clockMs = 2_000_000;
    const c = await client({ clientId: "ks-talks", keepalive: 10 });
    for (let i = 0; i < 10; i++) {
      runTo(clockMs + 10_000);
      if (i % 2 === 0) c.send({ cmd: "publish", topic: "ks/traffic", payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
      c.send({ cmd: "pingreq" });
      await c.expect("pingresp");
    }
    runTo(clockMs + 14_000);
    expect(open("ks-talks")).toBeDefined();
    expect(c.closed).toBe(false);
  });

  it("MQTT 5.0 (3.1.2.10, 3.2.2.3.14): a client given Server Keep Alive 20 (it asked for 0) and then silent gets DISCONNECT 0x8D", async () => {
    clockMs = 3_000_000;
    const start = clockMs;
    const c = await RawClient.open(b.mqttPort, "127.0.0.1", undefined, 5);
    clients.push(c);
    const connack = await c.connect({ clientId: "ks-v5", keepalive: 0 });
    expect(connack.properties?.serverKeepAlive).toBe(20);
    runTo(start + 30_000 - 1);
    expect(open("ks-v5")).toBeDefined();
    runTo(start + 30_000 + LATE_BOUND_MS);
    expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x8d });
    await c.waitClosed();
  });

  it("an MQTT 5 client that keeps to its own keep alive (5 s) stays; silent, it is closed by its own, not the server's", async () => {
    clockMs = 4_000_000;
    const c = await client({ clientId: "ks-v5-own", keepalive: 5 }, 5);
    for (let i = 0; i < 4; i++) {
      runTo(clockMs + 5_000);
      c.send({ cmd: "pingreq" });
      await c.expect("pingresp");
    }
    const last = clockMs;
    runTo(last + 7_500 - 1);
    expect(open("ks-v5-own")).toBeDefined();
    runTo(last + 7_500 + LATE_BOUND_MS);
    expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x8d });
  });

  it("the sweep stops once no connection has a keepalive, and starts again with the next one", async () => {
    // The earlier tests' sockets were destroyed; wait until the broker has seen them go.
    while (b.broker.connections.size > 0) await new Promise((r) => setTimeout(r, 10));
    runTo(clockMs + SWEEP_INTERVAL_MS);
    expect(b.broker.keepalives.running).toBe(false);
    await client({ clientId: "ks-again", keepalive: 10 });
    expect(b.broker.keepalives.running).toBe(true);
  });
});
