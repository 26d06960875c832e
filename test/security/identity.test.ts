import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import type { BackendVerdict } from "../../core/auth/backend.js";
import { AuthChain, createAuthChain } from "../../core/auth/chain.js";
import { clientIdMatches } from "../../core/auth/client-id-pattern.js";
import { hashPassword } from "../../core/auth/password.js";
import { parseRoleRules } from "../../core/auth/role-schema.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startTestBroker } from "../helpers/broker.js";

/**
 * Identities (issue 15) against hostile input: substitution of hostile user names into role patterns, client-id
 * patterns that would backtrack, bounded rules and caches, and credentials that expire while connected.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FAST = { N: 1024, r: 8, p: 1 } as const;

describe("users and roles: hostile input", () => {
  it("a user name with wildcards cannot widen a role's %u pattern (allow dropped, deny fails closed)", async () => {
    const store = new MemoryStore();
    await store.putRole({ name: "r", allow: { publish: ["users/%u/#"], subscribe: ["users/%u/#"] }, deny: { publish: ["x/%u"], subscribe: [] }, updatedAt: 1 });
    for (const name of ["#", "+", "a/b", "$SYS"]) {
      await store.putUser({ username: name, passwordHash: await hashPassword("pw", FAST), clientIdPattern: null, roles: ["r"], disabled: false, createdAt: 1, updatedAt: 1 });
    }
    const chain = await createAuthChain({ mode: "allow-all", backends: ["store"], decisionCacheSeconds: 0 }, { store });
    for (const name of ["#", "+", "a/b", "$SYS"]) {
      const d = await chain.connect({ clientId: "c", username: name, protocolVersion: 4 }, Buffer.from("pw"));
      expect(d.ok, name).toBe(true);
      if (!d.ok) continue;
      expect(d.policy.canPublish("users/other/secret"), name).toBe(false);
      expect(d.policy.canSubscribe("users/#", 1), name).toBeNull();
      expect(d.policy.canPublish("anything"), name).toBe(false);
    }
  });

  it("client-id patterns match in linear time (no regular expressions to backtrack)", () => {
    const id = "a".repeat(60_000);
    const started = process.hrtime.bigint();
    expect(clientIdMatches(`${"*a".repeat(500)}*b`, id, "u")).toBe(false);
    // Generous: a backtracking matcher would take minutes here.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it("role rules are bounded: 1,000 patterns per role, valid topic filters, maxQos 0..2", () => {
    const ok = parseRoleRules({ allow: { publish: Array.from({ length: 1000 }, (_, i) => `t/${i}`) } });
    expect(ok.ok).toBe(true);
    const over = parseRoleRules({ allow: { publish: Array.from({ length: 600 }, (_, i) => `t/${i}`), subscribe: Array.from({ length: 401 }, (_, i) => `s/${i}`) } });
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.issues.map((i) => i.message).join()).toContain("at most 1000 patterns, got 1001");
    const bad = parseRoleRules({ allow: { subscribe: [{ filter: "a/#/b", maxQos: 3 }] }, deny: { publish: [""] }, extra: 1 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.length).toBeGreaterThanOrEqual(3);
  });

  it("the decision cache stays within auth.decisionCacheSize however many distinct passwords a client tries", async () => {
    const chain = new AuthChain([{ name: "b", authenticate: async (): Promise<BackendVerdict> => ({ kind: "allow", policy: { canPublish: () => true, canSubscribe: () => 0 } }) }], {
      cacheSeconds: 60,
      cacheSize: 100,
    });
    for (let i = 0; i < 1000; i++) await chain.connect({ clientId: "c", username: "u", protocolVersion: 4 }, Buffer.from(`pw-${i}`));
    expect(chain.cache.size).toBe(100);
  });
});

describe("credentials that expire", () => {
  it("a connection accepted with an expiresAt is closed when it passes; others stay", async () => {
    const policy = { canPublish: () => true, canSubscribe: (_f: string, q: 0 | 1 | 2) => q };
    const chain = new AuthChain([
      {
        name: "jwt-like",
        authenticate: async (req): Promise<BackendVerdict> => ({ kind: "allow", policy: { ...policy }, ...(req.username === "short" ? { expiresAt: Date.now() + 300 } : {}) }),
      },
    ]);
    const broker = await startTestBroker({}, chain);
    cleanups.push(() => broker.close());
    const connect = (username: string) =>
      mqtt.connectAsync({ host: "127.0.0.1", port: broker.mqttPort, clientId: username, username, password: "x", reconnectPeriod: 0 });
    const connectedAt = Date.now();
    const short = await connect("short");
    const long = await connect("long");
    cleanups.push(async () => void long.end(true));
    const closedAt = await new Promise<number>((r) => short.once("close", () => r(Date.now())));
    expect(closedAt - connectedAt).toBeGreaterThanOrEqual(250); // not before the expiry
    await new Promise((r) => setTimeout(r, 100));
    expect(long.connected).toBe(true);
  });
});
