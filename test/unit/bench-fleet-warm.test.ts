import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BenchClient } from "../../bench/client.js";
import { WARM_DEVICES, WARM_MESSAGES_PER_DEVICE, warmMessagePath } from "../../bench/fleet-warm.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";

// The fleet scenario's warm-up of the message path (decision 061), against a real broker in this process.
describe("fleet warm-up of the message path", () => {
  let broker: TestBroker;
  const clients: BenchClient[] = [];
  beforeAll(async () => {
    broker = await startTestBroker({ limits: { maxConnectionsPerAddress: 30 } });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await broker.close();
  });

  const base = () => ({ host: "127.0.0.1", port: broker.mqttPort, timeoutMs: 5000, ackPerPacket: true });

  it("sends every device's QoS 1 messages through the broker, one at a time each, then disconnects every warm-up client", async () => {
    const watcher = await BenchClient.open({ ...base(), clientId: "warm-watcher", clean: true, keepalive: 0 });
    clients.push(watcher);
    expect(await watcher.subscribe("fleet-warm/+/up", 1)).toBe(1);
    const seen = new Map<number, number[]>();
    watcher.onMessage = (device, seq) => {
      const list = seen.get(device) ?? [];
      list.push(seq);
      seen.set(device, list);
    };
    await warmMessagePath(base(), 30, 64);
    const total = WARM_DEVICES * WARM_MESSAGES_PER_DEVICE;
    await until(() => [...seen.values()].reduce((n, l) => n + l.length, 0) === total, "the watcher to see every warm-up message");
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: WARM_DEVICES }, (_, d) => d));
    for (const list of seen.values()) expect(list).toEqual(Array.from({ length: WARM_MESSAGES_PER_DEVICE }, (_, k) => k));
    // Only the watcher is left connected.
    await until(() => broker.broker.connections.size === 1, "the warm-up clients to disconnect");
  });

  it("fails with what went wrong when the broker refuses a warm-up device, and leaves no client behind", async () => {
    const blockers: BenchClient[] = [];
    for (let i = 0; i < 25; i++) blockers.push(await BenchClient.open({ ...base(), clientId: `blocker-${i}`, clean: true, keepalive: 0 }));
    clients.push(...blockers);
    // 25 + the warm-up backend + 4 devices reach the 30 connections allowed per address: the fifth device is refused.
    const err = await warmMessagePath(base(), 30, 64).then(() => null, (e: Error) => e);
    expect(err?.message).toBe("warm-up device 4: connection closed by the broker");
    await until(() => broker.broker.connections.size === 25, "the warm-up clients to disconnect");
  });
});
