import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QoS } from "mqtt-packet";
import { afterAll, beforeAll, describe, it, expect } from "vitest";
import { AclError, createAclAuth, createAllowAll, createAuth, hashPassword, loadAclFile } from "../../core/auth/index.js";
import type { Auth, ClientInfo, ClientPolicy, ConnectDecision } from "../../core/auth/index.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
const PASSWORDS = { alice: "alice-pw", bob: "bob-pw", admin: "admin-pw", "sensor-fleet": "fleet-pw", "org/eve": "eve-pw" };
type User = keyof typeof PASSWORDS;

let HASHES: Record<User, string>;
let DUMMY_HASH: string;

beforeAll(async () => {
  const entries = await Promise.all(Object.entries(PASSWORDS).map(async ([u, p]) => [u, await hashPassword(p, FAST)] as const));
  HASHES = Object.fromEntries(entries) as Record<User, string>;
  DUMMY_HASH = HASHES.alice;
});

function users(...names: User[]) {
  return names.map((username) => ({ username, password: HASHES[username] }));
}

/** The example of docs/auth.md, plus a few users. */
function exampleDoc(anonymous = false) {
  return {
    anonymous,
    users: users("alice", "bob", "admin", "sensor-fleet", "org/eve"),
    rules: [
      { users: ["*"], allow: { publish: ["devices/%c/#"], subscribe: ["commands/%c/#", "broadcast/#"] } },
      { users: ["*"], allow: { publish: ["users/%u/outbox"], subscribe: ["users/%u/#"] } },
      {
        users: ["admin"],
        allow: { publish: ["#"], subscribe: ["#", "$SYS/#"] },
        deny: { publish: ["$SYS/#", "audit/#"], subscribe: ["secrets/#"] },
      },
      { users: ["sensor-fleet"], allow: { subscribe: [{ filter: "telemetry/#", maxQos: 0 }, { filter: "telemetry/alerts", maxQos: 1 }] } },
      { users: ["bob"], allow: { publish: ["shared/#"], subscribe: [{ filter: "shared/#", maxQos: 1 }] }, deny: { publish: ["shared/readonly/#"] } },
      { users: ["$anonymous"], allow: { subscribe: [{ filter: "public/#", maxQos: 0 }], publish: ["public/guest/%c"] } },
    ],
  };
}

function client(clientId: string, username?: string): ClientInfo {
  return { clientId, username, protocolVersion: 4 };
}

async function connect(auth: Auth, clientId: string, username?: string, password?: string | Buffer): Promise<ConnectDecision> {
  const pw = typeof password === "string" ? Buffer.from(password) : password;
  return auth.connect(client(clientId, username), pw);
}

async function policyFor(auth: Auth, clientId: string, username?: User): Promise<ClientPolicy> {
  const d = await connect(auth, clientId, username, username === undefined ? undefined : PASSWORDS[username]);
  if (!d.ok) throw new Error(`connect refused: ${d.reason}`);
  return d.policy;
}

describe("ACL: CONNECT", () => {
  it.each<[string, boolean, string | undefined, string | Buffer | undefined, true | 4 | 5]>([
    ["right password", false, "alice", "alice-pw", true],
    ["wrong password", false, "alice", "bob-pw", 4],
    ["empty password", false, "alice", "", 4],
    ["missing password", false, "alice", undefined, 4],
    ["unknown user", false, "mallory", "alice-pw", 4],
    ["unknown user, no password", false, "mallory", undefined, 4],
    ["empty user name", false, "", "x", 4],
    ["user name is case-sensitive", false, "Alice", "alice-pw", 4],
    ["user name with a slash", false, "org/eve", "eve-pw", true],
    ["anonymous when not allowed", false, undefined, undefined, 5],
    ["anonymous when allowed", true, undefined, undefined, true],
    ["named user when anonymous allowed, wrong password", true, "alice", "nope", 4],
    ["named user when anonymous allowed", true, "alice", "alice-pw", true],
    ["password without user name", true, undefined, "alice-pw", 4],
  ])("%s", async (_name, anonymous, username, password, expected) => {
    const auth = createAclAuth(exampleDoc(anonymous));
    const d = await connect(auth, "c1", username, password);
    if (expected === true) expect(d.ok).toBe(true);
    else expect(d).toMatchObject({ ok: false, returnCode: expected, reason: expect.any(String) });
  });

  it("is named acl", () => {
    expect(createAclAuth(exampleDoc()).name).toBe("acl");
  });
});

