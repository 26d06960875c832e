import type { IPublishPacket } from "mqtt-packet";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DeepPartial, MqgateConfig } from "../../core/config/types.js";
import { connectRedisStore, type RedisStore } from "../../core/store/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import type { RawClient } from "../helpers/raw-client.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { connectRaw, publishPacket, subscribe } from "./support.js";

// The session behaviours of test/protocol/05-session.test.ts on the Redis store, with the broker closed and
// created again on the same Redis between the steps: what a session is made of must come from the store.

describe("sessions on the Redis store across broker restarts", () => {
  let redis: RedisServer;
  let store: RedisStore | null = null;
  let b: TestBroker | null = null;
  const clients: RawClient[] = [];

  /** Closes the running broker (and its store connection) and starts a new one on the same Redis. */
  async function restart(overrides: DeepPartial<MqgateConfig> = {}): Promise<TestBroker> {
    await stop();
    store = await connectRedisStore(redis.url);
    b = await startTestBroker({ nodeId: `session-redis-${Date.now()}`, ...overrides }, undefined, store);
    return b;
  }
  async function stop(): Promise<void> {
    await b?.close();
    await store?.close();
    b = null;
    store = null;
  }
  function broker(): TestBroker {
    if (b === null) throw new Error("no broker running");
    return b;
  }
  async function open(clientId: string, clean: boolean): Promise<{ c: RawClient; present: boolean }> {
    const { c, connack } = await connectRaw(broker().mqttPort, clientId, clean);
    clients.push(c);
    expect(connack.returnCode).toBe(0);
    return { c, present: connack.sessionPresent };
  }
  async function disconnect(c: RawClient): Promise<void> {
    c.send({ cmd: "disconnect" });
    await c.waitClosed();
  }
  /** Publishes from a fresh clean client and waits for the full acknowledgement (durable in the store). */
  async function publish(topic: string, payloads: string[], qosOf: (i: number) => 0 | 1 | 2 = () => 1): Promise<void> {
    const { c } = await open(`pub-${Math.random().toString(36).slice(2, 10)}`, true);
    for (let i = 0; i < payloads.length; i++) {
      const qos = qosOf(i);
      c.send(publishPacket(topic, payloads[i] as string, qos, i + 1));
      if (qos === 1) expect((await c.expect("puback")).messageId).toBe(i + 1);
      if (qos === 2) {
        expect((await c.expect("pubrec")).messageId).toBe(i + 1);
        c.send({ cmd: "pubrel", messageId: i + 1 });
        expect((await c.expect("pubcomp")).messageId).toBe(i + 1);
      }
    }
    await disconnect(c);
  }
  /** Reads `n` PUBLISHes, completing each flow (PUBACK, or PUBREC … PUBREL/PUBCOMP) as packets arrive. */
  async function receive(c: RawClient, n: number): Promise<IPublishPacket[]> {
    const got: IPublishPacket[] = [];
    const open2 = new Set<number>();
    while (got.length < n || open2.size > 0) {
      const p = await c.next(5000);
      if (p.cmd === "publish") {
        got.push(p);
        if (p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId as number });
        if (p.qos === 2) {
          open2.add(p.messageId as number);
          c.send({ cmd: "pubrec", messageId: p.messageId as number });
        }
      } else if (p.cmd === "pubrel") {
        expect(open2.delete(p.messageId as number)).toBe(true);
        c.send({ cmd: "pubcomp", messageId: p.messageId as number });
      } else throw new Error(`unexpected ${p.cmd}`);
    }
    // Every acknowledgement has been handled (and journaled) once PINGRESP comes back.
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
    return got;
  }

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await stop();
    await redis?.stop();
  });

  it("[MQTT-3.1.2-5] [MQTT-4.6.0-6] QoS 1 and 2 messages queued while offline are delivered in order by the next broker, then gone", async () => {
    await restart();
    const first = await open("s-offline", false);
    expect(first.present).toBe(false);
    await subscribe(first.c, "s/offline/#", 2);
    await disconnect(first.c);
    await restart();
    const payloads = Array.from({ length: 10 }, (_, i) => `m${i}`);
    await publish("s/offline/t", payloads, (i) => (i % 2 === 0 ? 1 : 2));
    await publish("s/offline/t", ["qos0-not-kept"], () => 0);
    await restart();
    const { c, present } = await open("s-offline", false);
    expect(present).toBe(true);
    const got = await receive(c, payloads.length);
    expect(got.map((p) => [p.payload.toString(), p.qos, p.dup])).toEqual(payloads.map((m, i) => [m, i % 2 === 0 ? 1 : 2, false]));
    expect(await c.silentFor(200)).toBe(true);
    await disconnect(c);
    await restart();
    const again = await open("s-offline", false);
    expect(again.present).toBe(true);
    expect(await again.c.silentFor(200)).toBe(true);
    expect((await broker().broker.store.getSession("s-offline"))?.outgoing).toEqual([]);
  });

  for (const [policy, expected] of [
    ["oldest", ["3", "4", "5"]],
    ["newest", ["1", "2", "3"]],
  ] as const) {
    it(`maxQueued=3, queueDropPolicy "${policy}": the store keeps ${expected.join(",")} of 5 offline messages across restarts`, async () => {
      const limits = { limits: { maxQueued: 3, queueDropPolicy: policy } };
      await restart(limits);
      const clientId = `s-bounded-${policy}`;
      const first = await open(clientId, false);
      await subscribe(first.c, `s/bounded/${policy}/#`, 1);
      await disconnect(first.c);
      // The next broker knows the session only from the store: the store enforces the bound.
      await restart(limits);
      await publish(`s/bounded/${policy}/t`, ["1", "2", "3", "4", "5"]);
      expect(broker().broker.stats.dropped["queue-full"]).toBe(2);
      expect((await broker().broker.store.getSession(clientId))?.outgoing.map((o) => o.msg.payload.toString())).toEqual(expected);
      await restart(limits);
      const { c, present } = await open(clientId, false);
      expect(present).toBe(true);
      expect((await receive(c, 3)).map((p) => p.payload.toString())).toEqual(expected);
      expect(await c.silentFor(200)).toBe(true);
    });
  }

  it("[MQTT-4.3.3-2] an inbound QoS 2 packet id is remembered across a restart: the DUP re-send is not delivered again; after PUBREL the id is new", async () => {
    await restart();
    const watch1 = await open("s-q2-watch", true);
    await subscribe(watch1.c, "s/q2/#", 2);
    const pub1 = await open("s-q2-pub", false);
    pub1.c.send(publishPacket("s/q2/t", "once", 2, 77));
    expect((await pub1.c.expect("pubrec")).messageId).toBe(77);
    expect((await receive(watch1.c, 1)).map((p) => p.payload.toString())).toEqual(["once"]);
    // No PUBREL before the broker goes away.
    await restart();
    const watch = await open("s-q2-watch", true);
    await subscribe(watch.c, "s/q2/#", 2);
    const { c, present } = await open("s-q2-pub", false);
    expect(present).toBe(true);
    c.send(publishPacket("s/q2/t", "once", 2, 77, { dup: true }));
    expect((await c.expect("pubrec")).messageId).toBe(77);
    c.send({ cmd: "pubrel", messageId: 77 });
    expect((await c.expect("pubcomp")).messageId).toBe(77);
    expect(await watch.c.silentFor(200)).toBe(true);
    // Released, also in the store: after another restart the id starts a new message.
    await restart();
    const watch3 = await open("s-q2-watch", true);
    await subscribe(watch3.c, "s/q2/#", 2);
    const pub3 = await open("s-q2-pub", false);
    expect(pub3.present).toBe(true);
    pub3.c.send(publishPacket("s/q2/t", "new", 2, 77));
    expect((await pub3.c.expect("pubrec")).messageId).toBe(77);
    pub3.c.send({ cmd: "pubrel", messageId: 77 });
    expect((await pub3.c.expect("pubcomp")).messageId).toBe(77);
    expect((await receive(watch3.c, 1)).map((p) => p.payload.toString())).toEqual(["new"]);
  });

  it("[MQTT-3.10.4-1] an unsubscribed filter stays gone after a restart; the other subscription stays", async () => {
    await restart();
    const first = await open("s-unsub", false);
    await subscribe(first.c, "s/unsub/a/#", 1, 1);
    await subscribe(first.c, "s/unsub/b/#", 1, 2);
    first.c.send({ cmd: "unsubscribe", messageId: 3, unsubscriptions: ["s/unsub/a/#"] });
    expect((await first.c.expect("unsuback")).messageId).toBe(3);
    // Restart while the client is still connected.
    await restart();
    expect((await broker().broker.store.getSession("s-unsub"))?.subscriptions).toEqual({ "s/unsub/b/#": 1 });
    expect(new Map(broker().broker.sessions.get("s-unsub")?.subscriptions)).toEqual(new Map([["s/unsub/b/#", 1]]));
    await publish("s/unsub/a/x", ["to-a"]);
    await publish("s/unsub/b/x", ["to-b"]);
    const { c, present } = await open("s-unsub", false);
    expect(present).toBe(true);
    expect((await receive(c, 1)).map((p) => p.payload.toString())).toEqual(["to-b"]);
    expect(await c.silentFor(200)).toBe(true);
  });

  it("[MQTT-3.1.2-6] a clean session left in the store by a killed process is deleted when a broker starts", async () => {
    await stop();
    // What a broker process killed while a clean client was connected leaves behind: a claimed clean session
    // with a subscription, owned by a node that no longer exists.
    const killed = await connectRedisStore(redis.url);
    const claim = await killed.claimSession("s-clean-left", { node: "killed-node", clean: true, username: null, now: Date.now() });
    expect(await killed.updateSubscriptions("s-clean-left", claim.epoch, { "s/clean/#": 1 }, [])).toBe(true);
    await killed.close();

    await restart();
    expect(await broker().broker.store.getSession("s-clean-left")).toBeNull();
    expect(broker().broker.sessions.has("s-clean-left")).toBe(false);
    expect((await broker().broker.store.allSubscriptions()).filter((s) => s.clientId === "s-clean-left")).toEqual([]);
    const { c, present } = await open("s-clean-left", false);
    expect(present).toBe(false);
    await publish("s/clean/t", ["nobody"]);
    expect(await c.silentFor(200)).toBe(true);
  });
});
