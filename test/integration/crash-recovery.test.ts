import type { IConnackPacket } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawClient } from "../helpers/raw-client.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import {
  type BrokerProcess,
  buildBroker,
  connectRaw,
  firstDisorder,
  publishPacket,
  pump,
  type Receipt,
  sleep,
  spawnBroker,
  Subscriber,
  subscribe,
  waitFor,
} from "./support.js";

// "Nothing acknowledged is lost" (DESIGN §3.2) with real processes: a broker on Redis is SIGKILLed while a
// publisher streams QoS 1 and QoS 2 messages to persistent subscribers that hold some messages in flight; a new
// broker process on the same Redis must deliver everything the publisher saw acknowledged, in order, re-sending
// in-flight messages first with DUP=1 and their original packet ids, and QoS 2 exactly once.

const N = 400; // publisher messages at most; the crash comes in the middle of the stream
const CRASH_AFTER_ACKS = 120;
const ENV = { MQGATE_MAX_INFLIGHT: "8" };
const AFTER = N + 1; // published after the restart

const clients: RawClient[] = [];
async function connect(port: number, clientId: string, clean: boolean): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const r = await connectRaw(port, clientId, clean);
  clients.push(r.c);
  expect(r.connack.returnCode).toBe(0);
  return r;
}

/** The seqs a subscriber acknowledged completely before the crash are the first few; the rest stay in flight. */
const q1Policy = (seq: number) => (seq <= 4 ? "ack" : "none");
const q2Policy = (seq: number, qos: number) => (seq <= 4 ? "ack" : seq <= 10 ? (qos === 2 ? "rec-only" : "ack") : "none");

