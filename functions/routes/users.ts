/**
 * Users in the store (issue 15; docs/auth.md, "Users and roles in the store"). Admin scope. Passwords are hashed
 * here with scrypt: the store never holds a password, and no answer ever carries the hash. A change reaches every
 * broker within auth.syncIntervalMs (250 ms) plus one store read: deleted or disabled users are disconnected.
 */
import { hashPassword } from "../../core/auth/password.js";
import type { UserRecord } from "../../core/store/identity-types.js";
import { ConflictError, NotFoundError } from "../errors.js";
import { CreateUserRequest, UpdateUserRequest, User, UserPage, UserParams, UsersQuery } from "../identity-schemas.js";
import { defineRoute } from "../route.js";
import { storeCall } from "../store-errors.js";

/** A user as the API shows it: everything but the hash. */
export function userView(u: UserRecord) {
  return {
    username: u.username,
    roles: u.roles,
    clientIdPattern: u.clientIdPattern,
    disabled: u.disabled,
    createdAt: new Date(u.createdAt).toISOString(),
    updatedAt: new Date(u.updatedAt).toISOString(),
  };
}

export const userCreateRoute = defineRoute({
  method: "POST",
  path: "/v1/users",
  operationId: "createUser",
  summary: "Create a user",
  description: "Creates an MQTT user of the `store` auth backend. It can connect to every broker at once (no restart). 409 when the user exists (change it with PATCH).",
  tag: "identity",
  scope: "admin",
  body: CreateUserRequest,
  responses: { 201: { description: "The user (without its password hash).", schema: User } },
  problems: [400, 409, 503],
  async handle({ body }, { backend }) {
    const store = backend.store;
    if ((await storeCall(() => store.getUser(body.username), "username")) !== null) throw new ConflictError(`user '${body.username}' exists; change it with PATCH /v1/users/{username}`);
    const now = Date.now();
    const user: UserRecord = {
      username: body.username,
      passwordHash: await hashPassword(body.password),
      clientIdPattern: body.clientIdPattern,
      roles: body.roles,
      disabled: body.disabled,
      createdAt: now,
      updatedAt: now,
    };
    await storeCall(() => store.putUser(user), "body");
    return { status: 201, body: userView(user), headers: { location: `/v1/users/${encodeURIComponent(user.username)}` } };
  },
});

export const usersListRoute = defineRoute({
  method: "GET",
  path: "/v1/users",
  operationId: "listUsers",
  summary: "List users",
  description: "Users of the `store` auth backend, ordered by name, one page at a time. Password hashes are never returned.",
  tag: "identity",
  scope: "admin",
  query: UsersQuery,
  responses: { 200: { description: "One page of users.", schema: UserPage } },
  problems: [400, 503],
  async handle({ query }, { backend }) {
    const page = await storeCall(() => backend.store.listUsers({ cursor: query.cursor ?? null, limit: query.limit }), "cursor");
    return { status: 200, body: { items: page.items.map(userView), cursor: page.cursor } };
  },
});

async function existing(store: { getUser(u: string): Promise<UserRecord | null> }, username: string): Promise<UserRecord> {
  const u = await storeCall(() => store.getUser(username), "username");
  if (u === null) throw new NotFoundError(`no user '${username}'`);
  return u;
}

export const userGetRoute = defineRoute({
  method: "GET",
  path: "/v1/users/{username}",
  operationId: "getUser",
  summary: "Get a user",
  tag: "identity",
  scope: "admin",
  params: UserParams,
  responses: { 200: { description: "The user (without its password hash).", schema: User } },
  problems: [400, 404, 503],
  async handle({ params }, { backend }) {
    return { status: 200, body: userView(await existing(backend.store, params.username)) };
  },
});

export const userUpdateRoute = defineRoute({
  method: "PATCH",
  path: "/v1/users/{username}",
  operationId: "updateUser",
  summary: "Change a user",
  description:
    "Changes the password, roles, client-id pattern or disabled flag. Live connections follow within about a second: " +
    "disabling closes them; new roles replace their rules and subscriptions the new rules refuse are removed. A new password applies to new connections.",
  tag: "identity",
  scope: "admin",
  params: UserParams,
  body: UpdateUserRequest,
  responses: { 200: { description: "The user after the change.", schema: User } },
  problems: [400, 404, 503],
  async handle({ params, body }, { backend }) {
    const store = backend.store;
    const old = await existing(store, params.username);
    const user: UserRecord = {
      ...old,
      ...(body.password !== undefined ? { passwordHash: await hashPassword(body.password) } : {}),
      ...(body.roles !== undefined ? { roles: body.roles } : {}),
      ...(body.clientIdPattern !== undefined ? { clientIdPattern: body.clientIdPattern } : {}),
      ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
      updatedAt: Date.now(),
    };
    await storeCall(() => store.putUser(user), "body");
    return { status: 200, body: userView(user) };
  },
});

export const userDeleteRoute = defineRoute({
  method: "DELETE",
  path: "/v1/users/{username}",
  operationId: "deleteUser",
  summary: "Delete a user",
  description: "Deletes the user: new CONNECTs with it are refused at once, and its live connections on every broker are closed within about a second.",
  tag: "identity",
  scope: "admin",
  params: UserParams,
  responses: { 204: { description: "Deleted." } },
  problems: [400, 404, 503],
  async handle({ params }, { backend }) {
    if (!(await storeCall(() => backend.store.deleteUser(params.username), "username"))) throw new NotFoundError(`no user '${params.username}'`);
    return { status: 204 };
  },
});
