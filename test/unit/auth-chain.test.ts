import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuthBackend, BackendVerdict } from "../../core/auth/backend.js";
import { aclBackend } from "../../core/auth/acl-backend.js";
import { AuthChain, AuthUnavailableError, createAuthChain } from "../../core/auth/chain.js";
import { clientIdMatches } from "../../core/auth/client-id-pattern.js";
import { createAclAuth, hashPassword } from "../../core/auth/index.js";
import { createStoreBackend } from "../../core/auth/store-backend.js";
import { PasswordVerifier } from "../../core/auth/verifier.js";
import { loadConfig } from "../../core/config/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { ClientInfo } from "../../core/auth/types.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
let aliceHash: string;
let carolHash: string;

beforeAll(async () => {
  aliceHash = await hashPassword("alice-pw", FAST);
  carolHash = await hashPassword("carol-pw", FAST);
});

function client(username: string | undefined, clientId = "c1"): ClientInfo {
  return { clientId, username, protocolVersion: 4 };
}

const pw = (s: string) => Buffer.from(s);

/** A backend that answers what it is told and counts its calls. */
function scripted(name: string, answer: (c: ClientInfo) => BackendVerdict): AuthBackend & { calls: number } {
  const b = {
    name,
    calls: 0,
    async authenticate(c: ClientInfo): Promise<BackendVerdict> {
      b.calls++;
      return answer(c);
    },
  };
  return b;
}

const ALLOW_ALL = { canPublish: () => true, canSubscribe: (_f: string, q: 0 | 1 | 2) => q };

function acl() {
  return aclBackend(
    createAclAuth({
      users: [{ username: "alice", password: aliceHash }],
      rules: [{ users: ["alice"], allow: { publish: ["acl/#"] } }],
    }),
  );
}

async function storeWithCarol() {
  const store = new MemoryStore();
  await store.putRole({ name: "dev", allow: { publish: ["dev/%u/#"], subscribe: ["dev/#"] }, deny: { publish: [], subscribe: ["dev/secret/#"] }, updatedAt: 1 });
  await store.putUser({ username: "carol", passwordHash: carolHash, clientIdPattern: "%u-*", roles: ["dev"], disabled: false, createdAt: 1, updatedAt: 1 });
  return store;
}

