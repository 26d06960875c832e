import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AclError, createAclAuth, loadAclFile } from "../../core/auth/acl.js";
import { hashPbkdf2, parseMosquittoHash, PBKDF2_DEFAULTS } from "../../core/auth/mosquitto-hash.js";
import { parseStoredHash, PasswordHashError, verifyPassword } from "../../core/auth/password.js";
import { parsePasswordFile } from "../../core/auth/password-file.js";
import type { ClientInfo } from "../../core/auth/types.js";

/**
 * Golden lines written once by `mosquitto_passwd` 2.0.11 (`-b`, and `-H sha512` for the last), copied here
 * as they came out: these are not computed by the code under test.
 */
const MOSQUITTO_FILE = [
  "device-1:$7$101$0I/PK1fR1GiA7Qdx$6VdQiNU+qxmb0mVBxFe5iubcSyonnOiu1xhLtsNXWP1vJ2QEwGTRcJx8gA8SQiWf/MsdXeG4oqOkQHCJhuZcbw==",
  "alice:$7$101$Vdoj+IG0kxHjjeGt$8iUTdADQEDK/Y7GRAD4NSecjpzRzlLZihj3ElTRclCjS9Tn/TQZLKRAR/lvn6oqBPgoE0JxS6wCO+l/X1teEgg==",
  "legacy:$6$H1LfLgg/oyCbcIaz$VMTBqRUofINaGHcLVbJMr+guBcaz78qg13liXVQ2bF0xG3g+non74bzhp2Dosp+3u21omZmtm9wtWJPVTvrjwQ==",
];
const PASSWORDS: Record<string, string> = { "device-1": "s3cret-Pa55", alice: "correct horse battery staple", legacy: "old-Pa55" };

function hashOf(user: string): string {
  return MOSQUITTO_FILE.find((l) => l.startsWith(`${user}:`))!.slice(user.length + 1);
}

/** Published PBKDF2-HMAC-SHA512 vectors (P="password", S="salt", dkLen=64). */
const PBKDF2_VECTORS = [
  [1, "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"],
  [2, "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53cf76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e"],
] as const;

describe("Mosquitto hashes", () => {
  it.each(Object.keys(PASSWORDS))("verifies mosquitto_passwd's hash of %s, and refuses a wrong password", async (user) => {
    const hash = hashOf(user);
    expect(await verifyPassword(PASSWORDS[user]!, hash)).toBe(true);
    expect(await verifyPassword(`${PASSWORDS[user]!}x`, hash)).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
  });

  it("reads $7$ as PBKDF2-SHA512 with its iterations, a 12-byte salt and a 64-byte hash", () => {
    const p = parseStoredHash(hashOf("alice"));
    expect(p.kind).toBe("pbkdf2-sha512");
    if (p.kind !== "pbkdf2-sha512") return;
    expect([p.iterations, p.salt.length, p.hash.length]).toEqual([101, 12, 64]);
    expect(parseStoredHash(hashOf("legacy")).kind).toBe("sha512");
  });

  it.each(PBKDF2_VECTORS)("matches the published PBKDF2-HMAC-SHA512 vector for c=%i", async (c, hex) => {
    // The vectors' 4-byte salt is below what a file may hold, so the decoded form is given directly.
    const parsed = { kind: "pbkdf2-sha512", iterations: c, salt: Buffer.from("salt"), hash: Buffer.from(hex, "hex") } as const;
    expect(await verifyPassword("password", parsed)).toBe(true);
    expect(await verifyPassword("Password", parsed)).toBe(false);
  });

  it("hashPbkdf2 writes mosquitto_passwd's format with a fresh 12-byte salt, and verifies", async () => {
    const a = await hashPbkdf2("tok-123");
    const b = await hashPbkdf2("tok-123");
    expect(a).toMatch(new RegExp(`^\\$7\\$${PBKDF2_DEFAULTS.iterations}\\$[A-Za-z0-9+/]{16}\\$[A-Za-z0-9+/]{86}==$`));
    expect(a).not.toBe(b);
    expect(await verifyPassword("tok-123", a)).toBe(true);
    expect(await verifyPassword("tok-124", a)).toBe(false);
    expect(await hashPbkdf2("x", { iterations: 7 })).toMatch(/^\$7\$7\$/);
    await expect(hashPbkdf2("x", { iterations: 0 })).rejects.toThrow(RangeError);
  });

  const SALT12 = Buffer.alloc(12, 1).toString("base64");
  const H64 = Buffer.alloc(64, 2).toString("base64");
  it.each([
    ["iterations 0", `$7$0$${SALT12}$${H64}`, /iterations must be an integer 1\.\.1000000/],
    ["iterations too high", `$7$2000000$${SALT12}$${H64}`, /iterations must be an integer/],
    ["iterations not a number", `$7$abc$${SALT12}$${H64}`, /iterations must be an integer/],
    ["missing part", `$7$101$${SALT12}`, /must look like '\$7\$<iterations>\$<salt>\$<hash>'/],
    ["short hash", `$7$101$${SALT12}$${Buffer.alloc(32).toString("base64")}`, /hash must decode to 64 bytes, got 32/],
    ["salt too short", `$7$101$${Buffer.alloc(4).toString("base64")}$${H64}`, /salt must decode to 8\.\.64 bytes/],
    ["not base64", `$6$***$${H64}`, /salt is not base64/],
    ["$6$ extra part", `$6$${SALT12}$${H64}$x`, /must look like '\$6\$<salt>\$<hash>'/],
  ])("refuses %s", (_what, encoded, message) => {
    expect(() => parseMosquittoHash(encoded)).toThrow(PasswordHashError);
    expect(() => parseStoredHash(encoded)).toThrow(message);
  });
});

