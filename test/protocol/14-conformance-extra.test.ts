import { generate, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

// Conformance statements not covered elsewhere: wire format of what the server sends, packet identifiers,
// the CONNECT payload, refused CONNECTs, DISCONNECT flags and transient errors.

/** What authentication saw for each client id: user name and password as received. */
const seen = new Map<string, { username: string | undefined; password: Buffer | undefined }>();
const allowAll = createAllowAll();
/**
 * Allow-all, recording what it sees, except: user "refused" gets 0x05 after 50 ms, user "boom" makes the auth
 * backend fail; publishing to throw/... and subscribing to throw/... make the authorizer throw (a transient error).
 */
const testAuth: Auth = {
  name: "test",
  async connect(client, password) {
    seen.set(client.clientId, { username: client.username, password });
    if (client.username === "refused") {
      await new Promise((r) => setTimeout(r, 50));
      return { ok: false, returnCode: 5, reason: "refused by test" };
    }
    if (client.username === "boom") throw new Error("auth backend unavailable");
    const decision = await allowAll.connect(client, password);
    if (!decision.ok) return decision;
    const inner = decision.policy;
    return {
      ok: true,
      policy: {
        canPublish(topic) {
          if (topic.startsWith("throw/")) throw new Error("authorizer failed");
          return inner.canPublish(topic);
        },
        canSubscribe(filter, qos) {
          if (filter.startsWith("throw/")) throw new Error("authorizer failed");
          return inner.canSubscribe(filter, qos);
        },
      },
    };
  },
};

const f = useBroker({}, testAuth);

async function subscribed(clientId: string, filter: string, qos: 0 | 1 | 2 = 0): Promise<RawClient> {
  const c = await f.raw({ clientId });
  expect(await c.subscribe(filter, qos)).toEqual([qos]);
  return c;
}

function str(s: string | number[] | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s) : Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** A packet from its first byte and body (remaining length < 128). */
function pkt(first: number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  if (b.length > 127) throw new Error("pkt: body too long");
  return Buffer.concat([Buffer.from([first, b.length]), b]);
}

/** A hand-built 3.1.1 CONNECT: connect flags, keepalive 0, then the payload fields in order. */
const rawConnect = (flags: number, ...payload: Buffer[]): Buffer => pkt(0x10, str("MQTT"), Buffer.from([4, flags, 0, 0]), ...payload);

/** Sends `bytes` as the first thing on a new socket and expects the close with nothing received. */
async function expectClosedSilently(bytes: Buffer): Promise<void> {
  const c = await f.open();
  c.sendBytes(bytes);
  await c.waitClosed();
  expect(c.buffered).toEqual([]);
}

/** Records every byte the broker sends on `c` from now on, split into packets (fixed header + body). */
function tap(c: RawClient): () => Buffer[] {
  const chunks: Buffer[] = [];
  c.socket.on("data", (d: Buffer) => chunks.push(d));
  return () => {
    const all = Buffer.concat(chunks);
    const packets: Buffer[] = [];
    let pos = 0;
    while (pos < all.length) {
      let len = 0;
      let mul = 1;
      let i = pos + 1;
      for (;;) {
        const byte = all[i++] as number;
        len += (byte & 0x7f) * mul;
        mul *= 128;
        if ((byte & 0x80) === 0) break;
      }
      packets.push(all.subarray(pos, i + len));
      pos = i + len;
    }
    return packets;
  };
}

/** Remaining length of a packet captured by tap() (always < 128 here). */
const remaining = (p: Buffer): number => p[1] as number;

describe("fixed headers and packet identifiers", () => {
  it("[MQTT-2.2.2-1] every packet the server sends has the fixed-header flags and length the spec prescribes", async () => {
    const c = await f.open();
    const captured = tap(c);
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "hdr" });
    await c.expect("connack");
    c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "hdr/in", qos: 2 }] });
    await c.expect("suback");
    c.send({ cmd: "publish", topic: "hdr/other", payload: Buffer.from("1"), qos: 1, messageId: 2, retain: false, dup: false });
    await c.expect("puback");
    c.send({ cmd: "publish", topic: "hdr/other", payload: Buffer.from("2"), qos: 2, messageId: 3, retain: false, dup: false });
    await c.expect("pubrec");
    c.send({ cmd: "pubrel", messageId: 3 });
    await c.expect("pubcomp");
    const pub = await f.raw({ clientId: "hdr-pub" });
    pub.send({ cmd: "publish", topic: "hdr/in", payload: Buffer.from("3"), qos: 2, messageId: 1, retain: false, dup: false });
    const delivered = await c.expect("publish");
    c.send({ cmd: "pubrec", messageId: delivered.messageId as number });
    await c.expect("pubrel");
    c.send({ cmd: "pubcomp", messageId: delivered.messageId as number });
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
    c.send({ cmd: "unsubscribe", messageId: 4, unsubscriptions: ["hdr/in"] });
    await c.expect("unsuback");

    const headers = captured().map((p) => [p[0], remaining(p)]);
    expect(headers).toEqual([
      [0x20, 2], // CONNACK
      [0x90, 3], // SUBACK, one return code
      [0x40, 2], // PUBACK
      [0x50, 2], // PUBREC
      [0x70, 2], // PUBCOMP
      [0x34, 2 + "hdr/in".length + 2 + 1], // PUBLISH QoS 2, DUP 0, RETAIN 0
      [0x62, 2], // PUBREL: flags 0010
      [0xd0, 0], // PINGRESP
      [0xb0, 2], // UNSUBACK
    ]);
  });

  it("[MQTT-2.3.1-5] [MQTT-4.3.1-1] a QoS 0 PUBLISH is sent with QoS 0, DUP 0 and no packet identifier field", async () => {
    const sub = await f.raw({ clientId: "q0-sub" });
    await sub.subscribe([["q0/up", 2], ["q0/down", 0]]);
    const captured = tap(sub);
    const pub = await f.raw({ clientId: "q0-pub" });
    // A QoS 0 message to a QoS 2 subscription, and a QoS 1 re-send (DUP 1) downgraded to a QoS 0 subscription.
    pub.send({ cmd: "publish", topic: "q0/up", payload: Buffer.from("abc"), qos: 0, retain: false, dup: false });
    pub.send({ cmd: "publish", topic: "q0/down", payload: Buffer.from("def"), qos: 1, messageId: 0x4142, retain: false, dup: true });
    await pub.expect("puback");
    const [first, second] = [await sub.expect("publish"), await sub.expect("publish")];
    expect([first, second].map((p) => [p.topic, p.qos, p.dup, p.messageId])).toEqual([
      ["q0/up", 0, false, undefined],
      ["q0/down", 0, false, undefined],
    ]);
    // On the wire: first byte 0x30, then topic and payload with nothing in between.
    expect(captured().map((p) => [...p])).toEqual([
      [0x30, 2 + 5 + 3, ...str("q0/up"), ...Buffer.from("abc")],
      [0x30, 2 + 7 + 3, ...str("q0/down"), ...Buffer.from("def")],
    ]);
  });

  const IDS = [1, 0x00ff, 0x0100, 0x1234, 0xfffe, 0xffff];

  it("[MQTT-2.3.1-6] PUBACK and PUBREC carry the packet identifier of the client's PUBLISH, PUBCOMP that of its PUBREL", async () => {
    const c = await f.raw({ clientId: "ids-in" });
    for (const id of IDS) {
      c.send({ cmd: "publish", topic: "ids/in", payload: Buffer.from("x"), qos: 1, messageId: id, retain: false, dup: false });
      expect(await c.expect("puback")).toMatchObject({ messageId: id });
      c.send({ cmd: "publish", topic: "ids/in", payload: Buffer.from("y"), qos: 2, messageId: id, retain: false, dup: false });
      expect(await c.expect("pubrec")).toMatchObject({ messageId: id });
      c.send({ cmd: "pubrel", messageId: id });
      expect(await c.expect("pubcomp")).toMatchObject({ messageId: id });
    }
  });

  it("[MQTT-2.3.1-6] the PUBREL the server sends carries the packet identifier of its PUBLISH, also out of order", async () => {
    const sub = await subscribed("ids-out", "ids/out", 2);
    const pub = await f.raw({ clientId: "ids-out-pub" });
    for (let i = 1; i <= 3; i++) {
      pub.send({ cmd: "publish", topic: "ids/out", payload: Buffer.from(String(i)), qos: 2, messageId: i, retain: false, dup: false });
      await pub.expect("pubrec");
      pub.send({ cmd: "pubrel", messageId: i });
      await pub.expect("pubcomp");
    }
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await sub.expect("publish")).messageId as number);
    expect(new Set(ids).size).toBe(3);
    for (const id of [...ids].reverse()) {
      sub.send({ cmd: "pubrec", messageId: id });
      expect(await sub.expect("pubrel")).toMatchObject({ messageId: id });
    }
    for (const id of ids) sub.send({ cmd: "pubcomp", messageId: id });
    expect(await sub.silentFor(100)).toBe(true);
  });

  it("[MQTT-2.3.1-7] SUBACK and UNSUBACK carry the packet identifier of their SUBSCRIBE and UNSUBSCRIBE, in order", async () => {
    const c = await f.raw({ clientId: "ids-sub" });
    // Pipelined in one write; one of the filters is invalid (0x80) and is answered with its id all the same.
    c.sendBytes(Buffer.concat(IDS.map((id, i) => generate({ cmd: "subscribe", messageId: id, subscriptions: [{ topic: i === 2 ? "bad/#/x" : `ids/s${i}`, qos: 1 }] }))));
    const subacks = [];
    while (subacks.length < IDS.length) subacks.push(await c.expect("suback"));
    expect(subacks.map((s) => [s.messageId, s.granted])).toEqual(IDS.map((id, i) => [id, [i === 2 ? 0x80 : 1]]));
    const reversed = IDS.map((id, i) => [id, i] as const).reverse();
    c.sendBytes(Buffer.concat(reversed.map(([id, i]) => generate({ cmd: "unsubscribe", messageId: id, unsubscriptions: [`ids/s${i}`] }))));
    const unsubacks = [];
    while (unsubacks.length < IDS.length) unsubacks.push((await c.expect("unsuback")).messageId);
    expect(unsubacks).toEqual(reversed.map(([id]) => id));
  });
});

