import { readFileSync } from "node:fs";
import { register as globalRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import { loadConfig } from "../../core/config/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startBroker } from "../../broker/server.js";
import { startTestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";
import { delta, get, publish, scrape, value, waitFor } from "./support.js";

// Broker metrics on the metrics listener: scraped before and after traffic, the counters move by exactly what the
// traffic caused.

const f = useBroker({ metrics: { host: "127.0.0.1", port: 0 } });

function metricsPort(): number {
  const m = f.b.metrics;
  if (m === null) throw new Error("the fixture broker has no metrics listener");
  return m.port;
}

/** Waits until every connection of earlier tests is gone, so deltas see only this test's traffic. */
async function quiet(): Promise<void> {
  await waitFor("no open connections", async () => value(await scrape(metricsPort()), "mqgate_connections") === 0);
}

describe("GET /metrics", () => {
  it("serves mqgate_* metrics in the Prometheus text format, from its own registry (not prom-client's global one)", async () => {
    const res = await get(metricsPort(), "/metrics");
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const [name, type] of [
      ["mqgate_connections", "gauge"],
      ["mqgate_connections_total", "counter"],
      ["mqgate_connections_refused_total", "counter"],
      ["mqgate_disconnections_total", "counter"],
      ["mqgate_sessions", "gauge"],
      ["mqgate_messages_received_total", "counter"],
      ["mqgate_messages_sent_total", "counter"],
      ["mqgate_messages_dropped_total", "counter"],
      ["mqgate_deliveries_denied_total", "counter"],
      ["mqgate_received_bytes_total", "counter"],
      ["mqgate_sent_bytes_total", "counter"],
      ["mqgate_inflight_messages", "gauge"],
      ["mqgate_queued_messages", "gauge"],
      ["mqgate_subscriptions", "gauge"],
      ["mqgate_retained_messages", "gauge"],
      ["mqgate_retained_bytes", "gauge"],
      ["mqgate_store_call_duration_seconds", "histogram"],
      ["mqgate_store_call_errors_total", "counter"],
      ["mqgate_store_batch_ops_total", "counter"],
      ["mqgate_store_pending_writes", "gauge"],
      ["mqgate_store_up", "gauge"],
      ["mqgate_ready", "gauge"],
      ["mqgate_nodejs_eventloop_lag_seconds", "gauge"],
      ["mqgate_process_cpu_seconds_total", "counter"],
    ]) {
      expect(res.body, name).toContain(`# TYPE ${name} ${type}\n`);
    }
    // Every metric is ours; nothing landed in the global registry.
    for (const line of res.body.split("\n")) if (line.startsWith("# TYPE ")) expect(line).toMatch(/^# TYPE mqgate_/);
    expect((await globalRegistry.getMetricsAsJSON()).filter((m) => m.name.startsWith("mqgate_"))).toEqual([]);
  });

  it("docs/operations.md documents exactly the broker's own metrics (prom-client's process metrics aside)", async () => {
    const doc = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
    const documented = new Set([...doc.matchAll(/^\| `(mqgate_[a-z_]+)` \|/gm)].map((m) => m[1]));
    const body = (await get(metricsPort(), "/metrics")).body;
    const served = new Set([...body.matchAll(/^# TYPE (mqgate_[a-z_]+) /gm)].map((m) => m[1]).filter((n) => !/^mqgate_(process|nodejs)_/.test(n ?? "")));
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it("no label carries a client id, user name or topic", async () => {
    await quiet();
    const c = await f.raw({ clientId: "label-leak-client", username: "label-leak-user" });
    await c.subscribe("label/leak/topic", 1);
    publish(c, "label/leak/topic", "x", 1, 1);
    // Its PUBACK and the message itself (it subscribed to its own topic), in either order.
    expect([(await c.next()).cmd, (await c.next()).cmd].sort()).toEqual(["puback", "publish"]);
    const body = (await get(metricsPort(), "/metrics")).body;
    expect(body).not.toContain("label-leak");
    expect(body).not.toContain("label/leak");
    const labelNames = new Set([...body.matchAll(/[{,]([a-zA-Z_]+)="/g)].map((m) => m[1]));
    // reason, qos, state, operation, limit are ours; the rest come from prom-client's default process metrics.
    for (const name of labelNames) expect(["reason", "qos", "state", "operation", "limit", "le", "quantile", "type", "space", "kind", "version", "major", "minor", "patch"]).toContain(name);
  });

  it("10 QoS 1 publishes to 2 subscribers: received +10 and sent +20 at QoS 1; bytes, connections and sessions move exactly", async () => {
    await quiet();
    const port = metricsPort();
    const before = await scrape(port);
    const subA = await f.raw({ clientId: "ops-sub-a" });
    const subB = await f.raw({ clientId: "ops-sub-b" });
    expect(await subA.subscribe("ops/traffic", 1)).toEqual([1]);
    expect(await subB.subscribe("ops/traffic", 1)).toEqual([1]);
    const pub = await f.raw({ clientId: "ops-pub" });

    const connected = await scrape(port);
    expect(delta(before, connected, "mqgate_connections")).toBe(3);
    expect(delta(before, connected, "mqgate_connections_total")).toBe(3);
    expect(delta(before, connected, "mqgate_sessions", { state: "connected" })).toBe(3);
    expect(delta(before, connected, "mqgate_subscriptions")).toBe(2);
    // Every CONNECT claims its session in the store: one timed claimSession call each.
    expect(delta(before, connected, "mqgate_store_call_duration_seconds_count", { operation: "claimSession" })).toBe(3);

    for (let id = 1; id <= 10; id++) publish(pub, "ops/traffic", `message ${id}`, 1, id);
    for (let id = 1; id <= 10; id++) expect((await pub.expect("puback")).messageId).toBe(id);
    for (const sub of [subA, subB]) {
      for (let i = 1; i <= 10; i++) {
        const p = await sub.expect("publish");
        expect([p.qos, p.payload.toString()]).toEqual([1, `message ${i}`]);
        sub.send({ cmd: "puback", messageId: p.messageId as number });
      }
    }
    const clients = [subA, subB, pub];
    const written = clients.reduce((n, c) => n + c.socket.bytesWritten, 0);
    const read = clients.reduce((n, c) => n + c.socket.bytesRead, 0);
    // The last PUBACKs reach the broker a moment after they were written.
    await waitFor("the subscribers' PUBACKs", async () => delta(before, await scrape(port), "mqgate_received_bytes_total") === written);
    const after = await scrape(port);

    expect(delta(before, after, "mqgate_messages_received_total", { qos: "1" })).toBe(10);
    expect(delta(before, after, "mqgate_messages_received_total", { qos: "0" })).toBe(0);
    expect(delta(before, after, "mqgate_messages_received_total", { qos: "2" })).toBe(0);
    expect(delta(before, after, "mqgate_messages_sent_total", { qos: "1" })).toBe(20);
    expect(delta(before, after, "mqgate_messages_sent_total", { qos: "0" })).toBe(0);
    expect(delta(before, after, "mqgate_messages_sent_total", { qos: "2" })).toBe(0);
    expect(delta(before, after, "mqgate_received_bytes_total")).toBe(written);
    expect(delta(before, after, "mqgate_sent_bytes_total")).toBe(read);
    expect(value(after, "mqgate_inflight_messages")).toBe(0);
    expect(value(after, "mqgate_queued_messages")).toBe(0);
    for (const reason of ["queue-full", "slow-consumer", "not-authorized", "retained-limit", "session-busy"]) {
      expect(delta(before, after, "mqgate_messages_dropped_total", { reason })).toBe(0);
    }
    expect(value(after, "mqgate_store_up")).toBe(1);
    expect(value(after, "mqgate_ready")).toBe(1);

    for (const c of clients) c.destroy();
    await waitFor("the connections to close", async () => value(await scrape(port), "mqgate_connections") === 0);
    const gone = await scrape(port);
    expect(delta(before, gone, "mqgate_connections_total")).toBe(3);
    // The sockets were destroyed without DISCONNECT.
    expect(delta(before, gone, "mqgate_disconnections_total", { reason: "socket-closed" })).toBe(3);
    expect(delta(before, gone, "mqgate_disconnections_total", { reason: "client-disconnect" })).toBe(0);
    expect(delta(before, gone, "mqgate_sessions", { state: "connected" })).toBe(0);
    expect(delta(before, gone, "mqgate_subscriptions")).toBe(0);
  });

  it("in-flight and queued totals: an unacknowledged window and the queue behind it", async () => {
    await quiet();
    const port = metricsPort();
    const sub = await f.raw({ clientId: "ops-slow-sub" });
    await sub.subscribe("ops/window", 1);
    const pub = await f.raw({ clientId: "ops-window-pub" });
    const window = f.b.config.limits.maxInflight;
    const count = window + 5;
    for (let id = 1; id <= count; id++) publish(pub, "ops/window", String(id), 1, id);
    for (let id = 1; id <= count; id++) await pub.expect("puback");
    // The subscriber acknowledges nothing: the window fills, the rest waits in the session's queue.
    for (let i = 0; i < window; i++) await sub.expect("publish");
    const s = await scrape(port);
    expect(value(s, "mqgate_inflight_messages")).toBe(window);
    expect(value(s, "mqgate_queued_messages")).toBe(5);
  });

  it("drops and refusals are counted by reason", async () => {
    await quiet();
    const port = metricsPort();
    const before = await scrape(port);
    // A client may not publish to $SYS: dropped as not-authorized.
    const c = await f.raw();
    publish(c, "$SYS/forbidden", "x", 0);
    // CONNACK 0x01 (protocol name MQIsdp with level 4) and 0x02 (a client id beyond maxClientIdLength).
    const [, level] = await f.connect({ protocolId: "MQIsdp", protocolVersion: 4, clientId: "ops-level" });
    expect(level.returnCode).toBe(1);
    const [, long] = await f.connect({ clientId: "x".repeat(f.b.config.limits.maxClientIdLength + 1) });
    expect(long.returnCode).toBe(2);
    await waitFor("the drop", async () => delta(before, await scrape(port), "mqgate_messages_dropped_total", { reason: "not-authorized" }) === 1);
    const after = await scrape(port);
    expect(delta(before, after, "mqgate_connections_refused_total", { reason: "unacceptable-protocol-version" })).toBe(1);
    expect(delta(before, after, "mqgate_connections_refused_total", { reason: "identifier-rejected" })).toBe(1);
    for (const reason of ["server-unavailable", "bad-username-or-password", "not-authorized", "max-connections"]) {
      expect(delta(before, after, "mqgate_connections_refused_total", { reason })).toBe(0);
    }
    expect(delta(before, after, "mqgate_messages_received_total", { qos: "0" })).toBe(0);
    // A refused CONNECT closes its socket as a protocol error.
    await waitFor("the refused sockets to close", async () => delta(before, await scrape(port), "mqgate_disconnections_total", { reason: "protocol-error" }) === 2);
  });

  it("a socket beyond maxConnections is counted as refused for max-connections", async () => {
    const small = await startTestBroker({ limits: { maxConnections: 1 }, metrics: { host: "127.0.0.1", port: 0 } });
    try {
      const port = small.metrics?.port ?? 0;
      const first = f.track(await RawClient.connected(small.mqttPort));
      const second = await f.open(small.mqttPort);
      await second.waitClosed();
      const s = await scrape(port);
      expect(value(s, "mqgate_connections_refused_total", { reason: "max-connections" })).toBe(1);
      expect(value(s, "mqgate_connections")).toBe(1);
      expect(first.closed).toBe(false);
    } finally {
      await small.close();
    }
  });

  it("store writes are timed once per journal batch, not per message", async () => {
    await quiet();
    const port = metricsPort();
    // A persistent subscriber: each QoS 1 message for it is a store write.
    const sub = await f.raw({ clientId: "ops-persistent-sub", clean: false });
    await sub.subscribe("ops/batch", 1);
    const pub = await f.raw();
    const before = await scrape(port);
    // 20 publishes in one socket write: they are routed in one tick, so their writes share one batch.
    const packets = Array.from({ length: 20 }, (_, i) => i + 1);
    pub.socket.cork();
    for (const id of packets) publish(pub, "ops/batch", String(id), 1, id);
    pub.socket.uncork();
    for (const _ of packets) await pub.expect("puback");
    const after = await scrape(port);
    const batches = delta(before, after, "mqgate_store_call_duration_seconds_count", { operation: "apply" });
    const ops = delta(before, after, "mqgate_store_batch_ops_total");
    expect(ops).toBeGreaterThanOrEqual(20);
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(ops);
    expect(delta(before, after, "mqgate_store_call_errors_total", { operation: "apply" })).toBe(0);
    for (let i = 0; i < 20; i++) sub.send({ cmd: "puback", messageId: (await sub.expect("publish")).messageId as number });
  });
});

describe("the metrics listener's other answers", () => {
  it("unknown paths are 404, other methods 405; HEAD answers without a body", async () => {
    const port = metricsPort();
    expect((await get(port, "/nope")).status).toBe(404);
    expect((await get(port, "/metrics", "POST")).status).toBe(405);
    const head = await get(port, "/readyz", "HEAD");
    expect([head.status, head.body]).toEqual([200, ""]);
  });

  it("with the metrics port off there is no metrics listener and the store is used unwrapped", async () => {
    // MQGATE_METRICS_PORT=0 means off (unlike other port variables).
    const config = await loadConfig({ env: { MQGATE_METRICS_PORT: "0", MQGATE_MQTT_PORT: "0", MQGATE_HOST: "127.0.0.1", MQGATE_LOG_LEVEL: "silent" } });
    expect(config.metrics.port).toBeNull();
    const servers = (): number => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;
    const serversBefore = servers();
    const store = new MemoryStore();
    const running = await startBroker({ ...config, http: { ...config.http, port: null }, ws: { ...config.ws, port: null }, sysIntervalSeconds: 0 }, createAllowAll(), store);
    try {
      expect(running.metrics).toBeNull();
      expect(running.broker.store).toBe(store);
      // One server: MQTT. (The metrics-on fixture broker of this file adds two: MQTT and metrics.)
      expect(servers() - serversBefore).toBe(1);
    } finally {
      await running.close();
    }
  });
});
