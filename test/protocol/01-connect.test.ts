import mqtt from "mqtt";
import { generate, type IConnectPacket, type Packet } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { startTestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";

/** Allow-all, except user "refused" (CONNACK 0x05) and user "slow" (accepted after 100 ms). */
const allowAll = createAllowAll();
const testAuth: Auth = {
  name: "test",
  async connect(client, password) {
    if (client.username === "refused") return { ok: false, returnCode: 5, reason: "refused by test" };
    if (client.username === "slow") await new Promise((r) => setTimeout(r, 100));
    return allowAll.connect(client, password);
  },
};

// Default connect timeout (10 s): a close seen within 2 s is the broker's reaction, not the timeout.
const f = useBroker({ limits: { maxClientIdLength: 32 } }, testAuth);
const mqttClients: mqtt.MqttClient[] = [];

afterEach(async () => {
  await Promise.all(mqttClients.splice(0).map((c) => c.endAsync(true)));
});

/** Expects a refusing CONNACK with session present 0, then the close [MQTT-3.2.2-4] [MQTT-3.2.2-5]. */
async function expectRefused(fields: Partial<IConnectPacket>, returnCode: number): Promise<void> {
  const [c, connack] = await f.connect(fields);
  expect(connack).toMatchObject({ returnCode, sessionPresent: false });
  await c.waitClosed();
}

/** Same as expectRefused, for a hand-built CONNECT. */
async function expectRefusedRaw(bytes: Buffer, returnCode: number): Promise<void> {
  const c = await f.open();
  c.sendBytes(bytes);
  expect(await c.expect("connack")).toMatchObject({ returnCode, sessionPresent: false });
  await c.waitClosed();
}

/** Sends raw bytes as the first thing on a new socket; expects the close with nothing received. */
async function expectClosedSilently(bytes: Buffer): Promise<void> {
  const c = await f.open();
  c.sendBytes(bytes);
  await c.waitClosed();
  expect(c.buffered).toEqual([]);
}

function str(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s) : s;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}

/** A hand-built CONNECT (remaining length < 128): protocol name, level, flags, keepalive 0, payload fields. */
function rawConnect(flags: number, payload: Buffer[], name = "MQTT", level = 4): Buffer {
  const body = Buffer.concat([str(name), Buffer.from([level, flags, 0, 0]), ...payload]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("CONNECT: first packet and protocol", () => {
  it("[MQTT-3.1.0-1] closes the connection when the first packet is not CONNECT", async () => {
    await expectClosedSilently(generate({ cmd: "pingreq" }));
    await expectClosedSilently(generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 0 }] }));
  });

  it("[MQTT-3.1.0-2] closes the connection on a second CONNECT", async () => {
    const c = await f.raw({ clientId: "twice" });
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "twice" });
    await c.waitClosed();
    expect(c.buffered).toEqual([]);
  });

  it("[MQTT-3.1.2-2] [MQTT-3.2.2-5] refuses protocol level 6 with CONNACK 0x01 and closes", async () => {
    await expectRefusedRaw(rawConnect(0x02, [str("v6")], "MQTT", 6), 1);
  });

  it("[MQTT-3.1.2-1] [MQTT-3.1.2-2] refuses level 3 with name MQTT and level 4 with name MQIsdp (0x01)", async () => {
    await expectRefused({ protocolId: "MQTT", protocolVersion: 3, clientId: "mqtt3" }, 1);
    await expectRefused({ protocolId: "MQIsdp", protocolVersion: 4, clientId: "mqisdp4" }, 1);
  });

  for (const level of [7, 99]) {
    it(`[MQTT-3.1.2-2] refuses unknown protocol level ${level} (raw bytes) with CONNACK 0x01 and closes`, async () => {
      await expectRefusedRaw(rawConnect(0x02, [str(`lvl${level}`)], "MQTT", level), 1);
    });
  }

  it("[MQTT-3.1.2-1] closes the connection on an unknown protocol name without accepting it", async () => {
    await expectClosedSilently(rawConnect(0x02, [str("badname")], "MQTX"));
  });

  it("[MQTT-3.1.2-3] closes without CONNACK when the reserved connect flag is set", async () => {
    await expectClosedSilently(rawConnect(0x03, [str("reserved")]));
  });

  it("[MQTT-3.1.2-11] [MQTT-3.1.2-13] closes when will QoS is set without the will flag", async () => {
    await expectClosedSilently(rawConnect(0x02 | 0x08, [str("wq")]));
  });

  it("[MQTT-3.1.2-11] [MQTT-3.1.2-15] closes when will retain is set without the will flag", async () => {
    await expectClosedSilently(rawConnect(0x02 | 0x20, [str("wr")]));
  });

  it("[MQTT-3.1.2-14] closes on will QoS 3", async () => {
    await expectClosedSilently(rawConnect(0x02 | 0x04 | 0x18, [str("w3"), str("will/t"), str("bye")]));
  });

  it("[MQTT-3.1.2-22] closes when the password flag is set without the user name flag", async () => {
    await expectClosedSilently(rawConnect(0x02 | 0x40, [str("pw"), str("secret")]));
  });
});

