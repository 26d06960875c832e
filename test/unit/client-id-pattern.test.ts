import { describe, expect, it } from "vitest";
import { clientIdentity, clientIdPatternProblem, compileClientIdPattern } from "../../core/auth/identity.js";
import { loadConfig } from "../../core/config/index.js";

describe("auth.clientIdPattern", () => {
  it.each([
    ["%u", "alice", "alice", true],
    ["%u", "alice-1", "alice", false],
    ["%u", "alic", "alice", false],
    ["%u-*", "alice-1", "alice", true],
    ["%u-*", "alice-", "alice", true],
    ["%u-*", "alice", "alice", false],
    ["%u-*", "bob-1", "alice", false],
    ["%u-*", "xalice-1", "alice", false],
    ["dev/%u/*", "dev/alice/kitchen", "alice", true],
    ["*-%u", "kitchen-alice", "alice", true],
    ["*-%u", "kitchen-alice-2", "alice", false],
    ["%u*%u", "aliceXalice", "alice", true],
    ["%u*%u", "alice", "alice", false],
    ["100%%-%u", "100%-alice", "alice", true],
    ["%%u", "%u", "alice", true],
    ["%%u", "alice", "alice", false],
    // The user name is literal: its own '*' matches only '*'.
    ["%u-1", "a*-1", "a*", true],
    ["%u-1", "ab-1", "a*", false],
  ])("%s: %s for user %s -> %s", (pattern, clientId, username, expected) => {
    expect(compileClientIdPattern(pattern)(clientId, username)).toBe(expected);
  });

  it("a pattern with %u matches no anonymous client; one without applies to everyone", () => {
    expect(compileClientIdPattern("%u-*")("-1", undefined)).toBe(false);
    expect(compileClientIdPattern("dev-*")("dev-1", undefined)).toBe(true);
    expect(compileClientIdPattern("dev-*")("prod-1", "alice")).toBe(false);
  });

  it("refuses unknown escapes and empty patterns, in the config too", async () => {
    expect(clientIdPatternProblem("%c-*")).toMatch(/%u/);
    expect(clientIdPatternProblem("")).toMatch(/empty/);
    expect(clientIdPatternProblem("%%c")).toBeNull();
    expect(() => compileClientIdPattern("%x")).toThrow(/clientIdPattern/);
    await expect(loadConfig({ env: {}, overrides: { auth: { clientIdPattern: "%c" } } })).rejects.toThrow(/auth\.clientIdPattern/);
    expect((await loadConfig({ env: {}, overrides: { auth: { clientIdPattern: "%u-*" } } })).auth.clientIdPattern).toBe("%u-*");
  });

  it("identities: user:<name>, anonymous", () => {
    expect(clientIdentity({ username: "alice" })).toBe("user:alice");
    expect(clientIdentity({ username: "anonymous" })).toBe("user:anonymous");
    expect(clientIdentity({ username: "" })).toBe("user:");
    expect(clientIdentity({})).toBe("anonymous");
  });
});