describe("CONNECT payload", () => {
  it("[MQTT-3.1.2-18] with the user name flag clear, no user name is read: the client is anonymous, and a trailing string is malformed", async () => {
    const c = await f.open();
    c.sendBytes(rawConnect(0x02, str("anon")));
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    expect(seen.get("anon")).toEqual({ username: undefined, password: undefined });
    await expectClosedSilently(rawConnect(0x02, str("anon-extra"), str("user")));
    expect(seen.has("anon-extra")).toBe(false);
  });

  it("[MQTT-3.1.2-20] with the password flag clear, no password is read: authentication gets none, and a trailing string is malformed", async () => {
    const c = await f.open();
    c.sendBytes(rawConnect(0x82, str("user-only"), str("bob")));
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    expect(seen.get("user-only")).toEqual({ username: "bob", password: undefined });
    await expectClosedSilently(rawConnect(0x82, str("user-extra"), str("bob"), str("pw")));
    expect(seen.has("user-extra")).toBe(false);
  });

  it("[MQTT-3.1.2-21] with the password flag set, the password is read from the payload as binary data; a CONNECT without it is malformed", async () => {
    const password = [0x00, 0xff, 0x80, 0x41];
    const c = await f.open();
    c.sendBytes(rawConnect(0xc2, str("with-pw"), str("bob"), str(password)));
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    expect(seen.get("with-pw")?.password).toEqual(Buffer.from(password));
    await expectClosedSilently(rawConnect(0xc2, str("pw-missing"), str("bob")));
    expect(seen.has("pw-missing")).toBe(false);
  });

  it("[MQTT-3.1.3-11] the user name is a UTF-8 string: multi-byte characters reach authentication intact, ill-formed UTF-8 closes", async () => {
    const name = "ユーザー/ü/😀";
    const c = await f.open();
    c.sendBytes(rawConnect(0x82, str("utf8-user"), str(name)));
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    expect(seen.get("utf8-user")?.username).toBe(name);
    await expectClosedSilently(rawConnect(0x82, str("bad-user"), str([0x61, 0xc3, 0x28])));
    expect(seen.has("bad-user")).toBe(false);
  });

  it("[MQTT-3.1.2-9] with the will flag set, the will topic and message come from the payload, and the will QoS and retain are used", async () => {
    const watcher = await subscribed("will9-watch", "will9/#", 2);
    const c = await f.open();
    // Will flag, will QoS 1, will retain, clean session: 0x04 | 0x08 | 0x20 | 0x02.
    c.sendBytes(rawConnect(0x2e, str("will9"), str("will9/a"), str("bye")));
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    c.destroy();
    const live = await watcher.expect("publish");
    expect([live.topic, live.payload.toString(), live.qos, live.retain]).toEqual(["will9/a", "bye", 1, false]);
    watcher.send({ cmd: "puback", messageId: live.messageId as number });
    const later = await subscribed("will9-later", "will9/a", 2);
    const stored = await later.expect("publish");
    expect([stored.payload.toString(), stored.qos, stored.retain]).toEqual(["bye", 1, true]);
    later.send({ cmd: "publish", topic: "will9/a", payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }); // clear it
    await watcher.expect("publish");
    // Will flag set but the payload stops after the client id, or after the will topic: malformed.
    await expectClosedSilently(rawConnect(0x06, str("will9-none")));
    await expectClosedSilently(rawConnect(0x06, str("will9-half"), str("will9/b")));
    expect(await watcher.silentFor(100)).toBe(true);
  });

  it("[MQTT-3.1.2-12] without the will flag nothing is published when a connection ends abnormally", async () => {
    const watcher = await subscribed("nowill-watch", "#", 0);
    expect(await watcher.silentFor(100)).toBe(true); // no retained message left by other tests
    const received = f.b.broker.stats.messagesReceived;
    const dropped = await f.raw({ clientId: "nowill-1" });
    const violator = await f.raw({ clientId: "nowill-2" });
    await f.raw({ clientId: "nowill-3" });
    dropped.destroy();
    violator.sendBytes([0xe2, 0x00]); // DISCONNECT with reserved flags: closed as a protocol error
    await violator.waitClosed();
    await f.raw({ clientId: "nowill-3" }); // takes over and closes the first "nowill-3"
    expect(await watcher.silentFor(300)).toBe(true);
    expect(f.b.broker.stats.messagesReceived).toBe(received);
  });
});

