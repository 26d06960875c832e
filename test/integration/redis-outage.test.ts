import type { Packet } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedisStore, type RedisStore } from "../../core/store/index.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import type { RawClient } from "../helpers/raw-client.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { connectRaw, firstDisorder, publishPacket, pump, sleep, Subscriber, subscribe, waitFor } from "./support.js";

// A Redis outage under load: an in-process broker on a persistent redis-server (AOF, fsync always) while a QoS 1
// publisher streams to a persistent subscriber. Redis is SIGKILLed and later restarted on the same port and data
// directory. While it is down the broker keeps its connections and QoS 0 traffic, withholds PUBACKs and refuses
// new persistent sessions with 0x03; once it is back the broker recovers by itself and nothing acknowledged is lost.

describe("Redis outage: the broker degrades, withholds acknowledgements, and recovers by itself", () => {
  let redis: RedisServer;
  let store: RedisStore;
  let b: TestBroker;
  const clients: RawClient[] = [];
  const open = async (clientId: string, clean: boolean) => {
    const r = await connectRaw(b.mqttPort, clientId, clean);
    clients.push(r.c);
    return r;
  };

  const sub = new Subscriber(() => "ack");
  let pub: RawClient;
  const acked = new Set<number>();
  const ackOrder: number[] = [];
  const pings: number[] = [];
  let sent = 0;
  let streaming = true;
  let streamDone: Promise<void> = Promise.resolve();
  let sentAtCrash = 0;
  let q0sub: RawClient;
  let q0pub: RawClient;

  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    store = await connectRedisStore(redis.url);
    b = await startTestBroker({}, undefined, store);
    const s = await open("outage-sub", false);
    expect(s.connack.returnCode).toBe(0);
    await subscribe(s.c, "outage/#", 1);
    sub.attach(s.c, 0);
    q0sub = (await open("outage-q0-sub", true)).c;
    await subscribe(q0sub, "outage-q0/#", 0);
    q0pub = (await open("outage-q0-pub", true)).c;
    pub = (await open("outage-pub", true)).c;
    pump(pub, (p: Packet) => {
      if (p.cmd === "puback") {
        acked.add(p.messageId as number);
        ackOrder.push(p.messageId as number);
      }
      if (p.cmd === "pingresp") pings.push(Date.now());
    });
    // One QoS 1 message every few milliseconds, without waiting for PUBACKs, until told to stop.
    streamDone = (async () => {
      while (streaming && !pub.closed) {
        sent++;
        pub.send(publishPacket("outage/t", String(sent), 1, sent));
        await sleep(3);
      }
    })();
    await waitFor("PUBACKs before the outage", () => acked.size >= 30);
    await redis.crash();
    sentAtCrash = sent;
  });

  afterAll(async () => {
    streaming = false;
    await streamDone;
    for (const c of clients) c.destroy();
    await b?.close();
    await store?.close();
    await redis?.stop();
  });

  describe("while Redis is down", () => {
    it("QoS 1 PUBACKs are withheld for messages published after the crash", async () => {
      await waitFor("more publishes during the outage", () => sent >= sentAtCrash + 40);
      streaming = false;
      await streamDone;
      await sleep(1000);
      expect([...acked].filter((seq) => seq > sentAtCrash)).toEqual([]);
      // Nor are they sent to the subscriber: an outgoing QoS 1 message goes out only once it is durable.
      expect(sub.receipts.filter((r) => r.seq > sentAtCrash)).toEqual([]);
      expect(pub.closed).toBe(false);
    });

    it("existing connections stay open: PINGREQ gets PINGRESP", async () => {
      const before = pings.length;
      pub.send({ cmd: "pingreq" });
      await waitFor("PINGRESP", () => pings.length > before, 5000);
      sub.c?.send({ cmd: "pingreq" });
      await waitFor("PINGRESP to the subscriber", () => sub.log.some((e) => e.cmd === "pingresp"), 5000);
      expect(sub.c?.closed).toBe(false);
    });

    it("QoS 0 between clean sessions still flows", async () => {
      q0pub.send(publishPacket("outage-q0/t", "still-here", 0));
      const p = await q0sub.expect("publish", 5000);
      expect([p.payload.toString(), p.qos]).toEqual(["still-here", 0]);
    });

    it("[MQTT-3.2.2-5] a new persistent CONNECT (clean=0) gets CONNACK 0x03, server unavailable", async () => {
      const { c, connack } = await open("outage-new-persistent", false);
      expect(connack.returnCode).toBe(3);
      expect(connack.sessionPresent).toBe(false);
      await c.waitClosed(5000);
    });

    it("a new clean CONNECT succeeds, and QoS 0 reaches it", async () => {
      const { c, connack } = await open("outage-new-clean", true);
      expect(connack.returnCode).toBe(0);
      await subscribe(c, "outage-q0/#", 0);
      q0pub.send(publishPacket("outage-q0/t", "to-the-new-one", 0));
      expect((await c.expect("publish", 5000)).payload.toString()).toBe("to-the-new-one");
      expect((await q0sub.expect("publish", 5000)).payload.toString()).toBe("to-the-new-one");
    });
  });

  describe("after Redis restarts on the same port and data", () => {
    beforeAll(async () => {
      streaming = false;
      await streamDone;
      await redis.restart();
    });

    it("[MQTT-4.6.0-2] the withheld PUBACKs arrive, in order: every message sent is acknowledged, on the same connection", async () => {
      await waitFor("every PUBACK", () => acked.size === sent, 30_000, () => `acked ${acked.size} of ${sent}`);
      // In the order the PUBLISHes were sent [MQTT-4.6.0-2], each once.
      expect(ackOrder).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
      expect(pub.closed).toBe(false);
    });

    it("every acknowledged message reaches the persistent subscriber, in publish order", async () => {
      await waitFor("every acknowledged message at the subscriber", () => [...acked].every((seq) => sub.delivered.some((r) => r.seq === seq)), 30_000, () =>
        JSON.stringify(sub.log.slice(-10)),
      );
      const firsts: number[] = [];
      for (const r of sub.delivered) if (!firsts.includes(r.seq)) firsts.push(r.seq);
      expect(firstDisorder(firsts)).toBeNull();
      expect(firsts).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
      expect(sub.c?.closed).toBe(false);
    });

    it("new persistent CONNECTs succeed again, and the subscriber's session is intact in the store", async () => {
      const { c, connack } = await open("outage-after-persistent", false);
      expect([connack.returnCode, connack.sessionPresent]).toEqual([0, false]);
      c.send({ cmd: "disconnect" });
      await c.waitClosed();
      const again = await open("outage-after-persistent", false);
      expect([again.connack.returnCode, again.connack.sessionPresent]).toEqual([0, true]);
      const stored = await store.getSession("outage-sub");
      expect(stored?.subscriptions).toEqual({ "outage/#": 1 });
    });

    it("the subscriber's session survives a reconnect, and new QoS 1 messages flow end to end", async () => {
      sub.c?.send({ cmd: "disconnect" });
      await sub.done;
      const { c, connack } = await open("outage-sub", false);
      expect([connack.returnCode, connack.sessionPresent]).toEqual([0, true]);
      sub.attach(c, 1);
      const seq = sent + 1;
      pub.send(publishPacket("outage/t", String(seq), 1, seq));
      await waitFor("PUBACK after recovery", () => acked.has(seq), 10_000);
      await waitFor("delivery after recovery", () => sub.delivered.some((r) => r.seq === seq && r.phase === 1), 10_000);
    });
  });
});
