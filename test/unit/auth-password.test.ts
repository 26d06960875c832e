import { scryptSync } from "node:crypto";
import { describe, it, expect } from "vitest";
import { hashPassword, parsePasswordHash, PasswordHashError, verifyPassword } from "../../core/auth/password.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
const SALT = Buffer.alloc(16, 7).toString("base64");
const HASH = Buffer.alloc(32, 9).toString("base64");

describe("hashPassword", () => {
  it("produces scrypt$N=..,r=..,p=..$salt$hash with a fresh salt", async () => {
    const a = await hashPassword("secret", FAST);
    const b = await hashPassword("secret", FAST);
    expect(a).toMatch(/^scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
    expect(a).not.toBe(b);
  });

  it("uses N=16384, r=8, p=1, 16-byte salt and 32-byte hash by default", async () => {
    const parsed = parsePasswordHash(await hashPassword("secret"));
    expect([parsed.N, parsed.r, parsed.p, parsed.salt.length, parsed.hash.length]).toEqual([16384, 8, 1, 16, 32]);
  });

  it("is plain scrypt over the UTF-8 password (interoperable)", async () => {
    const parsed = parsePasswordHash(await hashPassword("pässwörd", FAST));
    const expected = scryptSync(Buffer.from("pässwörd", "utf8"), parsed.salt, 32, FAST);
    expect(parsed.hash.equals(expected)).toBe(true);
  });

  it.each([
    [{ N: 1000 }, /power of two/],
    [{ N: 2 ** 21 }, /power of two between 2 and 1048576/],
    [{ N: 2 ** 20, r: 8 }, /MiB/],
    [{ r: 0 }, /r must be/],
    [{ p: 17 }, /p must be/],
    [{ saltLength: 4 }, /saltLength/],
    [{ keyLength: 8 }, /keyLength/],
  ])("rejects options %j", async (opts, message) => {
    await expect(hashPassword("x", opts)).rejects.toThrow(message);
  });
});

describe("verifyPassword", () => {
  it.each<[string, string | Buffer, boolean]>([
    ["right password", "correct horse", true],
    ["same bytes as a Buffer", Buffer.from("correct horse"), true],
    ["wrong password", "correct horsf", false],
    ["prefix", "correct hors", false],
    ["longer", "correct horse ", false],
    ["empty", "", false],
    ["case", "Correct horse", false],
  ])("%s", async (_name, attempt, expected) => {
    const encoded = await hashPassword("correct horse", FAST);
    expect(await verifyPassword(attempt, encoded)).toBe(expected);
  });

  it("accepts a pre-parsed hash", async () => {
    const parsed = parsePasswordHash(await hashPassword("s3", FAST));
    expect(await verifyPassword("s3", parsed)).toBe(true);
    expect(await verifyPassword("s4", parsed)).toBe(false);
  });

  it("handles binary (non UTF-8) MQTT passwords", async () => {
    const bin = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    const encoded = await hashPassword(bin, FAST);
    expect(await verifyPassword(Buffer.from(bin), encoded)).toBe(true);
    expect(await verifyPassword(Buffer.from([0xff, 0x00, 0xfe]), encoded)).toBe(false);
  });

  it("accepts base64 without padding and other hash/salt lengths", async () => {
    const salt = Buffer.alloc(10, 1);
    const hash = scryptSync("pw", salt, 20, FAST);
    const encoded = `scrypt$N=1024,r=8,p=1$${salt.toString("base64").replace(/=+$/, "")}$${hash.toString("base64").replace(/=+$/, "")}`;
    expect(await verifyPassword("pw", encoded)).toBe(true);
  });

  it("throws on a malformed hash instead of answering false", async () => {
    await expect(verifyPassword("x", "plain-text")).rejects.toThrow(PasswordHashError);
  });
});

describe("parsePasswordHash", () => {
  it("decodes a valid hash", () => {
    const p = parsePasswordHash(`scrypt$N=16384,r=8,p=1$${SALT}$${HASH}`);
    expect([p.N, p.r, p.p, p.salt.length, p.hash.length]).toEqual([16384, 8, 1, 16, 32]);
  });

  it.each([
    ["plain text", "hunter2", /must be an scrypt hash/],
    ["other scheme", `bcrypt$N=16384,r=8,p=1$${SALT}$${HASH}`, /must be an scrypt hash/],
    ["missing part", `scrypt$N=16384,r=8,p=1$${SALT}`, /must be an scrypt hash/],
    ["extra part", `scrypt$N=16384,r=8,p=1$${SALT}$${HASH}$x`, /must be an scrypt hash/],
    ["empty", "", /must be an scrypt hash/],
    ["params order", `scrypt$r=8,N=16384,p=1$${SALT}$${HASH}`, /parameters must look like/],
    ["params missing", `scrypt$N=16384$${SALT}$${HASH}`, /parameters must look like/],
    ["N not power of 2", `scrypt$N=1000,r=8,p=1$${SALT}$${HASH}`, /power of two/],
    ["N = 1", `scrypt$N=1,r=8,p=1$${SALT}$${HASH}`, /power of two/],
    ["N too large (DoS)", `scrypt$N=2097152,r=8,p=1$${SALT}$${HASH}`, /between 2 and 1048576/],
    ["memory too large (DoS)", `scrypt$N=1048576,r=8,p=1$${SALT}$${HASH}`, /MiB per verification/],
    ["huge digits", `scrypt$N=123456789,r=8,p=1$${SALT}$${HASH}`, /parameters must look like/],
    ["r = 0", `scrypt$N=1024,r=0,p=1$${SALT}$${HASH}`, /r must be/],
    ["p too large", `scrypt$N=1024,r=8,p=99$${SALT}$${HASH}`, /p must be/],
    ["salt not base64", `scrypt$N=1024,r=8,p=1$not*base64$${HASH}`, /salt is not base64/],
    ["salt too short", `scrypt$N=1024,r=8,p=1$${Buffer.alloc(4).toString("base64")}$${HASH}`, /salt must decode to 8..64 bytes, got 4/],
    ["hash empty", `scrypt$N=1024,r=8,p=1$${SALT}$`, /hash is not base64/],
    ["hash too short", `scrypt$N=1024,r=8,p=1$${SALT}$${Buffer.alloc(8).toString("base64")}`, /hash must decode/],
  ])("rejects %s", (_name, encoded, message) => {
    expect(() => parsePasswordHash(encoded)).toThrow(PasswordHashError);
    expect(() => parsePasswordHash(encoded)).toThrow(message);
  });

  it("never echoes a plain-text password in the error", () => {
    expect(() => parsePasswordHash("hunter2")).toThrow(expect.objectContaining({ message: expect.not.stringContaining("hunter2") }));
  });
});
