import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIN_REAUTH_INTERVAL_MS } from "../../broker/handlers/reauth5.js";
import { useBroker } from "../helpers/fixture.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { connectNonce, NONCE, NONCE_ANSWER, NONCE_METHOD, nonceAuth, reauthenticate, sendReauth } from "../protocol5/support.js";

/**
 * The bounds on MQTT 5 re-authentication (4.12.1; docs/security.md, "MQTT 5"): an exchange finishes within
 * `limits.connectTimeoutMs` and takes at most 8 backend steps, one exchange runs at a time, and a connection starts
 * at most one per MIN_REAUTH_INTERVAL_MS, so a client re-authenticating in a loop cannot make unbounded backend calls.
 */

async function open5(port: number): Promise<RawClient> {
  return RawClient.open(port, "127.0.0.1", undefined, 5);
}

async function closedWith(c: RawClient, reasonCode: number): Promise<void> {
  expect(await c.expect("disconnect")).toMatchObject({ reasonCode });
  await c.waitClosed();
}

describe("re-authentication, bounded in time and steps", () => {
  const auth = nonceAuth();
  const f = useBroker({ limits: { connectTimeoutMs: 500 } }, auth);

  async function connected(clientId: string): Promise<RawClient> {
    const c = f.track(await open5(f.b.mqttPort));
    await connectNonce(c, clientId);
    return c;
  }

  it("a client that never answers the re-authentication challenge is closed after limits.connectTimeoutMs with DISCONNECT 0x87", async () => {
    const c = await connected("rb-silent");
    sendReauth(c);
    expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x18, properties: { authenticationData: NONCE } });
    // Meanwhile the connection works.
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
    expect(await c.expect("disconnect", 3000)).toMatchObject({ reasonCode: 0x87, properties: { reasonString: expect.stringContaining("connectTimeoutMs") } });
    await c.waitClosed();
  });

  it("a backend that never decides: after limits.connectTimeoutMs DISCONNECT 0x87, and the backend's call is aborted", async () => {
    const c = await connected("rb-hang");
    const aborted = auth.steps.aborted;
    sendReauth(c, "hang");
    expect(await c.expect("disconnect", 3000)).toMatchObject({ reasonCode: 0x87 });
    await c.waitClosed();
    expect(auth.steps.aborted).toBe(aborted + 1);
  });

  it("a backend that challenges for ever: 8 steps (7 challenges), then DISCONNECT 0x87", async () => {
    const c = await connected("rb-loop");
    const before = auth.steps.count;
    sendReauth(c, "loop");
    for (let i = 0; i < 7; i++) {
      expect(await c.expect("auth")).toMatchObject({ reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD } });
      c.send({ cmd: "auth", reasonCode: 0x18, properties: { authenticationMethod: NONCE_METHOD, authenticationData: NONCE_ANSWER } });
    }
    await closedWith(c, 0x87);
    expect(auth.steps.count - before).toBe(8);
  });

  it("one exchange at a time: 50 AUTH 0x19 sent back to back make one backend call, then DISCONNECT 0x82", async () => {
    const c = await connected("rb-burst");
    const before = auth.steps.count;
    for (let i = 0; i < 50; i++) sendReauth(c);
    // The first one's challenge may come out before the second one is read.
    let p = await c.next();
    if (p.cmd === "auth") p = await c.next();
    expect(p).toMatchObject({ cmd: "disconnect", reasonCode: 0x82 });
    await c.waitClosed();
    expect(auth.steps.count - before).toBe(1);
  });
});

describe(`re-authentication, at most one per ${MIN_REAUTH_INTERVAL_MS} ms per connection`, () => {
  const auth = nonceAuth();
  let now = Date.now();
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({}, auth, undefined, { now: () => now });
  });
  afterAll(async () => {
    await b.close();
  });

  it("a second re-authentication 1 ms before the interval ends: DISCONNECT 0x97, counted, no backend call", async () => {
    const c = await open5(b.mqttPort);
    try {
      await connectNonce(c, "rr-soon");
      await reauthenticate(c);
      now += MIN_REAUTH_INTERVAL_MS - 1;
      const steps = auth.steps.count;
      const hits = b.broker.stats.limitHits["reauth-rate"];
      sendReauth(c);
      expect(await c.expect("disconnect")).toMatchObject({ reasonCode: 0x97 });
      await c.waitClosed();
      expect(auth.steps.count).toBe(steps);
      expect(b.broker.stats.limitHits["reauth-rate"]).toBe(hits + 1);
    } finally {
      c.destroy();
    }
  });

  it("a second re-authentication when the interval has passed is served", async () => {
    const c = await open5(b.mqttPort);
    try {
      await connectNonce(c, "rr-later");
      await reauthenticate(c);
      now += MIN_REAUTH_INTERVAL_MS;
      await reauthenticate(c);
      c.send({ cmd: "pingreq" });
      await c.expect("pingresp");
    } finally {
      c.destroy();
    }
  });
});