describe("CONNECT: client identifier", () => {
  it("[MQTT-3.1.3-3] [MQTT-3.1.3-5] accepts a 23-character alphanumeric client id", async () => {
    const id = "abcdefghijklmnopqrstuv1";
    await f.raw({ clientId: id });
    expect(f.b.broker.sessions.get(id)?.link).not.toBeNull();
  });

  it("[MQTT-3.1.3-4] closes without CONNACK when the client id is ill-formed UTF-8", async () => {
    await expectClosedSilently(rawConnect(0x02, [str(Buffer.from([0x61, 0xc3, 0x28]))]));
  });

  it("[MQTT-3.1.3-6] assigns a unique id to an empty client id with clean session, and the id works", async () => {
    const before = new Set(f.b.broker.sessions.keys());
    const c1 = await f.raw({ clientId: "" });
    const c2 = await f.raw({ clientId: "" });
    const assigned = [...f.b.broker.sessions.keys()].filter((k) => !before.has(k));
    expect(assigned).toHaveLength(2);
    for (const id of assigned) expect(id).toMatch(/^mqgate-/);
    // Both stay connected (no take-over between them), and the first can subscribe and receive.
    expect(await c1.subscribe("assigned/t", 1)).toEqual([1]);
    c1.send({ cmd: "publish", topic: "assigned/t", payload: Buffer.from("self"), qos: 1, messageId: 2, retain: false, dup: false });
    const got = [await c1.next(), await c1.next()];
    const pub = got.find((p) => p.cmd === "publish");
    expect(pub).toMatchObject({ topic: "assigned/t", qos: 1 });
    expect((pub as Extract<Packet, { cmd: "publish" }>).payload.toString()).toBe("self");
    expect(got.some((p) => p.cmd === "puback" && p.messageId === 2)).toBe(true);
    c2.send({ cmd: "pingreq" });
    await c2.expect("pingresp");
  });

  it("[MQTT-3.1.3-7] [MQTT-3.1.3-8] [MQTT-3.2.2-5] refuses an empty client id with clean session 0 (0x02) and closes", async () => {
    await expectRefusedRaw(rawConnect(0x00, [str("")]), 2);
  });

  it("refuses an empty client id from an MQTT 3.1 (MQIsdp) client with 0x02", async () => {
    await expectRefusedRaw(rawConnect(0x02, [str("")], "MQIsdp", 3), 2);
  });

  it("[MQTT-3.1.3-9] refuses a client id longer than limits.maxClientIdLength (0x02), accepts one at the limit", async () => {
    await expectRefused({ clientId: "x".repeat(33) }, 2);
    await f.raw({ clientId: "y".repeat(32) });
  });

  it("accepts an MQTT 3.1 (MQIsdp) client that exchanges messages with a 3.1.1 client", async () => {
    const url = `mqtt://127.0.0.1:${f.b.mqttPort}`;
    const old = await mqtt.connectAsync(url, { clientId: "v31", protocolId: "MQIsdp", protocolVersion: 3, reconnectPeriod: 0 });
    const modern = await mqtt.connectAsync(url, { clientId: "v311", reconnectPeriod: 0 });
    mqttClients.push(old, modern);
    await old.subscribeAsync("v31/in", { qos: 1 });
    await modern.subscribeAsync("v31/out", { qos: 1 });
    const toOld = new Promise<string>((resolve) => old.once("message", (_t, p) => resolve(p.toString())));
    const toModern = new Promise<string>((resolve) => modern.once("message", (_t, p) => resolve(p.toString())));
    await modern.publishAsync("v31/in", "hello 3.1", { qos: 1 });
    await old.publishAsync("v31/out", "hello 3.1.1", { qos: 1 });
    expect(await toOld).toBe("hello 3.1");
    expect(await toModern).toBe("hello 3.1.1");
  });
});