/** [who (username or undefined = anonymous), clientId, topic, expected] */
const PUBLISH: [User | undefined, string, string, boolean][] = [
  // %c
  ["alice", "dev1", "devices/dev1/temp", true],
  ["alice", "dev1", "devices/dev1", true],
  ["alice", "dev1", "devices/dev2/temp", false],
  ["alice", "dev1", "devices", false],
  // %u
  ["alice", "dev1", "users/alice/outbox", true],
  ["alice", "dev1", "users/bob/outbox", false],
  ["alice", "dev1", "users/alice/inbox", false],
  // no matching allow = deny
  ["alice", "dev1", "shared/x", false],
  ["alice", "dev1", "anything", false],
  // bob: allow shared/#, deny shared/readonly/#
  ["bob", "b", "shared/x", true],
  ["bob", "b", "shared/readonly", false],
  ["bob", "b", "shared/readonly/x", false],
  ["bob", "b", "shared/readonlyish", true],
  // admin: allow #, deny $SYS/# and audit/#
  ["admin", "adm", "anything/at/all", true],
  ["admin", "adm", "audit/log", false],
  ["admin", "adm", "audit", false],
  ["admin", "adm", "$SYS/broker/uptime", false],
  ["admin", "adm", "$other", false], // '#' does not match '$' topics
  // a user name with '/' cannot use %u, the rest still applies
  ["org/eve", "eve1", "users/org/eve/outbox", false],
  ["org/eve", "eve1", "devices/eve1/x", true],
  // anonymous
  [undefined, "guest1", "public/guest/guest1", true],
  [undefined, "guest1", "public/guest/guest2", false],
  [undefined, "guest1", "devices/guest1/x", false], // '*' is authenticated users only
];

describe("ACL: PUBLISH", () => {
  it.each(PUBLISH)("%s as %s -> %s: %s", async (who, clientId, topic, expected) => {
    const auth = createAclAuth(exampleDoc(true));
    const policy = await policyFor(auth, clientId, who);
    expect(policy.canPublish(topic)).toBe(expected);
  });
});

/** [who, clientId, filter, requested QoS, expected granted QoS or null] */
const SUBSCRIBE: [User | undefined, string, string, QoS, QoS | null][] = [
  ["alice", "dev1", "commands/dev1/#", 2, 2],
  ["alice", "dev1", "commands/dev1/reboot", 1, 1],
  ["alice", "dev1", "commands/dev1", 0, 0],
  ["alice", "dev1", "commands/+/reboot", 1, null], // wider than commands/dev1/#
  ["alice", "dev1", "commands/#", 1, null],
  ["alice", "dev1", "commands/dev2/#", 1, null],
  ["alice", "dev1", "broadcast/+/x", 2, 2],
  ["alice", "dev1", "#", 0, null],
  ["alice", "dev1", "users/alice/#", 1, 1],
  ["alice", "dev1", "users/+/#", 1, null],
  // QoS caps: highest maxQos among the covering allows
  ["sensor-fleet", "s1", "telemetry/temp", 2, 0],
  ["sensor-fleet", "s1", "telemetry/#", 1, 0],
  ["sensor-fleet", "s1", "telemetry/alerts", 2, 1],
  ["sensor-fleet", "s1", "telemetry/alerts", 0, 0],
  ["sensor-fleet", "s1", "telemetry/+", 2, 0], // telemetry/alerts does not cover '+'
  ["sensor-fleet", "s1", "commands/s1/x", 2, 2], // '*' rule, no cap
  ["bob", "b", "shared/#", 2, 1],
  // deny: a filter inside a deny pattern is refused; one that only overlaps it is granted (with a delivery guard)
  ["admin", "adm", "a/b", 2, 2],
  ["admin", "adm", "$SYS/#", 1, 1],
  ["admin", "adm", "secrets/db", 1, null],
  ["admin", "adm", "secrets/#", 1, null],
  ["admin", "adm", "secrets", 1, null],
  ["admin", "adm", "secrets/+/x", 1, null],
  ["admin", "adm", "+/db", 1, 1], // granted; secrets/db is withheld per message
  ["admin", "adm", "#", 1, 1], // granted; secrets/... is withheld per message
  ["admin", "adm", "public/+", 1, 1],
  // anonymous
  [undefined, "g", "public/#", 2, 0],
  [undefined, "g", "commands/g/#", 2, null],
];

