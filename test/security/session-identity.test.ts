import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAclAuth, loadAclFile } from "../../core/auth/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { useRedisStores } from "../helpers/redis-stores.js";
import { aclDoc, connectAs, leave, publish1, text, until } from "./support.js";

/*
 * Issue 12, point 1: a persistent session belongs to the identity that created it (docs/security.md,
 * "Sessions and identities"). Real broker, real sockets, the ACL authenticator.
 */

describe("a session belongs to the identity that created it (memory store)", () => {
  const store = new MemoryStore();
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({}, createAclAuth(await aclDoc()), store);
  });
  afterAll(async () => {
    await b.close();
  });

  it("eve cannot take over alice's offline session (0x05); alice's queued messages stay and she resumes with them", async () => {
    const [alice, ok] = await connectAs(b.mqttPort, "alice", { clientId: "alice-1", clean: false });
    expect(ok.returnCode).toBe(0);
    expect(await alice.subscribe("secrets/#", 1)).toEqual([1]);
    await leave(alice, store, "alice-1");
    await publish1(b.mqttPort, "secrets/plan", "for alice only");
    const epoch = (await store.getSession("alice-1"))?.epoch;

    for (const clean of [false, true]) {
      const [eve, refused] = await connectAs(b.mqttPort, "eve", { clientId: "alice-1", clean });
      expect(refused).toEqual({ returnCode: 5, sessionPresent: false });
      await eve.waitClosed();
      expect(eve.buffered.filter((p) => p.cmd === "publish")).toEqual([]);
    }
    // Untouched: same epoch, still offline, subscription and queued message intact.
    const kept = await store.getSession("alice-1");
    expect(kept).toMatchObject({ epoch, node: null, identity: "user:alice", subscriptions: { "secrets/#": 1 } });
    expect(kept?.outgoing.map((o) => o.msg.payload.toString())).toEqual(["for alice only"]);

    const [back, resumed] = await connectAs(b.mqttPort, "alice", { clientId: "alice-1", clean: false });
    expect(resumed).toEqual({ returnCode: 0, sessionPresent: true });
    const msg = await back.expect("publish");
    expect([msg.topic, text(msg)]).toEqual(["secrets/plan", "for alice only"]);
    back.send({ cmd: "puback", messageId: msg.messageId as number });
    back.destroy();
  });

  it("eve's CONNECT leaves alice's live connection alone: it stays open and keeps receiving", async () => {
    const [alice, ok] = await connectAs(b.mqttPort, "alice", { clientId: "alice-live", clean: false });
    expect(ok.returnCode).toBe(0);
    await alice.subscribe("secrets/#", 1);
    let takeovers = 0;
    const onDisconnect = (clientId: string, reason: string): void => {
      if (clientId === "alice-live" && reason === "takeover") takeovers++;
    };
    b.broker.on("client.disconnected", onDisconnect);
    for (const clean of [false, true]) {
      const [eve, refused] = await connectAs(b.mqttPort, "eve", { clientId: "alice-live", clean });
      expect(refused.returnCode).toBe(5);
      await eve.waitClosed();
    }
    await publish1(b.mqttPort, "secrets/live", "still yours");
    const msg = await alice.expect("publish");
    expect(text(msg)).toBe("still yours");
    expect(alice.closed).toBe(false);
    expect(takeovers).toBe(0);
    b.broker.off("client.disconnected", onDisconnect);
    expect(b.broker.stats.sessionsRefused.identity).toBeGreaterThanOrEqual(4);
    alice.destroy();
  });

  it("an anonymous client cannot take a user's session, nor a user an anonymous client's", async () => {
    const [alice, ok] = await connectAs(b.mqttPort, "alice", { clientId: "shared-id", clean: false });
    expect(ok.returnCode).toBe(0);
    await leave(alice, store, "shared-id");
    const [anon, refused] = await connectAs(b.mqttPort, null, { clientId: "shared-id", clean: false });
    expect(refused.returnCode).toBe(5);
    await anon.waitClosed();

    const [anon2, ok2] = await connectAs(b.mqttPort, null, { clientId: "anon-dev", clean: false });
    expect(ok2.returnCode).toBe(0);
    await leave(anon2, store, "anon-dev");
    const [user, refused2] = await connectAs(b.mqttPort, "eve", { clientId: "anon-dev", clean: true });
    expect(refused2.returnCode).toBe(5);
    await user.waitClosed();
    expect((await store.getSession("anon-dev"))?.identity).toBe("anonymous");
  });

  it("the owner itself may still take over its own live session and start clean", async () => {
    const [first] = await connectAs(b.mqttPort, "eve", { clientId: "eve-1", clean: false });
    const [second, ok] = await connectAs(b.mqttPort, "eve", { clientId: "eve-1", clean: true });
    expect(ok).toEqual({ returnCode: 0, sessionPresent: false });
    await first.waitClosed();
    second.destroy();
  });
});