describe("auth chain", () => {
  it("asks the backends in order; the first allow or deny decides, 'next' passes on", async () => {
    const a = scripted("a", (c) => (c.username === "x" ? { kind: "deny", returnCode: 5, reason: "no x" } : { kind: "next" }));
    const b = scripted("b", () => ({ kind: "allow", policy: ALLOW_ALL }));
    const chain = new AuthChain([a, b], { cacheSeconds: 0 });
    expect(chain.name).toBe("chain(a,b)");
    expect(await chain.connect(client("x"), pw("p"))).toEqual({ ok: false, returnCode: 5, reason: "no x" });
    expect(b.calls).toBe(0);
    const d = await chain.connect(client("y"), pw("p"));
    expect(d.ok && d.policy).toBe(ALLOW_ALL);
    expect(chain.originOf(ALLOW_ALL)).toEqual({ backend: "b", identity: "y", expiresAt: undefined });
  });

  it("after the last 'next': 0x04 for a user name, 0x05 for an anonymous client", async () => {
    const chain = new AuthChain([scripted("n", () => ({ kind: "next" }))]);
    expect(await chain.connect(client("who"), pw("p"))).toMatchObject({ ok: false, returnCode: 4 });
    expect(await chain.connect(client(undefined), undefined)).toMatchObject({ ok: false, returnCode: 5 });
  });

  it("deny 3 (a backend that cannot decide) and a throwing backend reject: the CONNECT handler answers 0x03", async () => {
    const down = new AuthChain([scripted("http", () => ({ kind: "deny", returnCode: 3, reason: "authorizer down" }))]);
    await expect(down.connect(client("u"), pw("p"))).rejects.toBeInstanceOf(AuthUnavailableError);
    const broken = new AuthChain([{ name: "x", authenticate: () => Promise.reject(new Error("boom")) }]);
    await expect(broken.connect(client("u"), pw("p"))).rejects.toThrow("boom");
  });

  it("caches allows per client id, user name and password (keyed hash, never the password), not refusals", async () => {
    let now = 1000;
    const b = scripted("b", (c) => (c.username === "ok" ? { kind: "allow", policy: ALLOW_ALL } : { kind: "deny", returnCode: 4, reason: "no" }));
    const chain = new AuthChain([b], { cacheSeconds: 10, now: () => now });
    await chain.connect(client("ok"), pw("secret-pw"));
    await chain.connect(client("ok"), pw("secret-pw"));
    expect(b.calls).toBe(1);
    await chain.connect(client("ok"), pw("other-pw")); // another password: asked again
    await chain.connect(client("ok", "c2"), pw("secret-pw")); // another client id: asked again
    expect(b.calls).toBe(3);
    await chain.connect(client("bad"), pw("x"));
    await chain.connect(client("bad"), pw("x"));
    expect(b.calls).toBe(5);
    const key = chain.cache.keyOf(client("ok"), pw("secret-pw"));
    expect(key).not.toContain("secret-pw");
    expect(key).not.toContain(pw("secret-pw").toString("base64"));
    now += 10_000; // TTL over
    await chain.connect(client("ok"), pw("secret-pw"));
    expect(b.calls).toBe(6);
  });

  it("the cache is bounded, honours a backend's cacheMs and expiresAt, and can be switched off", async () => {
    let now = 0;
    const b = scripted("b", (c) => ({ kind: "allow", policy: ALLOW_ALL, ...(c.username === "short" ? { expiresAt: 500 } : {}), ...(c.username === "none" ? { cacheMs: 0 } : {}) }));
    const chain = new AuthChain([b], { cacheSeconds: 60, cacheSize: 3, now: () => now });
    for (const u of ["u1", "u2", "u3", "u4"]) await chain.connect(client(u), pw("p"));
    expect(chain.cache.size).toBe(3);
    await chain.connect(client("u1"), pw("p")); // evicted: asked again
    expect(b.calls).toBe(5);
    await chain.connect(client("none"), pw("p"));
    await chain.connect(client("none"), pw("p"));
    expect(b.calls).toBe(7);
    await chain.connect(client("short"), pw("p"));
    now = 600;
    await chain.connect(client("short"), pw("p"));
    expect(b.calls).toBe(9);
    const off = new AuthChain([b], { cacheSeconds: 0 });
    await off.connect(client("u1"), pw("p"));
    await off.connect(client("u1"), pw("p"));
    expect(b.calls).toBe(11);
  });

  it("invalidate drops one user's decisions, every store decision on a role change, everything when incomplete", async () => {
    const a = scripted("acl", (c) => (c.username === "fileuser" ? { kind: "allow", policy: ALLOW_ALL } : { kind: "next" }));
    const s = scripted("store", () => ({ kind: "allow", policy: { ...ALLOW_ALL } }));
    const chain = new AuthChain([a, s]);
    const connectAll = async () => {
      for (const u of ["fileuser", "u1", "u2"]) await chain.connect(client(u), pw("p"));
    };
    await connectAll();
    expect([a.calls, s.calls]).toEqual([3, 2]);
    chain.invalidate({ users: ["u1"], roles: [], complete: true });
    await connectAll();
    expect([a.calls, s.calls]).toEqual([4, 3]);
    chain.invalidate({ users: [], roles: ["ops"], complete: true });
    await connectAll();
    expect([a.calls, s.calls]).toEqual([6, 5]);
    chain.invalidate({ users: [], roles: [], complete: false });
    await connectAll();
    expect([a.calls, s.calls]).toEqual([9, 7]);
  });
});

describe("identity changes during a CONNECT", () => {
  it("an allow begun before an invalidation is asked again and not cached from the stale answer", async () => {
    let version = 1;
    let chain: AuthChain | null = null;
    const seen: number[] = [];
    const b = scripted("store", () => {
      const v = version;
      seen.push(v);
      // The first answer is computed from version 1; the change lands while it is in flight.
      if (v === 1) {
        version = 2;
        chain!.invalidate({ users: ["u"], roles: [], complete: true });
      }
      return { kind: "allow", policy: { ...ALLOW_ALL, version: v } as typeof ALLOW_ALL };
    });
    chain = new AuthChain([b]);
    const d = await chain.connect(client("u"), pw("p"));
    expect(seen).toEqual([1, 2]);
    expect(d.ok && (d.policy as unknown as { version: number }).version).toBe(2);
    await chain.connect(client("u"), pw("p"));
    expect(b.calls).toBe(2); // the version-2 answer was cached
  });
});