describe("crash recovery: SIGKILL of a broker process, a new process on the same Redis", () => {
  let redis: RedisServer;
  const brokers: BrokerProcess[] = [];
  const sub1 = new Subscriber(q1Policy); // QoS 1, online, stops acknowledging
  const sub2 = new Subscriber(q2Policy); // QoS 2, online, stops acknowledging, some PUBCOMPs withheld
  const sub3 = new Subscriber(() => "ack"); // QoS 2, offline during the whole stream
  const subs = { "QoS 1 online": sub1, "QoS 2 online": sub2, "QoS 2 offline": sub3 };
  const acked = new Set<number>(); // PUBACK or PUBREC seen by the publisher
  const pubrecs = new Set<number>();
  const pubcomps = new Set<number>();
  const present: Record<string, boolean> = {};
  let sent = 0;
  let retainedAfter: { payload: string; retain: boolean } | null = null;

  beforeAll(async () => {
    await buildBroker();
    redis = await startRedisServer();
    const a = await spawnBroker(redis.url, ENV);
    brokers.push(a);

    for (const [id, sub, qos] of [["crash-sub-q1", sub1, 1], ["crash-sub-q2", sub2, 2], ["crash-sub-off", sub3, 2]] as const) {
      const { c } = await connect(a.mqttPort, id, false);
      await subscribe(c, "crash/#", qos);
      if (sub === sub3) {
        c.send({ cmd: "disconnect" });
        await c.waitClosed();
      } else sub.attach(c, 0);
    }
    const { c: pub } = await connect(a.mqttPort, "crash-pub", false);
    pub.send(publishPacket("crash-keep/state", "kept", 1, 60_000, { retain: true }));
    expect((await pub.expect("puback")).messageId).toBe(60_000);
    const onPubPacket = (p: { cmd: string; messageId?: number }, c: RawClient) => {
      const id = p.messageId ?? 0;
      if (p.cmd === "puback") acked.add(id);
      if (p.cmd === "pubrec") {
        acked.add(id);
        pubrecs.add(id);
        c.send({ cmd: "pubrel", messageId: id });
      }
      if (p.cmd === "pubcomp") pubcomps.add(id);
    };
    const pubDone = pump(pub, (p) => onPubPacket(p, pub)).done;

    // Stream seq 1..N (odd seqs QoS 1, even QoS 2; packet id = seq) without waiting for acknowledgements.
    const streaming = (async () => {
      for (let seq = 1; seq <= N && !pub.closed; seq++) {
        const qos = seq % 2 === 1 ? 1 : 2;
        pub.send(publishPacket(`crash/q${qos}`, String(seq), qos, seq));
        sent = seq;
        if (seq % 4 === 0) await sleep(1);
      }
    })();
    await waitFor("acknowledgements before the crash", () => acked.size >= CRASH_AFTER_ACKS, 15_000);
    await a.crash();
    await streaming;
    await pubDone;
    for (const s of [sub1, sub2]) await s.done;

    const b = await spawnBroker(redis.url, ENV);
    brokers.push(b);
    for (const [id, sub] of [["crash-sub-q1", sub1], ["crash-sub-q2", sub2], ["crash-sub-off", sub3]] as const) {
      const { c, connack } = await connect(b.mqttPort, id, false);
      present[id] = connack.sessionPresent;
      sub.attach(c, 1, () => "ack");
    }
    const again = await connect(b.mqttPort, "crash-pub", false);
    present["crash-pub"] = again.connack.sessionPresent;
    const pub2 = again.c;
    const pub2Done = pump(pub2, (p) => onPubPacket(p, pub2)).done;
    // QoS 2 flows with PUBREC but no PUBCOMP are completed by re-sending PUBREL [MQTT-4.4.0-1].
    const open = [...pubrecs].filter((id) => !pubcomps.has(id));
    for (const id of open) pub2.send({ cmd: "pubrel", messageId: id });
    await waitFor("PUBCOMP for every re-sent PUBREL", () => open.every((id) => pubcomps.has(id)));
    pub2.send(publishPacket("crash/q2", String(AFTER), 2, AFTER));
    await waitFor("the post-restart publish to complete", () => pubcomps.has(AFTER));
    for (const [name, sub] of Object.entries(subs)) {
      await waitFor(`${name} to receive the post-restart message`, () => sub.delivered.some((r) => r.seq === AFTER), 15_000, () => JSON.stringify(sub.log.slice(-20)));
    }

    const { c: late } = await connect(b.mqttPort, "crash-late", true);
    await subscribe(late, "crash-keep/#", 1);
    const p = await late.expect("publish", 5000);
    retainedAfter = { payload: p.payload.toString(), retain: p.retain };
    pub2.destroy();
    await pub2Done;
    console.log(`crash-recovery: sent ${sent}, acknowledged ${acked.size} before the crash`);
  });

  afterAll(async () => {
    for (const c of clients) c.destroy();
    for (const b of brokers) await b.crash();
    await redis?.stop();
  });

  it("the crash came in the middle of the stream, after acknowledgements", () => {
    expect(acked.size).toBeGreaterThanOrEqual(CRASH_AFTER_ACKS);
    expect(sent).toBeGreaterThanOrEqual(acked.size);
  });

  it("[MQTT-3.2.2-2] every client resumes its session on the new process: session present 1", () => {
    expect(present).toEqual({ "crash-sub-q1": true, "crash-sub-q2": true, "crash-sub-off": true, "crash-pub": true });
  });

  it("every message the publisher saw acknowledged (PUBACK / PUBREC) reaches every persistent subscriber", () => {
    for (const [name, sub] of Object.entries(subs)) {
      const got = new Set(sub.delivered.map((r) => r.seq));
      const missing = [...acked].filter((seq) => seq <= N && !got.has(seq)).sort((x, y) => x - y);
      expect(missing, `${name} is missing acknowledged messages`).toEqual([]);
    }
  });

  it("[MQTT-4.6.0-6] each subscriber sees the messages in publish order, a repeat only as the DUP re-send of what it had", () => {
    for (const [name, sub] of Object.entries(subs)) {
      const firsts: number[] = [];
      const seen = new Map<number, Receipt>();
      for (const r of sub.delivered) {
        const before = seen.get(r.seq);
        if (before === undefined) {
          seen.set(r.seq, r);
          firsts.push(r.seq);
          continue;
        }
        // A QoS 1 message delivered again: only the re-send after the restart of the very same PUBLISH.
        expect({ name, seq: r.seq, qos: r.qos, dup: r.dup, phase: r.phase, packetId: r.packetId }).toEqual({
          name,
          seq: r.seq,
          qos: 1,
          dup: true,
          phase: 1,
          packetId: before.packetId,
        });
      }
      expect(firstDisorder(firsts), name).toBeNull();
      expect(firsts.at(-1), name).toBe(AFTER);
    }
  });

  it("[MQTT-4.4.0-1] after the restart, unacknowledged in-flight messages come first: PUBLISH DUP=1 with the original packet id", () => {
    for (const [name, sub, isHeld] of [
      ["QoS 1 online", sub1, (r: Receipt) => q1Policy(r.seq) === "none"],
      ["QoS 2 online", sub2, (r: Receipt) => q2Policy(r.seq, r.qos) === "none"],
    ] as const) {
      const after = sub.log.filter((e) => e.phase === 1);
      const firstNew = after.findIndex((e) => e.cmd === "publish" && !e.dup);
      expect(firstNew, name).toBeGreaterThanOrEqual(0);
      expect(after.slice(firstNew).filter((e) => e.cmd === "publish" && e.dup), `${name}: DUP PUBLISH after a new one`).toEqual([]);
      const resent = sub.receipts.filter((r) => r.phase === 1 && r.dup);
      const held = sub.receipts.filter((r) => r.phase === 0 && isHeld(r));
      expect(held.length, `${name} held messages in flight before the crash`).toBeGreaterThan(0);
      for (const h of held) {
        expect(resent.find((r) => r.seq === h.seq), `${name}: seq ${h.seq} re-sent`).toMatchObject({ packetId: h.packetId, dup: true, qos: h.qos });
      }
      expect(firstDisorder(resent.map((r) => r.seq)), `${name}: re-sent in order`).toBeNull();
    }
  });

  it("[MQTT-4.3.3-1] a QoS 2 message whose PUBREL the subscriber got before the crash gets PUBREL again, never its PUBLISH", () => {
    // The QoS 2 messages the subscriber answered PUBREC to, got PUBREL for, and then "lost" its PUBCOMP.
    const recOnly = new Set(sub2.receipts.filter((r) => r.phase === 0 && q2Policy(r.seq, r.qos) === "rec-only").map((r) => r.packetId));
    const released = sub2.pubrels.filter((r) => r.phase === 0 && recOnly.has(r.packetId)).map((r) => r.packetId);
    expect(released.length).toBeGreaterThan(0);
    const after = sub2.log.filter((e) => e.phase === 1);
    const firstNew = after.findIndex((e) => e.cmd === "publish" && !e.dup);
    for (const id of released) {
      const seq = sub2.receipts.find((r) => r.phase === 0 && r.packetId === id)?.seq;
      expect(after.slice(0, firstNew).some((e) => e.cmd === "pubrel" && e.packetId === id), `PUBREL ${id} re-sent first`).toBe(true);
      expect(sub2.receipts.filter((r) => r.phase === 1 && r.seq === seq), `seq ${seq} not re-sent`).toEqual([]);
    }
  });

  it("QoS 2 is exactly once: no QoS 2 delivery reaches the application twice; the offline subscriber gets no DUP at all", () => {
    for (const [name, sub] of [["QoS 2 online", sub2], ["QoS 2 offline", sub3]] as const) {
      // Messages published at QoS 1 are delivered at QoS 1 (at least once); those at QoS 2 exactly once.
      const seqs = sub.delivered.filter((r) => r.qos === 2).map((r) => r.seq);
      const twice = sub.receipts.filter((r) => r.delivered && r.qos === 2 && seqs.indexOf(r.seq) !== seqs.lastIndexOf(r.seq));
      expect(twice, `${name}: delivered twice`).toEqual([]);
    }
    expect(sub3.receipts.filter((r) => r.phase === 0 || r.dup)).toEqual([]);
    // Delivered at the QoS it was published with (granted 2).
    expect(sub3.receipts.filter((r) => r.qos !== (r.seq % 2 === 1 && r.seq !== AFTER ? 1 : 2))).toEqual([]);
  });

  it("subscriptions survive the crash: a publish after the restart reaches every subscriber", () => {
    for (const sub of Object.values(subs)) expect(sub.delivered.filter((r) => r.seq === AFTER)).toHaveLength(1);
  });

  it("[MQTT-3.3.1-6] the retained message survives the crash and is sent to a new subscriber with RETAIN=1", () => {
    expect(retainedAfter).toEqual({ payload: "kept", retain: true });
  });
});

