import type { IPublishPacket } from "mqtt-packet";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { RawClient } from "../helpers/raw-client.js";
import { until } from "./support.js";

/**
 * SIGTERM of a cluster node whose clients hold unacknowledged QoS 1 messages (issue 8): the node exits by itself
 * within its drain time, hands its sessions back and deletes its queue; the clients reconnect to another node and
 * receive every message, the ones they never acknowledged first (DUP), then what was published meanwhile.
 */

const DRAIN_MS = 8000;
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 2, env: { MQGATE_DRAIN_MS: String(DRAIN_MS) } });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);


describe("graceful shutdown of a cluster node", () => {
  it("SIGTERM: the node exits within the drain time and its persistent clients get every message on another node", async () => {
    const [keep, leave] = cluster.nodes as [LocalCluster["nodes"][number], LocalCluster["nodes"][number]];
    const ids = ["drain-a", "drain-b", "drain-c"];
    const subs: RawClient[] = [];
    const received = new Map<string, IPublishPacket[]>(ids.map((id) => [id, []]));
    for (const id of ids) {
      const c = await RawClient.open(leave.mqttPort);
      const connack = await c.connect({ clientId: id, clean: false, keepalive: 0 });
      expect(connack.returnCode).toBe(0);
      await c.subscribe("drain/#", 1);
      subs.push(c);
    }
    const pub = await mqtt.connectAsync({ host: "127.0.0.1", port: keep.mqttPort, clientId: "drain-pub", reconnectPeriod: 0 });
    // Wait until the publisher's node routes to all three (their subscriptions reached it through SQS).
    const probeSeen = new Set<string>();
    const readProbes = async (): Promise<void> => {
      for (const [i, c] of subs.entries()) {
        for (;;) {
          let p;
          try {
            p = await c.next(20);
          } catch {
            break;
          }
          if (p.cmd === "publish") {
            const id = ids[i] as string;
            if (p.topic === "drain/probe") {
              probeSeen.add(id);
              c.send({ cmd: "puback", messageId: p.messageId as number });
            } else received.get(id)?.push(p);
          }
        }
      }
    };
    for (let i = 0; i < 100 && probeSeen.size < ids.length; i++) {
      await pub.publishAsync("drain/probe", "p", { qos: 1 });
      await readProbes();
    }
    expect(probeSeen.size).toBe(ids.length);

    // Unacknowledged: the subscribers read but never PUBACK.
    const N = 20;
    for (let i = 0; i < N; i++) await pub.publishAsync("drain/m", String(i), { qos: 1 });
    await until("every subscriber to hold the messages in flight", async () => {
      await readProbes();
      return ids.every((id) => (received.get(id)?.length ?? 0) >= Math.min(N, 16));
    });

    const started = Date.now();
    leave.child.kill("SIGTERM");
    const code = await leave.exited;
    const took = Date.now() - started;
    console.log(`node ${leave.nodeId} exited with ${code} ${took} ms after SIGTERM (drain ${DRAIN_MS} ms)`);
    expect(code).toBe(0);
    for (const c of subs) expect(c.closed).toBe(true);

    // Published while those clients are away: queued in the store for their sessions.
    for (let i = N; i < N + 5; i++) await pub.publishAsync("drain/m", String(i), { qos: 1 });

    const nodes = await fetch(`http://127.0.0.1:${keep.httpPort}/v1/nodes`, { headers: { authorization: `Bearer ${cluster.apiKey}` } });
    expect(((await nodes.json()) as { items: { nodeId: string }[] }).items.map((n) => n.nodeId)).toEqual([keep.nodeId]);

    for (const id of ids) {
      const c = await RawClient.open(keep.mqttPort);
      const connack = await c.connect({ clientId: id, clean: false, keepalive: 0 });
      expect(connack.sessionPresent).toBe(true);
      const got: number[] = [];
      const dups: boolean[] = [];
      while (got.length < N + 5) {
        const p = await c.next(15_000);
        if (p.cmd !== "publish" || p.topic !== "drain/m") continue;
        got.push(Number(p.payload.toString()));
        dups.push(p.dup);
        c.send({ cmd: "puback", messageId: p.messageId as number });
      }
      // Every message once, in publish order; the ones sent before the shutdown come again with DUP=1.
      expect(got).toEqual(Array.from({ length: N + 5 }, (_, i) => i));
      const before = received.get(id)?.length ?? 0;
      expect(dups.slice(0, before).every(Boolean)).toBe(true);
      expect(await c.silentFor(300)).toBe(true);
      c.destroy();
    }
    await pub.endAsync();
  }, 120_000);
});