describe("auth.clientIdPattern", () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({ auth: { clientIdPattern: "%u-*" } }, createAclAuth(await aclDoc()));
  });
  afterAll(async () => {
    await b.close();
  });

  it("a user may only use client ids matching the pattern; others get 0x05 before the password is checked", async () => {
    const [good, ok] = await connectAs(b.mqttPort, "alice", { clientId: "alice-sensor-1" });
    expect(ok.returnCode).toBe(0);
    good.destroy();
    for (const clientId of ["eve-1", "alice", "xalice-1", "bob-alice-1"]) {
      const [bad, refused] = await connectAs(b.mqttPort, "alice", { clientId });
      expect([clientId, refused.returnCode]).toEqual([clientId, 5]);
      await bad.waitClosed();
    }
    // A wrong password with a non-matching id: 0x05 without hashing anything.
    const [wrong, refused] = await connectAs(b.mqttPort, null, { clientId: "alice-1", username: "eve", password: Buffer.from("nope") });
    expect(refused.returnCode).toBe(5);
    await wrong.waitClosed();
    expect(b.broker.stats.sessionsRefused["client-id"]).toBe(5);
  });

  it("anonymous clients match no pattern with %u (0x05); an id the broker assigns is always allowed", async () => {
    const [anon, refused] = await connectAs(b.mqttPort, null, { clientId: "anything" });
    expect(refused.returnCode).toBe(5);
    await anon.waitClosed();
    const [assigned, ok] = await connectAs(b.mqttPort, null, { clientId: "", clean: true });
    expect(ok.returnCode).toBe(0);
    assigned.destroy();
  });
});

describe("restored subscriptions are re-checked against the current rules (Redis store, broker restarted with a new ACL file)", () => {
  const redis = useRedisStores();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mqgate-acl-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a subscription the new rules refuse is removed (durably, reported), a downgraded one is downgraded, queued messages it caught are dropped", async () => {
    const { store, cleanup } = await redis.factory();
    const aclFile = join(dir, "acl.json");
    await writeFile(aclFile, JSON.stringify(await aclDoc(["secrets/#", "public/#"])));
    let b = await startTestBroker({ auth: { mode: "acl", aclFile } }, await loadAclFile(aclFile), store);
    const [alice, ok] = await connectAs(b.mqttPort, "alice", { clientId: "alice-r", clean: false });
    expect(ok.returnCode).toBe(0);
    expect(await alice.subscribe([["secrets/#", 1], ["public/#", 2]])).toEqual([1, 2]);
    await leave(alice, store, "alice-r");
    await publish1(b.mqttPort, "secrets/old", "revoked");
    await publish1(b.mqttPort, "public/news", "allowed");
    await b.close();

    // The operator takes secrets/# away and caps public/# at QoS 1, then restarts the broker.
    await writeFile(aclFile, JSON.stringify(await aclDoc([{ filter: "public/#", maxQos: 1 }])));
    b = await startTestBroker({ auth: { mode: "acl", aclFile } }, await loadAclFile(aclFile), store);
    try {
      const unsubscribed: [string, string, string][] = [];
      const subscribed: [string, number, number, string][] = [];
      b.broker.on("session.unsubscribed", (clientId, filter, source) => unsubscribed.push([clientId, filter, source]));
      b.broker.on("session.subscribed", (clientId, filter, qos, requested, source) => subscribed.push([filter, qos, requested, source]));
      // The restarted broker knows the owner from the store: eve is refused before anything is touched.
      const [eve, refused] = await connectAs(b.mqttPort, "eve", { clientId: "alice-r", clean: true });
      expect(refused.returnCode).toBe(5);
      await eve.waitClosed();
      const [back, resumed] = await connectAs(b.mqttPort, "alice", { clientId: "alice-r", clean: false });
      expect(resumed).toEqual({ returnCode: 0, sessionPresent: true });
      const msg = await back.expect("publish");
      expect([msg.topic, text(msg)]).toEqual(["public/news", "allowed"]);
      back.send({ cmd: "puback", messageId: msg.messageId as number });
      expect(unsubscribed).toEqual([["alice-r", "secrets/#", "policy"]]);
      expect(subscribed).toEqual([["public/#", 1, 2, "policy"]]);
      await until(async () => {
        const s = await store.getSession("alice-r");
        return JSON.stringify(s?.subscriptions) === JSON.stringify({ "public/#": 1 }) && s?.outgoing.length === 0;
      }, "the store to hold only public/# at QoS 1 and no queued message");

      // Live traffic on the revoked filter no longer reaches alice.
      await publish1(b.mqttPort, "secrets/new", "revoked too");
      await publish1(b.mqttPort, "public/next", "fine");
      const next = await back.expect("publish");
      expect([next.topic, next.qos]).toEqual(["public/next", 1]);
      expect(await back.silentFor(200)).toBe(true);
      back.destroy();
    } finally {
      await b.close();
      await cleanup();
    }
  });
});
