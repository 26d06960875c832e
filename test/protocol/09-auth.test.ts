import mqtt from "mqtt";
import type { IConnectPacket, IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { createAclAuth, hashPassword } from "../../core/auth/index.js";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
const PASSWORDS = { alice: "alice-pw", fleet: "fleet-pw", admin: "admin-pw" } as const;
type User = keyof typeof PASSWORDS;

const f = useBroker({}, async () => {
  const users = await Promise.all(
    (Object.keys(PASSWORDS) as User[]).map(async (username) => ({ username, password: await hashPassword(PASSWORDS[username], FAST) })),
  );
  return createAclAuth({
    anonymous: false,
    users,
    rules: [
      { users: ["*"], allow: { publish: ["devices/%c/#"], subscribe: ["commands/%c/#"] } },
      { users: ["admin"], allow: { publish: ["#"], subscribe: ["#"] } },
      {
        users: ["fleet"],
        allow: { subscribe: [{ filter: "telemetry/#", maxQos: 0 }, { filter: "telemetry/alerts", maxQos: 1 }] },
      },
    ],
  });
});

/** Connects as a user with the right password. */
async function login(user: User, clientId: string): Promise<RawClient> {
  const [c, connack] = await f.connect({ clientId, username: user, password: Buffer.from(PASSWORDS[user]) });
  expect(connack.returnCode).toBe(0);
  return c;
}

async function expectRefused(fields: Partial<IConnectPacket>, returnCode: 4 | 5): Promise<void> {
  const [c, connack] = await f.connect(fields);
  expect(connack).toMatchObject({ returnCode, sessionPresent: false });
  await c.waitClosed();
}

/** Publishes at QoS 1 and waits for the PUBACK (sent whether or not the publish was authorized). */
async function publish1(c: RawClient, topic: string, payload: string, messageId: number): Promise<void> {
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false });
  expect(await c.expect("puback")).toMatchObject({ messageId });
}

function text(p: IPublishPacket): string {
  return Buffer.from(p.payload).toString();
}

describe("ACL auth: CONNECT", () => {
  it("accepts good credentials (mqtt client)", async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${f.b.mqttPort}`, {
      clientId: "good",
      username: "alice",
      password: PASSWORDS.alice,
      reconnectPeriod: 0,
    });
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it("refuses a wrong password with CONNACK 0x04 and closes", async () => {
    await expectRefused({ clientId: "wrong", username: "alice", password: Buffer.from("not-it") }, 4);
  });

  it("refuses an unknown user with CONNACK 0x04", async () => {
    await expectRefused({ clientId: "unknown", username: "mallory", password: Buffer.from("alice-pw") }, 4);
  });

  it("refuses a user name without password with CONNACK 0x04", async () => {
    await expectRefused({ clientId: "nopw", username: "alice" }, 4);
  });

  it("refuses an anonymous client with CONNACK 0x05 when anonymous is false", async () => {
    const refused = f.b.broker.stats.connectionsRefused;
    await expectRefused({ clientId: "anon" }, 5);
    expect(f.b.broker.stats.connectionsRefused).toBe(refused + 1);
  });
});

describe("ACL auth: PUBLISH and SUBSCRIBE", () => {
  it("[MQTT-3.3.5-2] %c lets a client publish to its own topic but not another's; the refused publish is acked and counted", async () => {
    const admin = await login("admin", "watch-pub");
    expect(await admin.subscribe([["devices/#", 1]])).toEqual([1]);
    const dev = await login("alice", "dev1");
    const denied = f.b.broker.stats.publishDenied;
    await publish1(dev, "devices/dev2/temp", "stolen", 1);
    expect(f.b.broker.stats.publishDenied).toBe(denied + 1);
    await publish1(dev, "devices/dev1/temp", "21.5", 2);
    // The permitted message, sent second, is the first and only one the subscriber gets.
    const msg = await admin.expect("publish");
    expect(msg.topic).toBe("devices/dev1/temp");
    expect(text(msg)).toBe("21.5");
    expect(await admin.silentFor(100)).toBe(true);
    expect(dev.closed).toBe(false);
  });

  it("a denied filter gets 0x80 while another filter of the same SUBSCRIBE is granted", async () => {
    const dev = await login("alice", "dev3");
    expect(await dev.subscribe([["commands/dev4/#", 1], ["commands/dev3/#", 1], ["#", 0]])).toEqual([0x80, 1, 0x80]);
    const admin = await login("admin", "cmd-pub");
    await publish1(admin, "commands/dev4/reboot", "not yours", 1);
    await publish1(admin, "commands/dev3/reboot", "yours", 2);
    const msg = await dev.expect("publish");
    expect(msg).toMatchObject({ topic: "commands/dev3/reboot", qos: 1 });
    expect(text(msg)).toBe("yours");
    expect(await dev.silentFor(100)).toBe(true);
  });

  it("maxQos caps the QoS granted in SUBACK and the QoS of deliveries", async () => {
    const fleet = await login("fleet", "fleet1");
    expect(await fleet.subscribe([["telemetry/alerts", 2], ["telemetry/data/#", 2]])).toEqual([1, 0]);
    const admin = await login("admin", "tele-pub");
    admin.send({ cmd: "publish", topic: "telemetry/alerts", payload: Buffer.from("fire"), qos: 2, messageId: 1, retain: false, dup: false });
    await admin.expect("pubrec");
    const alert = await fleet.expect("publish");
    expect(alert).toMatchObject({ topic: "telemetry/alerts", qos: 1 });
    fleet.send({ cmd: "puback", messageId: alert.messageId });
    admin.send({ cmd: "publish", topic: "telemetry/data/t1", payload: Buffer.from("20"), qos: 2, messageId: 2, retain: false, dup: false });
    await admin.expect("pubrec");
    expect(await fleet.expect("publish")).toMatchObject({ topic: "telemetry/data/t1", qos: 0 });
  });

  it("a client id with '#' or '+' gains no wildcard access through %c", async () => {
    const admin = await login("admin", "watch-wild");
    expect(await admin.subscribe([["devices/#", 0]])).toEqual([0]);
    const hash = await login("alice", "#");
    const denied = f.b.broker.stats.publishDenied;
    await publish1(hash, "devices/victim/temp", "injected", 1);
    await publish1(hash, "devices/x", "parent", 2);
    expect(f.b.broker.stats.publishDenied).toBe(denied + 2);
    expect(await hash.subscribe([["commands/#", 0], ["commands/victim/#", 0]])).toEqual([0x80, 0x80]);
    const plus = await login("alice", "+");
    expect(await plus.subscribe([["commands/+/#", 0], ["commands/victim/#", 0]])).toEqual([0x80, 0x80]);
    await publish1(plus, "devices/victim/temp", "injected", 1);
    expect(f.b.broker.stats.publishDenied).toBe(denied + 3);
    // The watcher saw none of it; a legitimate publish still goes through.
    const dev = await login("alice", "dev9");
    await publish1(dev, "devices/dev9/ok", "fine", 1);
    expect(text(await admin.expect("publish"))).toBe("fine");
  });
});
