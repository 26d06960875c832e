import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import { connectRedisStore } from "../../core/store/transport-ioredis.js";
import type { Store } from "../../core/store/types.js";
import { DEFAULT_TOPIC_LIMITS } from "../../core/topic/index.js";
import { authenticate, createApiKey, hashApiKey, hasScope, keyCoversFilter, keyCoversTopic, keyOverlapsFilter, seedDevKey } from "../../functions/api-keys.js";
import { ForbiddenError, UnauthorizedError } from "../../functions/errors.js";
import { runKeysCommand } from "../../functions/keys-command.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";

async function keys(store: Store, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runKeysCommand(argv, { store, limits: DEFAULT_TOPIC_LIMITS, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err: err.join("\n") };
}

describe("API keys", () => {
  it("are stored as sha256 only, with scopes and topic patterns", async () => {
    const store = new MemoryStore();
    const { record, key } = await createApiKey(store, { name: "ci", scopes: ["publish", "read", "publish"], topics: ["devices/#", "devices/#", "fleet/+/cmd"] }, DEFAULT_TOPIC_LIMITS);
    expect(key).toMatch(/^mqg_/);
    expect(record.hash).toBe(hashApiKey(key));
    expect(record.scopes).toEqual(["publish", "read"]);
    expect(record.topics).toEqual(["devices/#", "fleet/+/cmd"]);
    expect(JSON.stringify(await store.listApiKeys())).not.toContain(key);
    expect(await authenticate(store, `Bearer ${key}`)).toEqual(record);
    expect(await authenticate(store, `bearer   ${key}  `)).toEqual(record);
    await expect(authenticate(store, undefined)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(authenticate(store, key)).rejects.toThrow(/malformed/);
    await expect(authenticate(store, "Bearer mqg_other")).rejects.toThrow(/unknown or revoked/);
    expect(hasScope(record, "read")).toBe(true);
    expect(hasScope(record, "admin")).toBe(false);
    expect(keyCoversTopic(record, "devices/1/x")).toBe(true);
    expect(keyCoversTopic(record, "fleet/9/cmd")).toBe(true);
    expect(keyCoversTopic(record, "fleet/9/other")).toBe(false);
    expect(keyCoversFilter(record, "devices/+/temp")).toBe(true);
    expect(keyCoversFilter(record, "fleet/#")).toBe(false);
    expect(keyOverlapsFilter(record, "fleet/#")).toBe(true);
    expect(keyOverlapsFilter(record, "rooms/#")).toBe(false);
    expect(new ForbiddenError("x").status).toBe(403);
  });

  it("refuses bad input: no scope, unknown scope, invalid pattern, empty name", async () => {
    const store = new MemoryStore();
    const make = (scopes: string[], topics = ["#"], name = "n") => createApiKey(store, { name, scopes: scopes as never, topics }, DEFAULT_TOPIC_LIMITS);
    await expect(make([])).rejects.toThrow(/at least one scope/);
    await expect(make(["write"])).rejects.toThrow(/unknown scope 'write'/);
    await expect(make(["read"], ["a/#/b"])).rejects.toThrow(/invalid topic pattern 'a\/#\/b'/);
    await expect(make(["read"], [])).rejects.toThrow(/at least one topic pattern/);
    await expect(make(["read"], ["#"], " ")).rejects.toThrow(/needs a name/);
  });

  it("the development key replaces itself when seeded again", async () => {
    const store = new MemoryStore();
    await seedDevKey(store, "first", DEFAULT_TOPIC_LIMITS);
    await seedDevKey(store, "second", DEFAULT_TOPIC_LIMITS);
    expect((await store.listApiKeys()).map((k) => k.id)).toEqual(["dev"]);
    await expect(authenticate(store, "Bearer first")).rejects.toBeInstanceOf(UnauthorizedError);
    expect((await authenticate(store, "Bearer second")).scopes).toEqual(["admin"]);
  });
});

describe("npm run keys (create, list, revoke) against Redis", () => {
  let server: RedisServer;
  let store: Store;

  beforeAll(async () => {
    server = await startRedisServer();
    store = await connectRedisStore(server.url);
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  it("creates a key that authenticates, lists it without the key, revokes it", async () => {
    const created = await keys(store, "create", "--name", "ci", "--scopes", "publish,read", "--topics", "devices/#", "--topics", "fleet/+");
    expect(created.code).toBe(0);
    expect(created.out).toHaveLength(1);
    const key = created.out[0] as string;
    const record = await authenticate(store, `Bearer ${key}`);
    expect(record).toMatchObject({ name: "ci", scopes: ["publish", "read"], topics: ["devices/#", "fleet/+"] });
    expect(created.err).toContain(`created API key ${record.id}`);
    expect(created.err).not.toContain("warning");

    const listed = await keys(store, "list");
    expect(listed.out[0]).toMatch(/^ID\s+NAME\s+SCOPES\s+TOPICS\s+CREATED$/);
    expect(listed.out[1]).toMatch(new RegExp(`^${record.id}\\s+ci\\s+publish,read\\s+devices/# fleet/\\+\\s+\\d{4}-`));
    expect(listed.out.join("\n")).not.toContain(key);
    const json = JSON.parse((await keys(store, "list", "--json")).out[0] as string);
    expect(json).toEqual([{ id: record.id, name: "ci", scopes: ["publish", "read"], topics: ["devices/#", "fleet/+"], createdAt: expect.stringMatching(/Z$/) }]);
    expect(JSON.stringify(json)).not.toContain(record.hash);

    expect((await keys(store, "revoke", record.id)).code).toBe(0);
    await expect(authenticate(store, `Bearer ${key}`)).rejects.toThrow(/unknown or revoked/);
    const again = await keys(store, "revoke", record.id);
    expect([again.code, again.err]).toEqual([1, `keys: no API key with id '${record.id}'`]);
  });

  it("usage errors exit 2 with the usage text", async () => {
    for (const argv of [[], ["frobnicate"], ["create", "--scopes", "read"], ["create", "--name", "x"], ["create", "--name", "x", "--scopes", "read", "--bogus"], ["revoke"]]) {
      const r = await keys(store, ...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toContain("usage:");
    }
    const bad = await keys(store, "create", "--name", "x", "--scopes", "root");
    expect([bad.code, bad.err]).toEqual([1, "keys: unknown scope 'root' (known: publish, read, admin)"]);
  });
});