describe("ACL: SUBSCRIBE", () => {
  it.each(SUBSCRIBE)("%s as %s -> %s at QoS %i: %s", async (who, clientId, filter, qos, expected) => {
    const auth = createAclAuth(exampleDoc(true));
    const policy = await policyFor(auth, clientId, who);
    expect(policy.canSubscribe(filter, qos)).toBe(expected);
  });
});

describe("ACL: wildcard injection through %c / %u", () => {
  const INJECTED_IDS = ["#", "+", "a/#", "+/+", "dev1/#", "x/y", "$SYS", ""];

  it.each(INJECTED_IDS)("client id %j gains nothing from devices/%%c/# or commands/%%c/#", async (clientId) => {
    const auth = createAclAuth(exampleDoc());
    const policy = await policyFor(auth, clientId, "alice");
    for (const topic of ["devices/x", "devices/a/b", "devices/dev1/t", "devices/#", "devices/+", "devices/x/y/t", "devices/$SYS/x", "devices//t", "$SYS/x"]) {
      expect(policy.canPublish(topic), topic).toBe(false);
    }
    for (const filter of ["commands/#", "commands/+", "commands/a/#", "commands/x/y/#", "commands/dev1/#", "#", "$SYS/#"]) {
      expect(policy.canSubscribe(filter, 0), filter).toBeNull();
    }
    // rules without substitution still apply
    expect(policy.canSubscribe("broadcast/#", 1)).toBe(1);
    expect(policy.canPublish("users/alice/outbox")).toBe(true);
  });

  it("a pattern with %c in the middle of a level is substituted too", async () => {
    const doc = { users: users("alice"), rules: [{ users: ["*"], allow: { publish: ["dev-%c/x", "%u-%c"] } }] };
    const policy = await policyFor(createAclAuth(doc), "c7", "alice");
    expect(policy.canPublish("dev-c7/x")).toBe(true);
    expect(policy.canPublish("alice-c7")).toBe(true);
    expect(policy.canPublish("dev-c8/x")).toBe(false);
  });

  it("other % sequences are literal", async () => {
    const doc = { users: users("alice"), rules: [{ users: ["*"], allow: { publish: ["rate/100%", "a/%x"] } }] };
    const policy = await policyFor(createAclAuth(doc), "c", "alice");
    expect(policy.canPublish("rate/100%")).toBe(true);
    expect(policy.canPublish("a/%x")).toBe(true);
  });

  it("a deny pattern whose substitution is unsafe denies everything for that action (fail closed)", async () => {
    const doc = {
      users: users("alice"),
      rules: [{ users: ["alice"], allow: { publish: ["#"], subscribe: ["#"] }, deny: { publish: ["private/%c/#"], subscribe: ["private/%c/#"] } }],
    };
    const auth = createAclAuth(doc);
    const safe = await policyFor(auth, "c1", "alice");
    expect(safe.canPublish("private/c1/x")).toBe(false);
    expect(safe.canPublish("private/c2/x")).toBe(true);
    expect(safe.canSubscribe("private/c2/#", 1)).toBe(1);
    const evil = await policyFor(auth, "+", "alice");
    expect(evil.canPublish("private/c2/x")).toBe(false);
    expect(evil.canPublish("anything")).toBe(false);
    expect(evil.canSubscribe("anything", 0)).toBeNull();
  });

  it("%u never matches for anonymous clients", async () => {
    const doc = { anonymous: true, rules: [{ users: ["$anonymous"], allow: { publish: ["u/%u", "open"] } }] };
    const policy = await policyFor(createAclAuth(doc), "g");
    expect(policy.canPublish("u/")).toBe(false);
    expect(policy.canPublish("u/undefined")).toBe(false);
    expect(policy.canPublish("open")).toBe(true);
  });
});

