import { describe, expect, it } from "vitest";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import { IDENTITY_LOG_MAX, type RoleRecord, type UserRecord } from "../../../core/store/identity-types.js";
import { type Ctx, T0 } from "./fixtures.js";

export function user(username: string, over: Partial<UserRecord> = {}): UserRecord {
  return {
    username,
    passwordHash: "scrypt$N=16384,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=",
    clientIdPattern: null,
    roles: [],
    disabled: false,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function role(name: string, over: Partial<RoleRecord> = {}): RoleRecord {
  return {
    name,
    allow: { publish: [`${name}/%u/#`], subscribe: [`${name}/#`, { filter: "q/+", maxQos: 1 }] },
    deny: { publish: [], subscribe: [`${name}/secret/#`] },
    updatedAt: T0,
    ...over,
  };
}

/** Users and roles (IdentityStore): CRUD, one-round-trip identity reads, the change log. */
export function identityTests(ctx: Ctx): void {
  describe("users and roles", () => {
    it("stores, reads, replaces and deletes users with every field", async () => {
      const u = user("ålice/1", { roles: ["ops", "dev"], clientIdPattern: "%u-*", disabled: true });
      expect(await ctx.store.getUser("ålice/1")).toBeNull();
      await ctx.store.putUser(u);
      expect(await ctx.store.getUser("ålice/1")).toEqual(u);
      const u2 = { ...u, roles: [], disabled: false, updatedAt: T0 + 5 };
      await ctx.store.putUser(u2);
      expect(await ctx.store.getUser("ålice/1")).toEqual(u2);
      expect(await ctx.store.deleteUser("ålice/1")).toBe(true);
      expect(await ctx.store.deleteUser("ålice/1")).toBe(false);
      expect(await ctx.store.getUser("ålice/1")).toBeNull();
    });

    it("lists users in byte order, page by page", async () => {
      for (const n of ["carol", "alice", "bob", "dave", "Éve"]) await ctx.store.putUser(user(n));
      const p1 = await ctx.store.listUsers({ limit: 2 });
      expect(p1.items.map((u) => u.username)).toEqual(["alice", "bob"]);
      const p2 = await ctx.store.listUsers({ limit: 2, cursor: p1.cursor });
      expect(p2.items.map((u) => u.username)).toEqual(["carol", "dave"]);
      const p3 = await ctx.store.listUsers({ limit: 2, cursor: p2.cursor });
      expect(p3).toEqual({ items: [user("Éve")], cursor: null });
      await ctx.store.deleteUser("bob");
      expect((await ctx.store.listUsers({ limit: 10 })).items.map((u) => u.username)).toEqual(["alice", "carol", "dave", "Éve"]);
    });

    it("stores, lists and deletes roles", async () => {
      await ctx.store.putRole(role("ops"));
      await ctx.store.putRole(role("dev", { deny: { publish: ["x"], subscribe: [] } }));
      expect(await ctx.store.getRole("ops")).toEqual(role("ops"));
      expect((await ctx.store.listRoles()).map((r) => r.name)).toEqual(["dev", "ops"]);
      expect(await ctx.store.deleteRole("dev")).toBe(true);
      expect(await ctx.store.deleteRole("dev")).toBe(false);
      expect(await ctx.store.listRoles()).toEqual([role("ops")]);
    });

    it("getIdentity returns the user with the roles it names that exist, in the user's order", async () => {
      expect(await ctx.store.getIdentity("alice")).toBeNull();
      await ctx.store.putRole(role("ops"));
      await ctx.store.putRole(role("dev"));
      await ctx.store.putUser(user("alice", { roles: ["dev", "missing", "ops"] }));
      expect(await ctx.store.getIdentity("alice")).toEqual({ user: user("alice", { roles: ["dev", "missing", "ops"] }), roles: [role("dev"), role("ops")] });
      await ctx.store.deleteRole("dev");
      expect((await ctx.store.getIdentity("alice"))?.roles).toEqual([role("ops")]);
    });

    it("every write bumps the version and names what changed; reads and failed deletes do not", async () => {
      const v0 = (await ctx.store.identityChanges(0)).version;
      expect(await ctx.store.identityChanges(v0)).toEqual({ version: v0, users: [], roles: [], complete: true });
      await ctx.store.putUser(user("alice"));
      await ctx.store.putRole(role("ops"));
      await ctx.store.putUser(user("bob"));
      await ctx.store.putUser(user("alice", { disabled: true }));
      await ctx.store.getIdentity("alice");
      expect(await ctx.store.deleteUser("nobody")).toBe(false);
      const c = await ctx.store.identityChanges(v0);
      expect(c.version).toBe(v0 + 4);
      expect(c.complete).toBe(true);
      expect([...c.users].sort()).toEqual(["alice", "bob"]);
      expect(c.roles).toEqual(["ops"]);
      expect(await ctx.store.identityChanges(v0 + 3)).toEqual({ version: v0 + 4, users: ["alice"], roles: [], complete: true });
      await ctx.store.deleteRole("ops");
      expect(await ctx.store.identityChanges(v0 + 4)).toEqual({ version: v0 + 5, users: [], roles: ["ops"], complete: true });
    });

    it("a version older than the log, or newer than the store (a reset), is reported incomplete", async () => {
      for (let i = 0; i < IDENTITY_LOG_MAX + 2; i++) await ctx.store.putRole(role(`r${i % 3}`));
      const { version } = await ctx.store.identityChanges(0);
      expect(version).toBe(IDENTITY_LOG_MAX + 2);
      expect((await ctx.store.identityChanges(0)).complete).toBe(false);
      expect((await ctx.store.identityChanges(1)).complete).toBe(false);
      expect(await ctx.store.identityChanges(2)).toMatchObject({ complete: true });
      expect((await ctx.store.identityChanges(version + 10)).complete).toBe(false);
    });

    it("refuses malformed records and names without writing anything", async () => {
      const bad: unknown[] = [
        user(""),
        user("a\0b"),
        user("x".repeat(1025)),
        user("a", { passwordHash: "" }),
        user("a", { roles: ["bad name"] }),
        user("a", { roles: Array.from({ length: 65 }, (_, i) => `r${i}`) }),
        user("a", { clientIdPattern: "" }),
      ];
      for (const u of bad) await expect(ctx.store.putUser(u as UserRecord)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.putRole(role("a,b"))).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.putRole(role("big", { allow: { publish: Array.from({ length: 1001 }, (_, i) => `t/${i}`), subscribe: [] } }))).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.identityChanges(-1)).rejects.toBeInstanceOf(InvalidStoreInput);
      expect((await ctx.store.listUsers({ limit: 10 })).items).toEqual([]);
      expect(await ctx.store.listRoles()).toEqual([]);
      expect((await ctx.store.identityChanges(0)).version).toBe(0);
    });
  });
}