describe("CONNECT refused or non-conforming", () => {
  const NON_CONFORMING: [string, Buffer][] = [
    ["reserved connect flag set", rawConnect(0x03, str("nc1"))],
    ["will QoS 3", rawConnect(0x1e, str("nc2"), str("w/t"), str("m"))],
    ["will retain without the will flag", rawConnect(0x22, str("nc3"))],
    ["password flag without the user name flag", rawConnect(0x42, str("nc4"), str("pw"))],
    ["user name flag without a user name", rawConnect(0x82, str("nc5"))],
    ["bytes left over after the payload", rawConnect(0x02, str("nc6"), Buffer.from([0]))],
    ["will topic with a wildcard", rawConnect(0x06, str("nc7"), str("w/#"), str("m"))],
    ["client id that is not UTF-8", rawConnect(0x02, str([0xff, 0xfe]))],
  ];
  for (const [name, bytes] of NON_CONFORMING) {
    it(`[MQTT-3.1.4-1] [MQTT-3.2.2-6] ${name}: closed without any CONNACK`, async () => {
      await expectClosedSilently(bytes);
    });
  }

  const FOLLOW_UP = Buffer.concat([
    generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "refused/#", qos: 0 }] }),
    generate({ cmd: "publish", topic: "refused/t", payload: Buffer.from("sneaky"), qos: 1, messageId: 2, retain: true, dup: false }),
    generate({ cmd: "pingreq" }),
  ]);
  const REFUSALS: [string, Buffer, number][] = [
    ["empty client id with clean session 0 (0x02)", rawConnect(0x00, str("")), 2],
    ["unsupported protocol level (0x01)", pkt(0x10, str("MQTT"), Buffer.from([9, 0x02, 0, 0]), str("lvl9")), 1],
    ["authentication refusing after 50 ms (0x05)", rawConnect(0x82, str("refused-id"), str("refused")), 5],
  ];
  for (const [name, connect, code] of REFUSALS) {
    it(`[MQTT-3.1.4-5] after refusing a CONNECT (${name}) the server ignores the packets sent behind it`, async () => {
      const watcher = await subscribed(`watch-${code}`, "refused/#", 0);
      const c = await f.open();
      c.sendBytes(Buffer.concat([connect, FOLLOW_UP]));
      await c.waitClosed();
      expect(c.buffered.map((p: Packet) => [p.cmd, p.cmd === "connack" && p.returnCode])).toEqual([["connack", code]]);
      await f.b.broker.journal.barrier();
      expect(await f.b.broker.store.getRetained("refused/t")).toBeNull();
      expect(await watcher.silentFor(150)).toBe(true);
    });
  }
});