describe("ACL: rule selection", () => {
  it("'*' does not include anonymous clients, '$anonymous' does not include users", async () => {
    const doc = {
      anonymous: true,
      users: users("alice"),
      rules: [
        { users: ["*"], allow: { publish: ["authed"] } },
        { users: ["$anonymous"], allow: { publish: ["anon"] } },
      ],
    };
    const auth = createAclAuth(doc);
    const anon = await policyFor(auth, "g");
    const alice = await policyFor(auth, "a", "alice");
    expect([anon.canPublish("authed"), anon.canPublish("anon")]).toEqual([false, true]);
    expect([alice.canPublish("authed"), alice.canPublish("anon")]).toEqual([true, false]);
  });

  it("deny wins regardless of rule order", async () => {
    const rules = [
      { users: ["alice"], deny: { publish: ["x/secret"], subscribe: ["x/secret"] } },
      { users: ["alice"], allow: { publish: ["x/#"], subscribe: ["x/#"] } },
    ];
    for (const order of [rules, [...rules].reverse()]) {
      const policy = await policyFor(createAclAuth({ users: users("alice"), rules: order }), "c", "alice");
      expect(policy.canPublish("x/secret")).toBe(false);
      expect(policy.canPublish("x/other")).toBe(true);
      expect(policy.canSubscribe("x/secret", 0)).toBeNull();
      expect(policy.canSubscribe("x/+", 0)).toBe(0);
      expect(policy.deliveryGuard?.("x/+")?.refuses("x/secret")).toBe(true);
      expect(policy.canSubscribe("x/other", 2)).toBe(2);
    }
  });

  it("no rules = everything refused", async () => {
    const policy = await policyFor(createAclAuth({ users: users("alice") }), "c", "alice");
    expect(policy.canPublish("a")).toBe(false);
    expect(policy.canSubscribe("a", 0)).toBeNull();
  });

  it("a later connection gets its own substitutions", async () => {
    const auth = createAclAuth(exampleDoc());
    const p1 = await policyFor(auth, "one", "alice");
    const p2 = await policyFor(auth, "two", "bob");
    expect([p1.canPublish("devices/one/x"), p1.canPublish("devices/two/x")]).toEqual([true, false]);
    expect([p2.canPublish("devices/one/x"), p2.canPublish("devices/two/x")]).toEqual([false, true]);
  });
});

