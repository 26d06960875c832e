/**
 * Authentication under attack and under storms (issue 12, point 3; decision 010), on a real broker over real
 * sockets. Loopback is a whole /8: clients bind 127.0.0.2, 127.0.0.3, ... to appear as other addresses.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { generate } from "mqtt-packet";
import { afterAll, describe, expect, it } from "vitest";
import { createAclAuth, hashPassword, loadAclFile, PasswordVerifier, VERIFIER_DEFAULTS } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";

const NO_ADDRESS_LIMITS = { maxConnectionsPerAddress: 0, connectionRatePerAddress: 0 };

async function aclWith(user: string, password: string, verifier: PasswordVerifier, N = 16384): Promise<Auth> {
  const hash = await hashPassword(password, { N });
  return createAclAuth({ users: [{ username: user, password: hash }], rules: [{ users: ["*"], allow: { publish: ["devices/%c/#"] } }] }, undefined, { verifier });
}

/** Sockets that each send one CONNECT with an unknown user name, and what they got back. */
class Flood {
  readonly sockets: Socket[] = [];
  readonly codes = new Map<number, number>();
  closed = 0;

  static async start(port: number, n: number, localAddress: string): Promise<Flood> {
    const flood = new Flood();
    const batch = 250;
    for (let i = 0; i < n; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => flood.open(port, i + j, localAddress)));
    }
    return flood;
  }

  private open(port: number, i: number, localAddress: string): Promise<void> {
    return new Promise((resolve) => {
      const s = connect({ port, host: "127.0.0.1", localAddress }, () => {
        s.write(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: `ghost-${i}`, username: `ghost-${i}`, password: Buffer.from("guess") }));
        resolve();
      });
      s.on("data", (d: Buffer) => {
        if (d[0] === 0x20) this.codes.set(d[3]!, (this.codes.get(d[3]!) ?? 0) + 1);
      });
      s.on("error", () => resolve());
      s.on("close", () => this.closed++);
      this.sockets.push(s);
    });
  }

  destroy(): void {
    for (const s of this.sockets) s.destroy();
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("5,000 CONNECTs from unknown users in flight", () => {
  let b: TestBroker | undefined;
  let flood: Flood | undefined;
  afterAll(async () => {
    flood?.destroy();
    await b?.close();
  });

  it("a valid device from another address gets CONNACK 0x00 within 2 s; the flood gets 0x03 or waits its turn, and leaves when it closes", async () => {
    // The defaults of auth.* and scrypt N=16384 (the default hash), as an ACL user would have it.
    const verifier = new PasswordVerifier(VERIFIER_DEFAULTS);
    const auth = await aclWith("device-1", "device-secret", verifier);
    // Per-address limits off, or they would turn most of the flood away at accept before it reaches the queue
    // (that layer has its own tests below); a long connect timeout keeps the flood in flight for the whole test.
    b = await startTestBroker({ limits: { ...NO_ADDRESS_LIMITS, connectTimeoutMs: 30_000 } }, auth);
    flood = await Flood.start(b.mqttPort, 5000, "127.0.0.1");
    const f = flood;
    // Every CONNECT has reached the broker: answered, or waiting for its hash.
    await waitFor("the flood to be read", () => {
      const s = verifier.stats();
      return [...f.codes.values()].reduce((a, n) => a + n, 0) + s.pending + s.running >= 5000;
    });
    const during = verifier.stats();
    expect(during.pending).toBeGreaterThan(0);

    const device = await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.0.2");
    const started = Date.now();
    const connack = await device.connect({ clientId: "device-1", username: "device-1", password: Buffer.from("device-secret") }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    device.destroy();
    expect(connack).toMatchObject({ cmd: "connack", returnCode: 0 });
    expect(elapsed).toBeLessThan(2000);

    // Beyond the queue's bound the flood was answered 0x03 at once; the queue holds at most maxPendingAuth and
    // hashes at most hashConcurrency at a time; unknown users that were hashed got 0x04 like a wrong password.
    const atConnect = verifier.stats();
    const refused = f.codes.get(3) ?? 0;
    expect(atConnect.pending).toBeLessThanOrEqual(VERIFIER_DEFAULTS.maxPending);
    expect(atConnect.running).toBeLessThanOrEqual(VERIFIER_DEFAULTS.hashConcurrency);
    expect(refused).toBeGreaterThanOrEqual(5000 - VERIFIER_DEFAULTS.maxPending - atConnect.completed - atConnect.running);
    // Every refusal the queue counted reached its client as CONNACK 0x03 (a shed one may still be on its way).
    await waitFor("every 0x03 to arrive", () => (f.codes.get(3) ?? 0) === atConnect.rejectedFull + atConnect.rejectedWait + atConnect.shed, 5000);
    expect(f.codes.get(4) ?? 0).toBeLessThanOrEqual(atConnect.completed);

    // The attacker gives up: its waiting checks leave the queue without being hashed.
    f.destroy();
    await waitFor("the queue to empty", () => verifier.stats().pending === 0, 5000);
    const after = verifier.stats();
    expect(after.cancelled).toBeGreaterThan(0);
    expect(after.completed).toBeLessThan(atConnect.completed + atConnect.pending);
  }, 120_000);
});

describe("a full authentication queue", () => {
  it("answers CONNACK 0x03 at once, before any waiting check finishes", async () => {
    const verifier = new PasswordVerifier({ hashConcurrency: 1, maxPending: 2, maxWaitMs: 0, cacheSeconds: 0, cacheMaxEntries: 1 });
    const auth = await aclWith("dev", "pw", verifier, 32768);
    const b = await startTestBroker({ limits: NO_ADDRESS_LIMITS }, auth);
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 8; i++) clients.push(await RawClient.open(b.mqttPort, "127.0.0.1", `127.0.1.${i + 1}`));
      const order: number[] = [];
      const acks = clients.map((c, i) =>
        c.connect({ clientId: `dev-${i}`, username: "dev", password: Buffer.from("pw") }).then((ack) => {
          order.push(ack.returnCode ?? -1);
          return ack.returnCode;
        }),
      );
      const codes = await Promise.all(acks);
      // One hashing, two waiting: three accepted; five refused with 0x03 (shedding never helps: one each per address).
      expect(codes.filter((c) => c === 0)).toHaveLength(3);
      expect(codes.filter((c) => c === 3)).toHaveLength(5);
      expect(order.slice(0, 5)).toEqual([3, 3, 3, 3, 3]);
      expect(verifier.stats()).toMatchObject({ rejectedFull: 5, completed: 3 });
      // The refused clients were closed.
      for (let i = 0; i < 8; i++) if (codes[i] === 3) await clients[i]!.waitClosed();
    } finally {
      for (const c of clients) c.destroy();
      await b.close();
    }
  }, 60_000);
});