describe("DISCONNECT and transient errors", () => {
  for (const flags of [0x1, 0x2, 0x4, 0x8]) {
    it(`[MQTT-3.14.1-1] a DISCONNECT with reserved flags 0x${flags.toString(16)} is not a clean disconnect: closed, and the will is published`, async () => {
      const watcher = await subscribed(`d-watch-${flags}`, `dflags/${flags}`, 0);
      const c = await f.raw({ clientId: `d-${flags}`, will: { topic: `dflags/${flags}`, payload: Buffer.from("will"), qos: 0, retain: false } });
      c.sendBytes([0xe0 | flags, 0x00]);
      await c.waitClosed();
      expect((await watcher.expect("publish")).payload.toString()).toBe("will");
    });
  }

  /** A healthy client, connected before the error, still completes a QoS 1 round trip. */
  async function stillServed(c: RawClient, topic: string): Promise<void> {
    c.send({ cmd: "publish", topic, payload: Buffer.from("ok"), qos: 1, messageId: 9, retain: false, dup: false });
    const got = [await c.next(), await c.next()];
    expect(got.map((p) => p.cmd).sort()).toEqual(["puback", "publish"]);
    expect(c.closed).toBe(false);
  }

  it("[MQTT-4.8.0-2] the authorizer failing on a PUBLISH closes that connection only; its will is published", async () => {
    const other = await subscribed("transient-other", "transient/#", 1);
    const c = await f.raw({ clientId: "transient-pub", will: { topic: "transient/will", payload: Buffer.from("w"), qos: 0, retain: false } });
    c.send({ cmd: "publish", topic: "throw/x", payload: Buffer.from("x"), qos: 1, messageId: 1, retain: false, dup: false });
    await c.waitClosed();
    expect(c.buffered).toEqual([]);
    expect((await other.expect("publish")).topic).toBe("transient/will");
    await stillServed(other, "transient/ping");
  });

  it("[MQTT-4.8.0-2] the authorizer failing on a SUBSCRIBE, or the auth backend failing on CONNECT (0x03), closes only that connection", async () => {
    const other = await subscribed("transient-other2", "transient2/#", 1);
    const c = await f.raw({ clientId: "transient-sub" });
    c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "throw/#", qos: 0 }] });
    await c.waitClosed();
    expect(c.buffered).toEqual([]);
    const d = await f.open();
    d.sendBytes(rawConnect(0x82, str("transient-auth"), str("boom")));
    expect(await d.expect("connack")).toMatchObject({ returnCode: 3 });
    await d.waitClosed();
    await stillServed(other, "transient2/ping");
  });
});