describe("crash recovery: a crash right after the broker sent PUBREL", () => {
  let redis: RedisServer;
  const brokers: BrokerProcess[] = [];
  beforeAll(async () => {
    await buildBroker();
    redis = await startRedisServer();
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    for (const b of brokers) await b.crash();
    await redis?.stop();
  });

  it("[MQTT-4.3.3-1] the subscriber, which released the id on PUBREL, gets PUBREL again after the restart, never the PUBLISH", async () => {
    const rounds = 4;
    const firstAfter: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const a = await spawnBroker(redis.url, ENV);
      brokers.push(a);
      const clientId = `rel-sub-${round}`;
      const { c: sub } = await connect(a.mqttPort, clientId, false);
      await subscribe(sub, "rel/#", 2);
      // SIGKILL the broker the moment its PUBREL reaches the subscriber's socket.
      sub.socket.prependListener("data", (chunk: Buffer) => {
        if (chunk[0] === 0x62) a.child.kill("SIGKILL");
      });
      const { c: pub } = await connect(a.mqttPort, `rel-pub-${round}`, true);
      pub.send(publishPacket("rel/t", String(round), 2, 1));
      await pub.expect("pubrec", 5000);
      pub.send({ cmd: "pubrel", messageId: 1 });
      const p = await sub.expect("publish", 5000);
      sub.send({ cmd: "pubrec", messageId: p.messageId as number });
      // Method B: on PUBREL the id is forgotten; a later PUBLISH with it would be a new message.
      expect((await sub.expect("pubrel", 5000)).messageId).toBe(p.messageId);
      await a.crash();

      const b = await spawnBroker(redis.url, ENV);
      brokers.push(b);
      const { c, connack } = await connect(b.mqttPort, clientId, false);
      expect(connack.sessionPresent).toBe(true);
      const next = await c.next(5000);
      firstAfter.push(`${next.cmd} ${"messageId" in next ? next.messageId : ""}`);
      c.destroy();
      await b.crash();
    }
    expect(firstAfter).toEqual(Array.from({ length: rounds }, () => "pubrel 1"));
  });
});