/** [name, document, expected path, expected message fragment] */
const MALFORMED: [string, () => unknown, string, RegExp][] = [
  ["not a mapping", () => [], "", /must be a mapping with anonymous, users, rules and passwordFile, got a list/],
  ["empty file", () => null, "", /must be a mapping.*got null/],
  ["unknown top-level key", () => ({ user: [] }), "", /unknown key 'user' \(expected anonymous, users, rules, passwordFile\)/],
  ["anonymous not boolean", () => ({ anonymous: "yes" }), "anonymous", /must be true or false, got "yes"/],
  ["users not a list", () => ({ users: { alice: "x" } }), "users", /must be a list/],
  ["user without password", () => ({ users: [{ username: "alice" }] }), "users[0].password", /is required: every user needs an scrypt password hash/],
  ["user with null password", () => ({ users: [{ username: "alice", password: null }] }), "users[0].password", /must be a string/],
  ["plain-text password", () => ({ users: [{ username: "alice", password: "hunter2" }] }), "users[0].password", /must be an scrypt hash/],
  ["password N too large", () => ({ users: [{ username: "a", password: DUMMY_HASH.replace("N=1024", "N=4194304") }] }), "users[0].password", /N must be a power of two between 2 and 1048576/],
  ["user without name", () => ({ users: [{ password: DUMMY_HASH }] }), "users[0].username", /is required/],
  ["numeric user name", () => ({ users: [{ username: 1234, password: DUMMY_HASH }] }), "users[0].username", /must be a string \(quote it.*got number 1234/],
  ["empty user name", () => ({ users: [{ username: "", password: DUMMY_HASH }] }), "users[0].username", /must not be empty/],
  ["reserved user name", () => ({ users: [{ username: "$anonymous", password: DUMMY_HASH }] }), "users[0].username", /reserved/],
  ["unknown user key", () => ({ users: [{ username: "a", password: DUMMY_HASH, pasword: "x" }] }), "users[0]", /unknown key 'pasword' \(expected username, password\)/],
  ["duplicate user", () => ({ users: [{ username: "a", password: DUMMY_HASH }, { username: "a", password: DUMMY_HASH }] }), "users[1].username", /duplicate user "a" \(also users\[0\]\)/],
  ["rule without users", () => ({ rules: [{ allow: { publish: ["a"] } }] }), "rules[0].users", /is required/],
  ["rule with empty users", () => ({ rules: [{ users: [], allow: { publish: ["a"] } }] }), "rules[0].users", /must name at least one user/],
  ["rule for unknown user", () => ({ users: [{ username: "alice", password: DUMMY_HASH }], rules: [{ users: ["*", "alcie"], allow: { publish: ["a"] } }] }), "rules[0].users[1]", /unknown user "alcie"/],
  ["rule without allow or deny", () => ({ rules: [{ users: ["*"] }] }), "rules[0]", /must have 'allow' or 'deny'/],
  ["typo in allow", () => ({ rules: [{ users: ["*"], allow: { subcribe: ["a"] } }] }), "rules[0].allow", /unknown key 'subcribe' \(expected publish, subscribe\)/],
  ["publish not a list", () => ({ rules: [{ users: ["*"], allow: { publish: "a/#" } }] }), "rules[0].allow.publish", /must be a list of topic filters, got "a\/#"/],
  ["invalid pattern", () => ({ rules: [{ users: ["*"], allow: { publish: ["a/b#"] } }] }), "rules[0].allow.publish[0]", /"a\/b#" is not a valid topic filter: '#' must be/],
  ["invalid '+'", () => ({ rules: [{ users: ["*"], deny: { subscribe: ["a+/b"] } }] }), "rules[0].deny.subscribe[0]", /not a valid topic filter: '\+' must occupy/],
  ["empty pattern", () => ({ rules: [{ users: ["*"], allow: { publish: [""] } }] }), "rules[0].allow.publish[0]", /not a valid topic filter/],
  ["maxQos 3", () => ({ rules: [{ users: ["*"], allow: { subscribe: [{ filter: "a", maxQos: 3 }] } }] }), "rules[0].allow.subscribe[0].maxQos", /must be 0, 1 or 2, got number 3/],
  ["maxQos string", () => ({ rules: [{ users: ["*"], allow: { subscribe: ["b", { filter: "a", maxQos: "1" }] } }] }), "rules[0].allow.subscribe[1].maxQos", /must be 0, 1 or 2/],
  ["subscribe object without filter", () => ({ rules: [{ users: ["*"], allow: { subscribe: [{ maxQos: 1 }] } }] }), "rules[0].allow.subscribe[0].filter", /is required/],
  ["subscribe object with unknown key", () => ({ rules: [{ users: ["*"], allow: { subscribe: [{ filter: "a", qos: 1 }] } }] }), "rules[0].allow.subscribe[0]", /unknown key 'qos' \(expected filter, maxQos\)/],
  ["subscribe entry a number", () => ({ rules: [{ users: ["*"], allow: { subscribe: [5] } }] }), "rules[0].allow.subscribe[0]", /must be a topic filter string or a mapping \{ filter, maxQos \}, got number 5/],
  ["maxQos in deny", () => ({ rules: [{ users: ["*"], deny: { subscribe: [{ filter: "a", maxQos: 0 }] } }] }), "rules[0].deny.subscribe[0]", /must be a topic filter string/],
];

describe("ACL: validation", () => {
  it.each(MALFORMED)("%s", (_name, doc, path, message) => {
    let err: unknown;
    try {
      createAclAuth(doc(), "acl.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AclError);
    const acl = err as AclError;
    expect(acl.name).toBe("AclError");
    expect(acl.source).toBe("acl.yaml");
    expect(acl.issues).toContainEqual({ path, message: expect.stringMatching(message) });
    expect(acl.message).toContain("acl.yaml");
    expect(acl.message).toContain(path === "" ? "" : `${path}: `);
  });

  it("reports every problem, not only the first", () => {
    const doc = { anonymous: 1, users: [{ username: "a" }], rules: [{ users: ["*"], allow: { publish: ["#/a"] } }] };
    expect(() => createAclAuth(doc)).toThrow(AclError);
    try {
      createAclAuth(doc);
    } catch (e) {
      expect((e as AclError).issues.map((i) => i.path)).toEqual(["anonymous", "users[0].password", "rules[0].allow.publish[0]"]);
    }
  });

  it("accepts a minimal document", () => {
    expect(createAclAuth({}).name).toBe("acl");
  });
});

describe("ACL files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mqgate-acl-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  it("loads YAML", async () => {
    const path = await file(
      "acl.yaml",
      [
        "# comment",
        "anonymous: false",
        "users:",
        `  - username: sensor-fleet`,
        `    password: ${HASHES["sensor-fleet"]}`,
        "rules:",
        '  - users: ["*"]',
        "    allow:",
        '      publish: ["devices/%c/#"]',
        "      subscribe: [{ filter: telemetry/#, maxQos: 0 }]",
      ].join("\n"),
    );
    const auth = await loadAclFile(path);
    const policy = await policyFor(auth, "s1", "sensor-fleet");
    expect(policy.canPublish("devices/s1/t")).toBe(true);
    expect(policy.canSubscribe("telemetry/x", 2)).toBe(0);
    expect(await connect(auth, "s1", "sensor-fleet", "wrong")).toMatchObject({ ok: false, returnCode: 4 });
  });

  it("loads JSON", async () => {
    const doc = { users: users("alice"), rules: [{ users: ["alice"], allow: { publish: ["a"] } }] };
    const auth = await loadAclFile(await file("acl.json", JSON.stringify(doc)));
    expect((await policyFor(auth, "c", "alice")).canPublish("a")).toBe(true);
  });

  it.each<[string, string, RegExp]>([
    ["bad.yaml", "users:\n  - username: a\n   password: x\n", /invalid YAML: .*line 3/],
    ["dup.yml", "anonymous: true\nanonymous: false\n", /invalid YAML: Map keys must be unique/],
    ["bad.json", '{"users": [}', /invalid JSON/],
    ["acl.txt", "anonymous: true", /unsupported file extension '.txt'/],
    ["invalid.yaml", "rules:\n  - users: ['*']\n    allow: { publish: ['a/#/b'] }\n", /rules\[0\]\.allow\.publish\[0\]: "a\/#\/b" is not a valid topic filter/],
  ])("rejects %s", async (name, content, message) => {
    const path = await file(name, content);
    const err = await loadAclFile(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AclError);
    expect((err as AclError).message).toMatch(message);
    expect((err as AclError).message).toContain(path);
  });

  it("rejects a missing file", async () => {
    await expect(loadAclFile(join(dir, "nope.yaml"))).rejects.toThrow(/cannot read the file: ENOENT/);
  });

  it("createAuth wires the modes", async () => {
    const path = await file("wired.yaml", "anonymous: true\n");
    expect((await createAuth({ mode: "acl", aclFile: path })).name).toBe("acl");
    expect((await createAuth({ mode: "allow-all" })).name).toBe("allow-all");
    await expect(createAuth({ mode: "acl" })).rejects.toThrow(/no ACL file is configured/);
    await expect(createAuth({ mode: "bogus" as "acl" })).rejects.toThrow(/unknown auth.mode "bogus"/);
  });
});

describe("allow-all", () => {
  it("accepts everyone and grants everything at the requested QoS", async () => {
    const auth = createAllowAll();
    for (const [u, pw] of [[undefined, undefined], ["x", "y"], ["x", undefined]] as const) {
      const d = await connect(auth, "c", u, pw);
      expect(d.ok).toBe(true);
      if (!d.ok) continue;
      expect(d.policy.canPublish("any/topic")).toBe(true);
      for (const q of [0, 1, 2] as const) expect(d.policy.canSubscribe("#", q)).toBe(q);
    }
  });
});