describe("per-address limits", () => {
  it("close a socket at accept beyond maxConnectionsPerAddress; other addresses are unaffected; a close frees the slot", async () => {
    const b = await startTestBroker({ limits: { maxConnectionsPerAddress: 3, connectionRatePerAddress: 0 } });
    const open: RawClient[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.2.1"));
      for (const c of open) expect((await c.connect()).returnCode).toBe(0);
      // The 4th from the same address: TCP connects, then the broker closes it without reading or answering.
      const fourth = await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.2.1");
      fourth.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "fourth" });
      await fourth.waitClosed();
      expect(fourth.buffered).toEqual([]);
      expect(b.broker.addressLimits.refusals()["address-connections"]).toBe(1);
      // Another address is served.
      const other = await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.2.2");
      expect((await other.connect()).returnCode).toBe(0);
      other.destroy();
      // One leaves: the address may connect again.
      open.pop()!.destroy();
      await waitFor("the slot to be given back", () => b.broker.addressLimits.openFrom("127.0.2.1") === 2, 5000);
      const again = await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.2.1");
      open.push(again);
      expect((await again.connect()).returnCode).toBe(0);
      expect(b.broker.stats.connectionsRefused).toBe(1);
    } finally {
      for (const c of open) c.destroy();
      await b.close();
    }
  });

  it("close sockets beyond the rate (burst, then connectionRatePerAddress per second); an mqtt client sees a close, no CONNACK, and retries", async () => {
    const b = await startTestBroker({ limits: { maxConnectionsPerAddress: 0, connectionRatePerAddress: 1, connectionBurstPerAddress: 2 } });
    const open: RawClient[] = [];
    try {
      for (let i = 0; i < 2; i++) open.push(await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.3.1"));
      const third = await RawClient.open(b.mqttPort, "127.0.0.1", "127.0.3.1");
      await third.waitClosed();
      expect(b.broker.addressLimits.refusals()["address-rate"]).toBe(1);

      // The mqtt package, from the same address: its first attempts are closed; once a token is back (1 s) it gets in.
      const events: string[] = [];
      const client = new mqtt.MqttClient(() => connect({ port: b!.mqttPort, host: "127.0.0.1", localAddress: "127.0.3.1" }), {
        clientId: "rate-limited",
        reconnectPeriod: 300,
        connectTimeout: 5000,
        protocolVersion: 4,
      });
      client.on("close", () => events.push("close"));
      client.on("error", (e) => events.push(`error:${e.message}`));
      await new Promise<void>((resolve) => client.once("connect", () => resolve()));
      client.end(true);
      expect(events[0]).toBe("close");
      expect(events.some((e) => e.startsWith("error"))).toBe(false);
      expect(b.broker.addressLimits.refusals()["address-rate"]).toBeGreaterThanOrEqual(2);
    } finally {
      for (const c of open) c.destroy();
      await b.close();
    }
  }, 30_000);
});

