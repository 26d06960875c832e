import { spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthChain } from "../../core/auth/chain.js";
import { hashPassword } from "../../core/auth/password.js";
import { connectRedisStore } from "../../core/store/transport-ioredis.js";
import type { Store } from "../../core/store/types.js";
import { importDynsec, usableHash } from "../../scripts/lib/identity-import.js";
import { runUsersCommand } from "../../scripts/lib/users-command.js";
import { useRedisStores } from "../helpers/redis-stores.js";

/** `npm run users` against a real redis-server: the commands, the three imports, and the built CLI process. */
const redis = useRedisStores();
const FAST = { N: 1024, r: 8, p: 1 } as const;
let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mqgate-users-"));
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

async function fresh(): Promise<Store> {
  await redis.admin.flushall();
  await store?.close();
  store = await connectRedisStore(redis.server.url);
  return store;
}

async function users(argv: string[], password = ""): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runUsersCommand(argv, { store, readPassword: async () => password, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

async function login(username: string, password: string, clientId = "c1") {
  const chain = await createAuthChain({ mode: "allow-all", backends: ["store"], decisionCacheSeconds: 0 }, { store });
  return chain.connect({ clientId, username, protocolVersion: 4 }, Buffer.from(password));
}

describe("npm run users", () => {
  it("the built CLI reads the password from stdin and writes to the configured Redis", async () => {
    await fresh();
    const child = spawn(process.execPath, ["dist/users.mjs", "add", "cli-user", "--password-stdin", "--roles", "a,b"], {
      env: { ...process.env, MQGATE_REDIS_URL: redis.server.url, MQGATE_CONFIG: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end("cli-secret\n");
    const code = await new Promise<number | null>((r) => child.once("close", r)); // after its output is all read
    expect(code, stderr).toBe(0);
    expect(stdout).toContain("added user cli-user (roles a, b)");
    const u = await store.getUser("cli-user");
    expect(u?.roles).toEqual(["a", "b"]);
    expect(u?.passwordHash).toMatch(/^scrypt\$/);
    expect((await login("cli-user", "cli-secret")).ok).toBe(true);
  });

  it("add, passwd, set, list, remove; roles with role-set, role-list, role-remove; clear errors and exit codes", async () => {
    await fresh();
    expect((await users(["add", "u1", "--password-stdin", "--roles", "dev", "--client-id", "%u-*"], "pw1")).code).toBe(0);
    expect((await users(["add", "u1", "--password-stdin"], "x")).err.join()).toContain("exists");
    expect((await users(["add", "u2"])).code).toBe(2);
    expect((await users(["add", "u2", "--hash", "plain-text"])).code).toBe(1);
    expect((await users(["role-set", "dev", "--allow-publish", "dev/%u/#", "--allow-subscribe", "dev/#", "--deny-subscribe", "dev/secret/#"])).code).toBe(0);
    expect((await users(["role-set", "bad", "--allow-publish", "a/#/b"])).err.join()).toContain("not a valid topic filter");
    const ok = await login("u1", "pw1", "u1-a");
    expect(ok.ok && ok.policy.canPublish("dev/u1/x")).toBe(true);
    expect((await login("u1", "pw1", "other")).ok).toBe(false);
    expect((await users(["passwd", "u1", "--password-stdin"], "pw2")).code).toBe(0);
    expect((await login("u1", "pw1", "u1-a")).ok).toBe(false);
    expect((await login("u1", "pw2", "u1-a")).ok).toBe(true);
    expect((await users(["set", "u1", "--disabled", "--any-client-id"])).code).toBe(0);
    expect(await login("u1", "pw2", "whatever")).toMatchObject({ ok: false, returnCode: 5 });
    const listed = await users(["list", "--json"]);
    expect(JSON.parse(listed.out[0]!)).toEqual([expect.objectContaining({ username: "u1", disabled: true, clientIdPattern: null, roles: ["dev"] })]);
    expect(listed.out[0]).not.toContain("scrypt");
    expect((await users(["role-list"])).out.join()).toContain("dev");
    expect((await users(["remove", "u1"])).code).toBe(0);
    expect((await users(["remove", "u1"])).code).toBe(1);
    expect((await users(["role-remove", "dev"])).code).toBe(0);
    expect((await users(["frobnicate"])).code).toBe(2);
  });

  it("import --format acl: every rule a role, users keep their hashes and get the roles of their rules", async () => {
    await fresh();
    const path = join(dir, "acl.yaml");
    const alice = await hashPassword("alice-pw", FAST);
    await writeFile(path, `anonymous: true\nusers:\n  - username: alice\n    password: "${alice}"\nrules:\n  - users: ["*"]\n    allow:\n      publish: ["users/%u/#"]\n  - users: [alice]\n    allow:\n      subscribe: [{ filter: "alerts/#", maxQos: 1 }]\n    deny:\n      subscribe: ["alerts/secret/#"]\n  - users: ["$anonymous"]\n    allow:\n      subscribe: ["public/#"]\n`);
    const r = await users(["import", path, "--format", "acl"]);
    expect(r.code, r.err.join("\n")).toBe(0);
    expect(r.err.join("\n")).toContain("anonymous");
    expect((await store.listRoles()).map((x) => x.name)).toEqual(["acl.rule-1", "acl.rule-2", "acl.rule-3"]);
    const d = await login("alice", "alice-pw");
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.policy.canPublish("users/alice/x")).toBe(true);
    expect(d.policy.canSubscribe("alerts/#", 2)).toBe(1);
    expect(d.policy.canSubscribe("alerts/secret/x", 1)).toBeNull();
    expect(d.policy.canSubscribe("public/#", 0)).toBeNull();
  });

  it("import --format passwd: scrypt and Mosquitto $7$ hashes are stored as they are; a file with a hash mqgate cannot verify imports nothing", async () => {
    await fresh();
    const good = join(dir, "good.passwd");
    const salt = randomBytes(12);
    const pbkdf2 = `$7$101$${salt.toString("base64")}$${pbkdf2Sync("fred-pw", salt, 101, 64, "sha512").toString("base64")}`;
    await writeFile(good, `# mosquitto_passwd\nbob:${await hashPassword("bob-pw", FAST)}\n\ncarol:${await hashPassword("carol-pw", FAST)}\nfred:${pbkdf2}\n`);
    expect((await users(["import", good, "--format", "passwd", "--roles", "sensors"])).code).toBe(0);
    expect((await store.getUser("carol"))?.roles).toEqual(["sensors"]);
    expect((await store.getUser("fred"))?.passwordHash).toBe(pbkdf2);
    expect((await login("bob", "bob-pw")).ok).toBe(true);
    expect((await login("fred", "fred-pw")).ok).toBe(true);
    expect((await login("fred", "wrong")).ok).toBe(false);
    await fresh();
    const bad = join(dir, "bad.passwd");
    await writeFile(bad, `dave:${await hashPassword("d", FAST)}\neve:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\nnocolon\n`);
    const r = await users(["import", bad, "--format", "passwd"]);
    expect(r.code).toBe(1);
    expect(r.err.join("\n")).toMatch(/line 2 \(user "eve"\): an argon2 hash/);
    expect(r.err.join("\n")).toContain("line 3: expected 'user:hash'");
    expect((await store.listUsers({ limit: 10 })).items).toEqual([]);
  });

  it("import --format dynsec maps clients, groups and ACL types; PBKDF2 ($7$) clients are imported and log in", async () => {
    await fresh();
    const salt = randomBytes(12);
    const hash = pbkdf2Sync("dyn-pw", salt, 101, 64, "sha512");
    const doc = {
      defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
      clients: [
        { username: "dyn", clientid: "dyn-1", password: hash.toString("base64"), salt: salt.toString("base64"), iterations: 101, roles: [{ rolename: "r1" }], groups: [{ groupname: "g" }] },
        { username: "nopw" },
      ],
      groups: [{ groupname: "g", roles: [{ rolename: "r2" }] }],
      roles: [
        {
          rolename: "r1",
          acls: [
            { acltype: "publishClientSend", topic: "dyn/%u/#", allow: true, priority: 1 },
            { acltype: "subscribePattern", topic: "dyn/#", allow: true },
            { acltype: "subscribeLiteral", topic: "dyn/secret/#", allow: false },
            { acltype: "publishClientReceive", topic: "dyn/private/#", allow: false },
            { acltype: "unsubscribePattern", topic: "#", allow: false },
          ],
        },
        { rolename: "r2", acls: [{ acltype: "subscribeLiteral", topic: "g/x", allow: true }] },
      ],
    };
    const plan = importDynsec(JSON.stringify(doc), 1);
    expect(plan.roles.find((r) => r.name === "r1")).toMatchObject({
      allow: { publish: ["dyn/%u/#"], subscribe: ["dyn/#"] },
      deny: { publish: [], subscribe: ["dyn/secret/#", "dyn/private/#"] },
    });
    expect(plan.warnings.join("\n")).toMatch(/unsubscribePattern # not imported[\s\S]*priorities[\s\S]*"nopw" has no password/);
    const path = join(dir, "dynamic-security.json");
    await writeFile(path, JSON.stringify(doc));
    const r = await users(["import", path, "--format", "dynsec"]);
    const hash7 = `$7$101$${salt.toString("base64")}$${hash.toString("base64")}`;
    expect(usableHash(hash7)).toBeNull();
    expect(r.code, r.err.join("\n")).toBe(0);
    expect(await store.getUser("dyn")).toMatchObject({ roles: ["r1", "r2"], clientIdPattern: "dyn-1", passwordHash: hash7 });
    expect((await login("dyn", "dyn-pw", "dyn-1")).ok).toBe(true);
    expect((await login("dyn", "wrong", "dyn-1")).ok).toBe(false);
  });
});
