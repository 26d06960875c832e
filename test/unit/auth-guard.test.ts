// Exact authorization for wildcards (docs/auth.md): which filters are refused, which are granted with a delivery
// guard, and which topics a guard withholds.
import { beforeAll, describe, expect, it } from "vitest";
import { createAclAuth, createAllowAll, denyGuard, DENY_EVERYTHING, hashPassword } from "../../core/auth/index.js";
import type { Auth, ClientPolicy } from "../../core/auth/index.js";

const FAST = { N: 1024, r: 8, p: 1 } as const;
let auth: Auth;

beforeAll(async () => {
  const password = await hashPassword("pw", FAST);
  auth = createAclAuth({
    anonymous: true,
    users: [
      { username: "admin", password },
      { username: "dev", password },
    ],
    rules: [
      { users: ["admin"], allow: { subscribe: ["#"] }, deny: { subscribe: ["secrets/#", "keys/+/private", "exact/topic"] } },
      { users: ["dev"], allow: { subscribe: ["#"] }, deny: { subscribe: ["devices/+/%c/#", "users/%u/hidden"] } },
      { users: ["$anonymous"], allow: { subscribe: ["public/#"] }, deny: { subscribe: ["public/%u/#"] } },
    ],
  });
});

function policy(clientId: string, username?: string): ClientPolicy {
  const p = auth.policyFor?.({ clientId, username, protocolVersion: 4 });
  if (p === null || p === undefined) throw new Error("no policy");
  return p;
}

describe("canSubscribe: only a filter inside a deny pattern is refused", () => {
  it.each([
    ["#", 1],
    ["+/db", 1],
    ["secrets/#", null],
    ["secrets", null], // "secrets/#" matches its parent level
    ["secrets/+/x", null],
    ["secrets/a/b", null],
    ["keys/+/private", null],
    ["keys/k1/private", null],
    ["keys/#", 1], // overlaps keys/+/private, not inside it
    ["exact/topic", null],
    ["exact/+", 1],
    ["public/x", 1],
  ] as const)("admin subscribing to %s -> %s", (filter, expected) => {
    expect(policy("a", "admin").canSubscribe(filter, 1)).toBe(expected);
  });
});

describe("deliveryGuard(filter): the deny patterns a granted filter overlaps", () => {
  it("is null for a filter that overlaps no deny pattern (its deliveries are not checked)", () => {
    const p = policy("a", "admin");
    expect(p.deliveryGuard?.("public/#")).toBeNull();
    expect(p.deliveryGuard?.("keys/k1/public")).toBeNull();
    expect(p.deliveryGuard?.("$SYS/#")).toBeNull(); // '#' deny patterns do not reach '$' topics anyway
  });

  it("'#' withholds exactly the denied topics", () => {
    const guard = policy("a", "admin").deliveryGuard?.("#");
    expect(guard).not.toBeNull();
    const refused = ["secrets", "secrets/db", "secrets/a/b/c", "keys/k1/private", "exact/topic"];
    const delivered = ["public/x", "secretsx", "secret/db", "keys/k1/public", "keys/k1/private/more", "exact/topic/x", "exact", "a/secrets/db"];
    for (const t of refused) expect(guard?.refuses(t), t).toBe(true);
    for (const t of delivered) expect(guard?.refuses(t), t).toBe(false);
  });

  it("holds only the overlapping patterns", () => {
    const guard = policy("a", "admin").deliveryGuard?.("keys/#");
    expect(guard?.refuses("keys/k/private")).toBe(true);
    // secrets/# does not overlap keys/#: not part of this guard (no topic could reach it through keys/#)
    expect(guard?.refuses("secrets/x")).toBe(false);
  });

  it("without a filter: every deny pattern (for deliveries whose subscription is unknown)", () => {
    const all = policy("a", "admin").deliveryGuard?.();
    expect(all?.refuses("secrets/x")).toBe(true);
    expect(all?.refuses("keys/a/private")).toBe(true);
    expect(all?.refuses("public/x")).toBe(false);
  });

  it("%c and %u are substituted at CONNECT", () => {
    const p = policy("dev7", "dev");
    expect(p.canSubscribe("devices/+/dev7/#", 0)).toBeNull();
    expect(p.canSubscribe("devices/#", 0)).toBe(0);
    const guard = p.deliveryGuard?.("devices/#");
    expect(guard?.refuses("devices/site1/dev7/state")).toBe(true);
    expect(guard?.refuses("devices/site1/dev8/state")).toBe(false);
    const users = p.deliveryGuard?.("users/+/+");
    expect(users?.refuses("users/dev/hidden")).toBe(true);
    expect(users?.refuses("users/other/hidden")).toBe(false);
    // another client of the same user: its own client id
    expect(policy("dev8", "dev").deliveryGuard?.("devices/#")?.refuses("devices/site1/dev7/state")).toBe(false);
  });

  it("a deny pattern whose value is unsafe fails closed: nothing is granted, everything withheld", () => {
    // %u for an anonymous client cannot be substituted
    const p = policy("g");
    expect(p.canSubscribe("public/#", 0)).toBeNull();
    expect(p.canSubscribe("public/x", 0)).toBeNull();
    expect(p.deliveryGuard?.("public/x")).toBe(DENY_EVERYTHING);
    expect(p.deliveryGuard?.()?.refuses("public/x")).toBe(true);
    // a client id with a wildcard, in a %c deny pattern
    const q = policy("#", "dev");
    expect(q.canSubscribe("devices/#", 0)).toBeNull();
    expect(q.deliveryGuard?.()?.refuses("anything")).toBe(true);
  });

  it("allow-all has no guards", () => {
    const p = createAllowAll().policyFor?.({ clientId: "x", protocolVersion: 4 });
    expect(p?.deliveryGuard?.("#") ?? null).toBeNull();
  });
});

describe("policyFor: the rules of a client that is not connected", () => {
  it("is the same policy CONNECT gives", async () => {
    const d = await auth.connect({ clientId: "a", username: "admin", protocolVersion: 4 }, Buffer.from("pw"));
    expect(d.ok).toBe(true);
    const viaConnect = d.ok ? d.policy : null;
    const viaIdentity = policy("a", "admin");
    for (const f of ["#", "secrets/#", "+/db", "public/x"]) expect(viaIdentity.canSubscribe(f, 2)).toBe(viaConnect?.canSubscribe(f, 2));
  });

  it("is null for an unknown user", () => {
    expect(auth.policyFor?.({ clientId: "a", username: "nobody", protocolVersion: 4 })).toBeNull();
  });

  it("is null for anonymous when anonymous clients are not allowed", async () => {
    const closed = createAclAuth({ users: [{ username: "u", password: await hashPassword("pw", FAST) }], rules: [] });
    expect(closed.policyFor?.({ clientId: "a", protocolVersion: 4 })).toBeNull();
  });
});

describe("denyGuard", () => {
  it("splits exact topics from wildcard patterns and keeps MQTT matching rules", () => {
    const g = denyGuard(["a/b", "c/+", "d/#", "#"]);
    expect(g?.refuses("a/b")).toBe(true);
    expect(g?.refuses("c/x")).toBe(true);
    expect(g?.refuses("anything")).toBe(true);
    expect(g?.refuses("$SYS/x")).toBe(false); // [MQTT-4.7.2-1]: a leading wildcard never matches '$' topics
    expect(denyGuard(["$SYS/#"])?.refuses("$SYS/broker/x")).toBe(true);
  });

  it("is null for no patterns", () => {
    expect(denyGuard([])).toBeNull();
  });
});