describe("the verification cache", () => {
  it("lets a reconnect skip the hash; another password or another user does not", async () => {
    const verifier = new PasswordVerifier({ ...VERIFIER_DEFAULTS, cacheSeconds: 60 });
    const b = await startTestBroker({}, await aclWith("dev", "pw", verifier, 1024));
    try {
      const login = async (password: string) => {
        const c = await RawClient.open(b.mqttPort);
        const ack = await c.connect({ clientId: "dev", username: "dev", password: Buffer.from(password) });
        c.destroy();
        return ack.returnCode;
      };
      expect(await login("pw")).toBe(0);
      expect(verifier.stats()).toMatchObject({ completed: 1, cacheHits: 0 });
      expect(await login("pw")).toBe(0);
      expect(verifier.stats()).toMatchObject({ completed: 1, cacheHits: 1 });
      expect(await login("wrong")).toBe(4);
      expect(await login("wrong")).toBe(4);
      expect(verifier.stats()).toMatchObject({ completed: 3, cacheHits: 1, cacheEntries: 1 });
      // Cached or not, the metrics and the auth counters agree.
      expect(b.broker.auth.stats?.().cacheHits).toBe(1);
    } finally {
      await b.close();
    }
  });
});

describe("a Mosquitto password file", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mqgate-mosquitto-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("imports as it is: mosquitto_passwd's users connect with their passwords (mqtt client), others are refused", async () => {
    // Written by mosquitto_passwd 2.0.11 (PBKDF2-SHA512, and -H sha512 for legacy).
    writeFileSync(
      path.join(dir, "passwd"),
      [
        "device-1:$7$101$0I/PK1fR1GiA7Qdx$6VdQiNU+qxmb0mVBxFe5iubcSyonnOiu1xhLtsNXWP1vJ2QEwGTRcJx8gA8SQiWf/MsdXeG4oqOkQHCJhuZcbw==",
        "legacy:$6$H1LfLgg/oyCbcIaz$VMTBqRUofINaGHcLVbJMr+guBcaz78qg13liXVQ2bF0xG3g+non74bzhp2Dosp+3u21omZmtm9wtWJPVTvrjwQ==",
        "",
      ].join("\n"),
    );
    writeFileSync(path.join(dir, "acl.yaml"), 'passwordFile: passwd\nrules:\n  - users: ["*"]\n    allow: { publish: ["devices/%u/#"] }\n');
    const b = await startTestBroker({}, await loadAclFile(path.join(dir, "acl.yaml")));
    const tryConnect = (username: string, password: string) =>
      new Promise<number>((resolve) => {
        const c = mqtt.connect({ host: "127.0.0.1", port: b.mqttPort, username, password, reconnectPeriod: 0, protocolVersion: 4 });
        c.on("connect", () => (c.end(true), resolve(0)));
        c.on("error", (e) => (c.end(true), resolve((e as Error & { code?: number }).code ?? -1)));
      });
    try {
      expect(await tryConnect("device-1", "s3cret-Pa55")).toBe(0);
      expect(await tryConnect("legacy", "old-Pa55")).toBe(0);
      expect(await tryConnect("device-1", "s3cret-Pa56")).toBe(4);
      expect(await tryConnect("nobody", "s3cret-Pa55")).toBe(4);
    } finally {
      await b.close();
    }
  });
});
