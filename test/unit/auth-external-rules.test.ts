// Rules from outside the broker (JWT acl claims, HTTP/Lambda authorizer answers): every accepted shape maps to the
// ACL file's rules, malformed ones are refused with a reason, and what EMQX expresses beyond our rules never widens
// access (allow entries dropped, deny entries applied to everything they name).
import { describe, expect, it } from "vitest";
import { externalRules, MAX_EXTERNAL_TOPICS } from "../../core/auth/external-rules.js";
import { policyFromRules } from "../../core/auth/rules.js";

function policy(value: unknown, clientId = "c1", username = "u1") {
  const rules = externalRules(value);
  if (typeof rules === "string") throw new Error(rules);
  return policyFromRules(rules, clientId, username);
}

describe("externalRules", () => {
  it("EMQX list form: placeholders, qos, deny over allow, action all", () => {
    const p = policy([
      { permission: "allow", action: "publish", topic: "t/${clientid}" },
      { permission: "allow", action: "subscribe", topic: "s/${username}/#", qos: [0, 1] },
      { permission: "allow", action: "all", topic: "both/#" },
      { permission: "deny", action: "all", topic: "both/secret" },
    ]);
    expect(p.canPublish("t/c1")).toBe(true);
    expect(p.canPublish("t/c2")).toBe(false);
    expect(p.canSubscribe("s/u1/x", 2)).toBe(1);
    expect(p.canSubscribe("s/u2/x", 0)).toBe(null);
    expect(p.canPublish("both/x")).toBe(true);
    expect(p.canPublish("both/secret")).toBe(false);
    expect(p.canSubscribe("both/secret", 0)).toBe(null);
  });

  it("EMQX conditions we cannot express: allow dropped, deny applied to everything it names", () => {
    const p = policy([
      { permission: "allow", action: "subscribe", topic: "eq a/#" },
      { permission: "allow", action: "publish", topic: "r/1", retain: true },
      { permission: "allow", action: "publish", topic: "q/1", qos: [1] },
      { permission: "allow", action: "publish", topic: "z/1", clientid_re: "^c" },
      { permission: "allow", action: "all", topic: "ok/#" },
      { permission: "deny", action: "publish", topic: "ok/r", retain: true },
      { permission: "deny", action: "subscribe", topic: "eq ok/#" },
    ]);
    expect(p.canSubscribe("a/#", 0)).toBe(null);
    expect(p.canPublish("r/1")).toBe(false);
    expect(p.canPublish("q/1")).toBe(false);
    expect(p.canPublish("z/1")).toBe(false);
    expect(p.canPublish("ok/x")).toBe(true);
    expect(p.canPublish("ok/r")).toBe(false);
    expect(p.canSubscribe("ok/x", 0)).toBe(null);
  });

  it("EMQX older form { pub, sub, all } and SST Realtime { publish, subscribe } are allow lists", () => {
    const old = policy({ pub: ["p/%u"], sub: ["s/#"], all: ["a/%c"] });
    expect(old.canPublish("p/u1")).toBe(true);
    expect(old.canPublish("s/x")).toBe(false);
    expect(old.canSubscribe("a/c1", 2)).toBe(2);
    const sst = policy({ publish: ["chat/room1/#"], subscribe: ["chat/#"] });
    expect(sst.canPublish("chat/room1/a")).toBe(true);
    expect(sst.canPublish("chat/room2/a")).toBe(false);
    expect(sst.canSubscribe("chat/room2/+", 1)).toBe(1);
  });

  it("our own form, single or a list", () => {
    const p = policy([{ allow: { publish: ["x/#"], subscribe: [{ filter: "y/#", maxQos: 0 }] }, deny: { publish: ["x/no"] } }]);
    expect(p.canPublish("x/yes")).toBe(true);
    expect(p.canPublish("x/no")).toBe(false);
    expect(p.canSubscribe("y/1", 2)).toBe(0);
    expect(policy({ allow: { subscribe: ["k"] } }).canSubscribe("k", 1)).toBe(1);
  });

  it("refuses malformed input with a reason", () => {
    expect(externalRules([{ permission: "allow", action: "publish", topic: "a/#/b" }])).toMatch(/not a valid topic filter/);
    expect(externalRules([{ permission: "maybe", action: "publish", topic: "a" }])).toEqual(expect.any(String));
    expect(externalRules({ publish: ["ok"], extra: 1 })).toEqual(expect.any(String));
    expect(externalRules({ pub: "not-a-list" })).toEqual(expect.any(String));
    expect(externalRules("everything")).toEqual(expect.any(String));
    expect(externalRules({ allow: { publish: [1] } })).toEqual(expect.any(String));
    expect(externalRules({ publish: Array.from({ length: MAX_EXTERNAL_TOPICS + 1 }, (_, i) => `t/${i}`) })).toEqual(expect.any(String));
    expect(externalRules([])).toEqual([]);
  });
});