describe("Mosquitto password file", () => {
  it("reads mosquitto_passwd output, skipping comments and blank lines (CRLF too)", () => {
    const { entries, issues } = parsePasswordFile(`# users\r\n\r\n${MOSQUITTO_FILE.join("\r\n")}\r\n`);
    expect(issues).toEqual([]);
    expect(entries.map((e) => [e.username, e.hash.kind, e.line])).toEqual([
      ["device-1", "pbkdf2-sha512", 3],
      ["alice", "pbkdf2-sha512", 4],
      ["legacy", "sha512", 5],
    ]);
  });

  it("reports every bad line with its number, never echoing a password", () => {
    const { issues } = parsePasswordFile(["nocolon", "bob:hunter2", `carol:$7$0$x$y`, "*:$6$a$b", MOSQUITTO_FILE[0]].join("\n"));
    expect(issues.map((i) => i.line)).toEqual([1, 2, 3, 4]);
    expect(issues[1]!.message).toMatch(/plain-text password; hash the file first \(mosquitto_passwd -U/);
    expect(JSON.stringify(issues)).not.toContain("hunter2");
  });
});

describe("ACL with a passwordFile", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mqgate-pwfile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const client = (username: string): ClientInfo => ({ clientId: `c-${username}`, username, remoteAddress: "10.0.0.1:5000", protocolVersion: 4 });

  it("imports a mosquitto_passwd file as it is (path relative to the ACL file) and checks its users", async () => {
    writeFileSync(path.join(dir, "passwd"), `${MOSQUITTO_FILE.join("\n")}\n`);
    const acl = path.join(dir, "acl.yaml");
    writeFileSync(acl, 'passwordFile: passwd\nrules:\n  - users: ["alice"]\n    allow: { publish: ["a/#"] }\n');
    const auth = await loadAclFile(acl);
    for (const [user, pw] of Object.entries(PASSWORDS)) {
      const ok = await auth.connect(client(user), Buffer.from(pw));
      expect(ok.ok, user).toBe(true);
      const bad = await auth.connect(client(user), Buffer.from("nope"));
      expect(bad).toMatchObject({ ok: false, returnCode: 4 });
    }
    const alice = await auth.connect(client("alice"), Buffer.from(PASSWORDS.alice!));
    expect(alice.ok && alice.policy.canPublish("a/b")).toBe(true);
    expect(await auth.connect(client("mallory"), Buffer.from("x"))).toMatchObject({ ok: false, returnCode: 4 });
  });

  it("accepts a $7$ hash in users[].password", async () => {
    const auth = createAclAuth({ users: [{ username: "device-1", password: hashOf("device-1") }] });
    expect((await auth.connect(client("device-1"), Buffer.from(PASSWORDS["device-1"]!))).ok).toBe(true);
  });

  it("refuses a user given twice (users and passwordFile), a missing file and bad lines, at load", async () => {
    writeFileSync(path.join(dir, "dup.yaml"), `passwordFile: passwd\nusers:\n  - username: alice\n    password: "${hashOf("alice")}"\n`);
    await expect(loadAclFile(path.join(dir, "dup.yaml"))).rejects.toThrow(/duplicate user "alice"/);
    writeFileSync(path.join(dir, "missing.yaml"), "passwordFile: nowhere\n");
    await expect(loadAclFile(path.join(dir, "missing.yaml"))).rejects.toThrow(/passwordFile: cannot read .*nowhere/);
    writeFileSync(path.join(dir, "plain"), "bob:hunter2\n");
    writeFileSync(path.join(dir, "plain.yaml"), "passwordFile: plain\n");
    const err = await loadAclFile(path.join(dir, "plain.yaml")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AclError);
    expect((err as AclError).message).toMatch(/line 1: user "bob": plain-text password/);
    expect(() => createAclAuth({ passwordFile: "passwd" })).toThrow(/only read when the ACL is loaded from a file/);
  });
});