describe("acl and store backends in a chain", () => {
  it("store,acl: store users by their roles, ACL users by the file, unknown users refused with 0x04", async () => {
    const store = await storeWithCarol();
    const chain = new AuthChain([createStoreBackend({ store, verifier: new PasswordVerifier() }), acl()], { cacheSeconds: 0 });
    const carol = await chain.connect(client("carol", "carol-1"), pw("carol-pw"));
    expect(carol.ok).toBe(true);
    if (!carol.ok) return;
    expect(carol.policy.canPublish("dev/carol/x")).toBe(true);
    expect(carol.policy.canPublish("dev/bob/x")).toBe(false);
    expect(carol.policy.canSubscribe("dev/#", 1)).toBe(1);
    expect(carol.policy.canSubscribe("dev/secret/a", 1)).toBeNull();
    const alice = await chain.connect(client("alice"), pw("alice-pw"));
    expect(alice.ok && alice.policy.canPublish("acl/1")).toBe(true);
    expect(await chain.connect(client("alice"), pw("wrong"))).toMatchObject({ ok: false, returnCode: 4 });
    expect(await chain.connect(client("carol", "carol-1"), pw("wrong"))).toMatchObject({ ok: false, returnCode: 4 });
    expect(await chain.connect(client("nobody"), pw("x"))).toMatchObject({ ok: false, returnCode: 4 });
  });

  it("store users: client-id pattern and disabled flag refuse with 0x05, a missing password with 0x04", async () => {
    const store = await storeWithCarol();
    const chain = new AuthChain([createStoreBackend({ store, verifier: new PasswordVerifier() })], { cacheSeconds: 0 });
    expect(await chain.connect(client("carol", "other"), pw("carol-pw"))).toMatchObject({ ok: false, returnCode: 5 });
    expect(await chain.connect(client("carol", "carol-1"), undefined)).toMatchObject({ ok: false, returnCode: 4 });
    await store.putUser({ ...(await store.getUser("carol"))!, disabled: true });
    expect(await chain.connect(client("carol", "carol-1"), pw("carol-pw"))).toMatchObject({ ok: false, returnCode: 5 });
  });

  it("store backend: revalidate follows the store; policyFor answers for identities it has read", async () => {
    const store = await storeWithCarol();
    const backend = createStoreBackend({ store, verifier: new PasswordVerifier() });
    expect(backend.policyFor?.(client("carol", "carol-1"))).toBeUndefined();
    const v = await backend.authenticate(client("carol", "carol-1"), pw("carol-pw"));
    expect(v.kind).toBe("allow");
    if (v.kind === "allow") expect(backend.userOf(v.policy)).toBe("carol");
    expect(backend.policyFor?.(client("carol", "carol-1"))?.canPublish("dev/carol/1")).toBe(true);
    expect(backend.policyFor?.(client("carol", "intruder"))).toBeNull();
    await store.putRole({ name: "dev", allow: { publish: [], subscribe: ["dev/public/#"] }, deny: { publish: [], subscribe: [] }, updatedAt: 2 });
    const p = await backend.revalidate("carol-1", "carol");
    expect(p?.canSubscribe("dev/#", 1)).toBeNull();
    expect(p?.canSubscribe("dev/public/a", 1)).toBe(1);
    await store.deleteUser("carol");
    expect(await backend.revalidate("carol-1", "carol")).toBeNull();
    expect(backend.policyFor?.(client("carol", "carol-1"))).toBeUndefined();
  });

  it("the ACL backend says 'next' for users it does not list and for anonymous clients it does not allow", async () => {
    const b = acl();
    expect(await b.authenticate(client("nobody"), pw("x"))).toEqual({ kind: "next" });
    expect(await b.authenticate(client(undefined), undefined)).toEqual({ kind: "next" });
    expect((await b.authenticate(client("alice"), pw("wrong"))).kind).toBe("deny");
    expect(b.policyFor?.(client("nobody"))).toBeUndefined();
  });

  it("an allow-all decision is not cached (it costs nothing to ask again); the store's still is", async () => {
    const store = await storeWithCarol();
    const chain = await createAuthChain({ mode: "allow-all", backends: ["store", "allow-all"] }, { store });
    for (let i = 0; i < 5; i++) expect((await chain.connect(client(undefined, `anon${i}`), undefined)).ok).toBe(true);
    expect(chain.cache.size).toBe(0);
    expect((await chain.connect(client("carol", "carol-1"), pw("carol-pw"))).ok).toBe(true);
    expect(chain.cache.size).toBe(1);
  });

  it("createAuthChain builds auth.backends in order; 'store' needs the store; unknown backends are named", async () => {
    const store = await storeWithCarol();
    const chain = await createAuthChain({ mode: "allow-all", backends: ["store", "allow-all"] }, { store });
    expect(chain.name).toBe("chain(store,allow-all)");
    expect(await chain.connect(client("carol", "nope"), pw("carol-pw"))).toMatchObject({ ok: false, returnCode: 5 });
    expect((await chain.connect(client("anyone"), undefined)).ok).toBe(true);
    // A user name the store cannot hold (empty, too long) is not a store user: the next backend decides, no 0x03.
    expect((await chain.connect({ clientId: "e", username: "", protocolVersion: 4 }, pw("x"))).ok).toBe(true);
    expect((await chain.connect({ clientId: "l", username: "u".repeat(5000), protocolVersion: 4 }, pw("x"))).ok).toBe(true);
    await expect(createAuthChain({ mode: "allow-all", backends: ["store"] })).rejects.toThrow(/needs the store/);
    await expect(createAuthChain({ mode: "allow-all", backends: ["jwt"] })).rejects.toThrow(/'jwt' is listed but not configured: set auth\.jwt/);
  });

  it("an external backend in the chain: a JWT decides, and its subject and exp reach the broker", async () => {
    const secret = "0123456789abcdef0123456789abcdef";
    const jwt = {
      secret, clockToleranceSeconds: 0, usernameClaim: "sub", clientIdClaim: "clientid", aclClaim: "acl", requireExp: true,
      jwksCacheSeconds: 600, jwksCooldownMs: 30_000, jwksTimeoutMs: 5000, maxTokenBytes: 8192,
    };
    const chain = await createAuthChain({ mode: "allow-all", backends: ["jwt"], jwt });
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = await new SignJWT({ sub: "device-7", acl: { pub: ["d/%u/#"], sub: ["c/%u"] } })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret));
    // The token's subject owns the client's sessions, in the jwt namespace: never the ACL or store user "device-7".
    const d = await chain.connect({ clientId: "c7", protocolVersion: 4 }, Buffer.from(token));
    expect(d).toMatchObject({ ok: true, identity: "jwt:device-7", expiresAt: exp * 1000 });
    if (!d.ok) throw new Error("refused");
    expect(d.policy.canPublish("d/device-7/t")).toBe(true);
    expect(d.policy.canPublish("d/other/t")).toBe(false);
    // A cached decision answers the same, expiry and identity included.
    expect(await chain.connect({ clientId: "c7", protocolVersion: 4 }, Buffer.from(token))).toMatchObject({ ok: true, identity: "jwt:device-7", expiresAt: exp * 1000 });
    // Also with the MQTT user name equal to the subject.
    const same = await chain.connect({ clientId: "c7", username: "device-7", protocolVersion: 4 }, Buffer.from(token));
    expect(same).toMatchObject({ ok: true, identity: "jwt:device-7" });
  });
});

