import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("keepalive (no server maximum)", () => {
  const f = useBroker();

  it("[MQTT-3.1.2-24] closes a client silent for 1.5 x keepalive (1 s), not before, and publishes its will", async () => {
    const w = await f.raw();
    await w.subscribe("ka/will", 0);
    const c = await f.raw({
      keepalive: 1,
      will: { topic: "ka/will", payload: Buffer.from("silent"), qos: 0, retain: false },
    });
    await sleep(1000);
    expect(c.closed).toBe(false);
    await c.waitClosed(3000);
    const will = await w.expect("publish");
    expect(Buffer.from(will.payload).toString()).toBe("silent");
  });

  it("[MQTT-3.12.4-1] answers PINGREQ with PINGRESP, and PINGREQs keep the connection open past 1.5 s", async () => {
    const c = await f.raw({ keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      c.send({ cmd: "pingreq" });
      await c.expect("pingresp");
      await sleep(500);
    }
    expect(c.closed).toBe(false);
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
  });

  it("[MQTT-3.1.2-23] any control packet (here PUBLISH QoS 0) resets the keepalive timer", async () => {
    const c = await f.raw({ keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      c.send({ cmd: "publish", topic: "ka/traffic", payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
      await sleep(500);
    }
    expect(c.closed).toBe(false);
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
  });

  it("keepalive 0 turns the mechanism off: a silent client is not closed", async () => {
    const c = await f.raw({ keepalive: 0 });
    expect(await c.silentFor(2000)).toBe(true);
    expect(c.closed).toBe(false);
    c.send({ cmd: "pingreq" });
    await c.expect("pingresp");
  });
});

describe("keepalive with limits.maxKeepaliveSeconds = 1", () => {
  const f = useBroker({ limits: { maxKeepaliveSeconds: 1 } });

  it("clamps a client keepalive of 60 and of 0 to 1 s: both silent clients are closed", async () => {
    const long = await f.raw({ keepalive: 60 });
    const off = await f.raw({ keepalive: 0 });
    await sleep(1000);
    expect(long.closed).toBe(false);
    expect(off.closed).toBe(false);
    await Promise.all([long.waitClosed(3000), off.waitClosed(3000)]);
  });

  it("a clamped client that sends PINGREQ stays connected", async () => {
    const c = await f.raw({ keepalive: 60 });
    for (let i = 0; i < 5; i++) {
      await sleep(500);
      c.send({ cmd: "pingreq" });
      await c.expect("pingresp");
    }
    expect(c.closed).toBe(false);
  });
});
