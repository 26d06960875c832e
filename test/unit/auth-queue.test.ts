import { getHeapSpaceStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { addressKey } from "../../core/auth/address.js";
import { AuthCancelledError, FairQueue } from "../../core/auth/fair-queue.js";
import type { AuthBusyError } from "../../core/auth/fair-queue.js";
import { parseStoredHash } from "../../core/auth/password.js";
import { PasswordVerifier } from "../../core/auth/verifier.js";
import { AddressLimits } from "../../broker/address-limits.js";
import { fullGc } from "../helpers/gc.js";

/** A task the test finishes by hand, recording the order in which tasks started. */
function gate(started: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { task: () => (started.push(name), done.then(() => name)), open: () => open() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("FairQueue", () => {
  it("runs at most `concurrency` tasks and serves waiting sources round-robin", async () => {
    const q = new FairQueue({ concurrency: 2, maxPending: 100, maxWaitMs: 0 });
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const add = (source: string, name: string) => {
      const g = gate(started, name);
      gates.set(name, g);
      return q.run(source, g.task);
    };
    const results = [add("a", "a1"), add("a", "a2"), add("a", "a3"), add("a", "a4"), add("b", "b1"), add("c", "c1"), add("b", "b2")];
    expect(started).toEqual(["a1", "a2"]);
    expect(q.stats()).toMatchObject({ running: 2, pending: 5, sources: 3 });
    for (const name of ["a1", "a2", "a3", "b1", "c1", "a4", "b2"]) {
      gates.get(name)!.open();
      await tick();
    }
    expect(await Promise.all(results)).toEqual(["a1", "a2", "a3", "a4", "b1", "c1", "b2"]);
    // a1, a2 ran first; then one per source in turn: a3 (a was first in line), b1, c1, a4, b2.
    expect(started).toEqual(["a1", "a2", "a3", "b1", "c1", "a4", "b2"]);
    expect(q.stats()).toMatchObject({ running: 0, pending: 0, completed: 7 });
  });

  it("when full, sheds the newest task of the busiest source for a task from a quieter one; refuses the busiest itself", async () => {
    const q = new FairQueue({ concurrency: 1, maxPending: 4, maxWaitMs: 0 });
    const started: string[] = [];
    const first = gate(started, "x0");
    void q.run("flood", first.task);
    const gates = [1, 2, 3, 4].map((i) => gate(started, `x${i}`));
    const outcomes = gates.map((g) => q.run("flood", g.task).then(() => "ran", (e: Error) => `${e.name}:${(e as AuthBusyError).why}`));
    await expect(q.run("flood", gate(started, "x5").task)).rejects.toMatchObject({ name: "AuthBusyError", why: "queue-full", returnCode: 3 });
    const device = gate(started, "device");
    const deviceDone = q.run("device", device.task);
    expect(await outcomes[3]).toBe("AuthBusyError:shed");
    expect(q.stats()).toMatchObject({ pending: 4, shed: 1, rejectedFull: 1 });
    first.open();
    await tick();
    gates[0]!.open();
    await tick();
    // Round-robin: the flood's first waiting task, then the device, before the rest of the flood.
    expect(started).toEqual(["x0", "x1", "device"]);
    device.open();
    expect(await deviceDone).toBe("device");
  });

  it("drops a waiting task at once when its signal aborts, and frees its place", async () => {
    const q = new FairQueue({ concurrency: 1, maxPending: 1, maxWaitMs: 0 });
    const started: string[] = [];
    const running = gate(started, "r");
    void q.run("a", running.task);
    const ac = new AbortController();
    const waiting = q.run("a", gate(started, "w").task, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(AuthCancelledError);
    expect(q.stats()).toMatchObject({ pending: 0, cancelled: 1 });
    const next = q.run("a", async () => "next");
    running.open();
    expect(await next).toBe("next");
    expect(started).toEqual(["r"]);
    await expect(q.run("a", async () => 1, AbortSignal.abort())).rejects.toBeInstanceOf(AuthCancelledError);
  });

  it("refuses a source's new tasks at once while its oldest waiting task has waited over maxWaitMs; other sources get in", async () => {
    let now = 0;
    const q = new FairQueue({ concurrency: 1, maxPending: 1000, maxWaitMs: 1000, now: () => now });
    const started: string[] = [];
    const hold = gate(started, "hold");
    void q.run("a", hold.task);
    const queued = [q.run("flood", async () => 0)];
    now += 1000;
    queued.push(q.run("flood", async () => 1)); // the oldest has waited exactly the limit: accepted
    now += 1;
    await expect(q.run("flood", async () => 2)).rejects.toMatchObject({ name: "AuthBusyError", why: "wait-too-long", returnCode: 3 });
    // A source with nothing waiting is let in, however long the others wait.
    const other = q.run("other", async () => "other");
    hold.open();
    expect(await other).toBe("other");
    expect(await Promise.all(queued)).toEqual([0, 1]);
    expect(q.stats().rejectedWait).toBe(1);
    // Drained: the source may queue again.
    expect(await q.run("flood", async () => 3)).toBe(3);
  });
});

describe("PasswordVerifier cache", () => {
  // PBKDF2 with 1 iteration: salt and hash as mosquitto_passwd would write them.
  const stored = parseStoredHash("$7$1$AAAAAAAAAAAAAAAA$" + Buffer.alloc(64).toString("base64"));

  it("remembers successes for cacheSeconds only, never failures, keyed on the stored hash too", async () => {
    let now = 1_000_000;
    const v = new PasswordVerifier({ hashConcurrency: 1, maxPending: 10, maxWaitMs: 0, cacheSeconds: 60, cacheMaxEntries: 10, now: () => now });
    const { pbkdf2Sync } = await import("node:crypto");
    const real = { ...stored, hash: pbkdf2Sync("pw", stored.salt, 1, 64, "sha512") };
    expect(await v.verify("u", Buffer.from("pw"), real, "1.2.3.4")).toBe(true);
    expect(v.stats()).toMatchObject({ completed: 1, cacheHits: 0, cacheMisses: 1, cacheEntries: 1 });
    expect(await v.verify("u", Buffer.from("pw"), real, "1.2.3.4")).toBe(true);
    expect(v.stats()).toMatchObject({ completed: 1, cacheHits: 1 });
    // A wrong password is hashed every time and never cached.
    expect(await v.verify("u", Buffer.from("px"), real, "1.2.3.4")).toBe(false);
    expect(await v.verify("u", Buffer.from("px"), real, "1.2.3.4")).toBe(false);
    expect(v.stats()).toMatchObject({ completed: 3, cacheEntries: 1 });
    // The user's hash changed (new salt): the old password no longer matches, cache or not.
    const changed = { ...real, salt: Buffer.alloc(12, 9), hash: pbkdf2Sync("new", Buffer.alloc(12, 9), 1, 64, "sha512") };
    expect(await v.verify("u", Buffer.from("pw"), changed, "1.2.3.4")).toBe(false);
    // Another user with the same hash entry is another key.
    expect(await v.verify("w", Buffer.from("pw"), real, "1.2.3.4")).toBe(true);
    expect(v.stats().completed).toBe(5);
    // Past the TTL the hash is computed again.
    now += 61_000;
    expect(await v.verify("u", Buffer.from("pw"), real, "1.2.3.4")).toBe(true);
    expect(v.stats().completed).toBe(6);
  });

  it("keeps at most cacheMaxEntries, oldest first out, and never the password", async () => {
    const { pbkdf2Sync } = await import("node:crypto");
    const v = new PasswordVerifier({ hashConcurrency: 1, maxPending: 10, maxWaitMs: 0, cacheSeconds: 60, cacheMaxEntries: 2 });
    const users = ["a", "b", "c"].map((u) => ({ u, h: { ...stored, hash: pbkdf2Sync(`pw-${u}`, stored.salt, 1, 64, "sha512") } }));
    for (const { u, h } of users) expect(await v.verify(u, Buffer.from(`pw-${u}`), h, "s")).toBe(true);
    expect(v.stats().cacheEntries).toBe(2);
    const before = v.stats().completed;
    await v.verify("a", Buffer.from("pw-a"), users[0]!.h, "s"); // evicted: hashed again
    await v.verify("c", Buffer.from("pw-c"), users[2]!.h, "s"); // kept
    expect(v.stats().completed).toBe(before + 1);
    const cache = (v as unknown as { cache: Map<string, number> }).cache;
    for (const key of cache.keys()) expect(key).not.toContain("pw-");
  });

  it("cacheSeconds 0 turns the cache off", async () => {
    const v = new PasswordVerifier({ hashConcurrency: 1, maxPending: 10, maxWaitMs: 0, cacheSeconds: 0, cacheMaxEntries: 2 });
    await v.verify("u", Buffer.from("x"), stored, "s");
    await v.verify("u", Buffer.from("x"), stored, "s");
    expect(v.stats()).toMatchObject({ completed: 2, cacheHits: 0, cacheMisses: 0, cacheEntries: 0 });
  });
});

describe("addressKey", () => {
  it.each([
    ["127.0.0.1:5555", "127.0.0.1"],
    ["10.1.2.3", "10.1.2.3"],
    ["::ffff:192.0.2.7:40000", "192.0.2.7"],
    ["2001:db8:1:2:3:4:5:6:443", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::9", "2001:db8:1:2::/64"],
    ["2001:DB8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["[fe80::1%eth0]:80", "fe80:0:0:0::/64"],
  ])("%s -> %s", (remote, key) => {
    expect(addressKey(remote)).toBe(key);
  });
});

describe("AddressLimits", () => {
  const limits = { maxConnectionsPerAddress: 2, connectionRatePerAddress: 10, connectionBurstPerAddress: 3, maxTrackedAddresses: 2 };

  it("caps open connections per address and gives slots back on release", () => {
    const l = new AddressLimits({ ...limits, connectionRatePerAddress: 0 });
    const a = l.admit("1.1.1.1:1");
    const b = l.admit("1.1.1.1:2");
    expect(l.admit("1.1.1.1:3")).toEqual({ refused: "address-connections" });
    expect("key" in l.admit("2.2.2.2:1")).toBe(true);
    if ("key" in a) l.release(a.key);
    expect("key" in l.admit("1.1.1.1:4")).toBe(true);
    expect(l.refusals()["address-connections"]).toBe(1);
    void b;
  });

  it("limits the rate with a token bucket (burst, then `rate` per second)", () => {
    let now = 0;
    const l = new AddressLimits({ ...limits, maxConnectionsPerAddress: 0 }, () => now);
    const admitted = () => ("key" in l.admit("3.3.3.3:1") ? 1 : 0);
    expect([admitted(), admitted(), admitted(), admitted()]).toEqual([1, 1, 1, 0]);
    now += 100; // 10/s: one token back
    expect([admitted(), admitted()]).toEqual([1, 0]);
    now += 10_000; // refills to the burst, no more
    expect([admitted(), admitted(), admitted(), admitted()]).toEqual([1, 1, 1, 0]);
    expect(l.refusals()["address-rate"]).toBe(3);
  });

  it("forgets idle addresses beyond maxTrackedAddresses, never busy ones", () => {
    const l = new AddressLimits({ ...limits, connectionRatePerAddress: 0 });
    const busy = l.admit("4.4.4.4:1");
    const idle = l.admit("5.5.5.5:1");
    if ("key" in idle) l.release(idle.key);
    l.admit("6.6.6.6:1");
    expect(l.trackedAddresses).toBe(2);
    expect(l.openFrom("4.4.4.4")).toBe(1);
    expect(l.openFrom("6.6.6.6")).toBe(1);
    // Only busy addresses left: the table grows past the bound rather than lose a count.
    l.admit("7.7.7.7:1");
    expect(l.trackedAddresses).toBe(3);
    void busy;
  });

  it("a burst from one address leaves no garbage in the old generation", () => {
    const l = new AddressLimits({ maxConnectionsPerAddress: 0, connectionRatePerAddress: 0, connectionBurstPerAddress: 1, maxTrackedAddresses: 3 });
    for (const a of ["1.0.0.1", "1.0.0.2", "1.0.0.3"]) {
      const r = l.admit(`${a}:1`);
      if ("key" in r) l.release(r.key);
    }
    // Two full collections: the table is in the old generation, as in a broker that has run for a while.
    fullGc();
    fullGc();
    const oldUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")?.space_used_size ?? Number.NaN;
    const before = oldUsed();
    for (let i = 0; i < 100_000; i++) {
      const r = l.admit(`1.0.0.3:${i}`);
      if ("key" in r) l.release(r.key);
    }
    // Moving the newest entry to the end again rehashed the table every few connections, into the old generation
    // (7.7 MB here). The loop's other allocations die young.
    expect(oldUsed() - before).toBeLessThan(500_000);
    expect(l.trackedAddresses).toBe(3);
  });

  it("keeps the least recently seen order when the newest address is seen again", () => {
    const l = new AddressLimits({ maxConnectionsPerAddress: 0, connectionRatePerAddress: 1, connectionBurstPerAddress: 1, maxTrackedAddresses: 2 }, () => 0);
    // A forgotten address starts again with a full bucket: admitted. One still counted has no token left: refused.
    const admitted = (address: string) => {
      const r = l.admit(`${address}:1`);
      if (!("key" in r)) return false;
      l.release(r.key);
      return true;
    };
    expect(admitted("1.0.0.1")).toBe(true);
    expect(admitted("1.0.0.2")).toBe(true);
    expect(admitted("1.0.0.1")).toBe(false); // seen again: now the most recently seen
    expect(admitted("1.0.0.1")).toBe(false); // and again, where it already is
    expect(admitted("1.0.0.3")).toBe(true); // 1.0.0.2, the least recently seen, is forgotten; 1.0.0.1 is kept
    expect(admitted("1.0.0.1")).toBe(false);
    expect(admitted("1.0.0.2")).toBe(true);
  });
});