describe("auth.backends configuration", () => {
  it("MQGATE_AUTH_BACKENDS is a comma list; duplicates, unknown names and allow-all before others are refused", async () => {
    const cfg = await loadConfig({ env: { MQGATE_AUTH_BACKENDS: " store , allow-all ", MQGATE_AUTH__DECISION_CACHE_SECONDS: "5" } });
    expect(cfg.auth.backends).toEqual(["store", "allow-all"]);
    expect(cfg.auth.decisionCacheSeconds).toBe(5);
    await expect(loadConfig({ env: { MQGATE_AUTH_BACKENDS: "store,store" } })).rejects.toThrow(/MQGATE_AUTH_BACKENDS must be a non-empty list of distinct backends/);
    await expect(loadConfig({ env: { MQGATE_AUTH_BACKENDS: "ldap" } })).rejects.toThrow(/MQGATE_AUTH_BACKENDS/);
    await expect(loadConfig({ env: { MQGATE_AUTH_BACKENDS: "allow-all,store" } })).rejects.toThrow(/'allow-all' before 'store'/);
    await expect(loadConfig({ env: { MQGATE_AUTH_BACKENDS: "store,acl" } })).rejects.toThrow(/auth.aclFile is required when auth.backends includes 'acl'/);
  });
});

describe("client-id patterns", () => {
  it("match exact text, '*' runs and %u, without regular expressions", () => {
    expect(clientIdMatches("dev-1", "dev-1", "u")).toBe(true);
    expect(clientIdMatches("dev-1", "dev-12", "u")).toBe(false);
    expect(clientIdMatches("%u-*", "carol-x", "carol")).toBe(true);
    expect(clientIdMatches("%u-*", "carol-", "carol")).toBe(true);
    expect(clientIdMatches("%u-*", "bob-x", "carol")).toBe(false);
    expect(clientIdMatches("*-*-end", "a-b-end", "u")).toBe(true);
    expect(clientIdMatches("a*a", "a", "u")).toBe(false);
    expect(clientIdMatches("*", "", "u")).toBe(true);
    expect(clientIdMatches("*x*y*", "x".repeat(10_000), "u")).toBe(false);
  });
});