describe("CONNACK", () => {
  it("[MQTT-3.2.0-1] CONNACK is the first packet, even with SUBSCRIBE pipelined and a retained message waiting", async () => {
    const pub = await f.raw({ clientId: "retainer" });
    pub.send({ cmd: "publish", topic: "first/r", payload: Buffer.from("kept"), qos: 1, messageId: 1, retain: true, dup: false });
    await pub.expect("puback");
    const c = await f.open();
    c.sendBytes(
      Buffer.concat([
        generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "first", username: "slow" }),
        generate({ cmd: "subscribe", messageId: 7, subscriptions: [{ topic: "first/#", qos: 0 }] }),
      ]),
    );
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    expect(await c.expect("suback")).toMatchObject({ messageId: 7, granted: [0] });
    expect(await c.expect("publish")).toMatchObject({ topic: "first/r", retain: true });
  });

  it("[MQTT-3.2.2-1] session present is 0 with clean session 1, even when a stored session existed", async () => {
    const p = await f.raw({ clientId: "sp1", clean: false });
    p.send({ cmd: "disconnect" });
    await p.waitClosed();
    const [, connack] = await f.connect({ clientId: "sp1", clean: true });
    expect(connack).toMatchObject({ returnCode: 0, sessionPresent: false });
  });

  it("[MQTT-3.2.2-3] [MQTT-3.2.2-2] session present is 0 for a new persistent session, 1 when resuming it", async () => {
    const [c1, first] = await f.connect({ clientId: "sp2", clean: false });
    expect(first).toMatchObject({ returnCode: 0, sessionPresent: false });
    await c1.subscribe("sp2/t", 1);
    c1.send({ cmd: "disconnect" });
    await c1.waitClosed();
    const [c2, second] = await f.connect({ clientId: "sp2", clean: false });
    expect(second).toMatchObject({ returnCode: 0, sessionPresent: true });
    // The resumed session kept its subscription.
    const pub = await f.raw({ clientId: "sp2-pub" });
    pub.send({ cmd: "publish", topic: "sp2/t", payload: Buffer.from("again"), qos: 0, retain: false, dup: false });
    expect(await c2.expect("publish")).toMatchObject({ topic: "sp2/t" });
  });

  it("[MQTT-3.2.2-4] a refusing CONNACK has session present 0 even when a session exists, and takes nothing over", async () => {
    const owner = await f.raw({ clientId: "sp3", clean: false });
    await expectRefused({ clientId: "sp3", clean: false, username: "refused" }, 5);
    owner.send({ cmd: "pingreq" });
    await owner.expect("pingresp");
    expect(owner.closed).toBe(false);
  });
});

describe("connect timeout", () => {
  const t = useBroker({ limits: { connectTimeoutMs: 300 } });

  it("closes a socket that sends nothing within limits.connectTimeoutMs", async () => {
    const c = await t.open();
    await new Promise((r) => setTimeout(r, 100));
    expect(c.closed).toBe(false);
    await c.waitClosed(3000);
    expect(c.buffered).toEqual([]);
  });

  it("closes a socket that sends only part of a CONNECT", async () => {
    const c = await t.open();
    c.sendBytes(rawConnect(0x02, [str("partial")]).subarray(0, 6));
    await c.waitClosed(3000);
    expect(c.buffered).toEqual([]);
  });

  it("keeps a connected client open past the connect timeout", async () => {
    const c = await t.raw({ clientId: "in-time" });
    expect(await c.silentFor(600)).toBe(true);
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
  });
});

describe("take-over and pipelining", () => {
  it("[MQTT-3.1.4-2] a second client with the same id closes the first, whose will is published", async () => {
    const watcher = await f.raw({ clientId: "to-watch" });
    await watcher.subscribe("takeover/#", 1);
    const first = await f.raw({
      clientId: "dup-id",
      will: { topic: "takeover/will", payload: Buffer.from("gone"), qos: 1, retain: false },
    });
    const second = await f.raw({ clientId: "dup-id" });
    await first.waitClosed();
    const will = await watcher.expect("publish");
    expect(will).toMatchObject({ topic: "takeover/will", qos: 1 });
    expect(will.payload.toString()).toBe("gone");
    second.send({ cmd: "pingreq" });
    await second.expect("pingresp");
    expect(f.b.broker.sessions.get("dup-id")?.link).not.toBeNull();
  });

  it("[MQTT-3.2.0-1] processes SUBSCRIBE and PUBLISH written with CONNECT (one write) in order after CONNACK", async () => {
    const c = await f.open();
    c.sendBytes(
      Buffer.concat([
        generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "pipe", username: "slow" }),
        generate({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: "pipe/t", qos: 1 }] }),
        generate({ cmd: "publish", topic: "pipe/t", payload: Buffer.from("early"), qos: 1, messageId: 4, retain: false, dup: false }),
      ]),
    );
    expect(await c.expect("connack")).toMatchObject({ returnCode: 0 });
    expect(await c.expect("suback")).toMatchObject({ messageId: 3, granted: [1] });
    const rest = [await c.next(), await c.next()];
    const pub = rest.find((p) => p.cmd === "publish") as Extract<Packet, { cmd: "publish" }> | undefined;
    expect(pub?.payload.toString()).toBe("early");
    expect(rest.some((p) => p.cmd === "puback" && p.messageId === 4)).toBe(true);
  });
});

describe("limits", () => {
  it("maxConnections: a socket beyond the limit is closed at once; a new one is accepted after a close", async () => {
    const small = await startTestBroker({ limits: { maxConnections: 3 } });
    try {
      const port = small.mqttPort;
      const three = [await f.raw({}, port), await f.raw({}, port), await f.raw({}, port)];
      const refusedBefore = small.broker.stats.connectionsRefused;
      const fourth = await f.open(port);
      await fourth.waitClosed();
      expect(fourth.buffered).toEqual([]);
      expect(small.broker.stats.connectionsRefused).toBe(refusedBefore + 1);
      three[0]!.destroy();
      await waitFor(() => small.broker.connections.size === 2);
      const again = await f.raw({}, port);
      again.send({ cmd: "pingreq" });
      await again.expect("pingresp");
    } finally {
      await small.close();
    }
  });
});
