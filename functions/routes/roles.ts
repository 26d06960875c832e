/** Roles in the store (issue 15): rules of the ACL file's form that users of the `store` backend get. Admin scope. */
import type { RoleRecord } from "../../core/store/identity-types.js";
import { NotFoundError } from "../errors.js";
import { Role, RoleList, RoleParams, RoleRequest } from "../identity-schemas.js";
import { defineRoute } from "../route.js";
import { storeCall } from "../store-errors.js";

function roleView(r: RoleRecord) {
  return { name: r.name, allow: r.allow, deny: r.deny, updatedAt: new Date(r.updatedAt).toISOString() };
}

export const rolesListRoute = defineRoute({
  method: "GET",
  path: "/v1/roles",
  operationId: "listRoles",
  summary: "List roles",
  tag: "identity",
  scope: "admin",
  responses: { 200: { description: "Every role, by name.", schema: RoleList } },
  problems: [503],
  async handle(_input, { backend }) {
    return { status: 200, body: { items: (await backend.store.listRoles()).map(roleView) } };
  },
});

export const roleGetRoute = defineRoute({
  method: "GET",
  path: "/v1/roles/{name}",
  operationId: "getRole",
  summary: "Get a role",
  tag: "identity",
  scope: "admin",
  params: RoleParams,
  responses: { 200: { description: "The role.", schema: Role } },
  problems: [400, 404, 503],
  async handle({ params }, { backend }) {
    const r = await storeCall(() => backend.store.getRole(params.name), "name");
    if (r === null) throw new NotFoundError(`no role '${params.name}'`);
    return { status: 200, body: roleView(r) };
  },
});

export const rolePutRoute = defineRoute({
  method: "PUT",
  path: "/v1/roles/{name}",
  operationId: "putRole",
  summary: "Create or replace a role",
  description:
    "Sets the role's rules (ACL file semantics). Live connections of users with this role follow within about a second: " +
    "their rules are replaced and subscriptions the new rules refuse are removed (event session.unsubscribed, source \"policy\").",
  tag: "identity",
  scope: "admin",
  params: RoleParams,
  body: RoleRequest,
  responses: { 200: { description: "The role, replaced.", schema: Role }, 201: { description: "The role, created.", schema: Role } },
  problems: [400, 503],
  async handle({ params, body }, { backend }) {
    const store = backend.store;
    const created = (await storeCall(() => store.getRole(params.name), "name")) === null;
    const role: RoleRecord = { name: params.name, allow: body.allow, deny: body.deny, updatedAt: Date.now() } as RoleRecord;
    await storeCall(() => store.putRole(role), "body");
    return { status: created ? 201 : 200, body: roleView(role) };
  },
});

export const roleDeleteRoute = defineRoute({
  method: "DELETE",
  path: "/v1/roles/{name}",
  operationId: "deleteRole",
  summary: "Delete a role",
  description: "Deletes the role; users that name it keep the name but get nothing from it. Their live connections follow within about a second.",
  tag: "identity",
  scope: "admin",
  params: RoleParams,
  responses: { 204: { description: "Deleted." } },
  problems: [400, 404, 503],
  async handle({ params }, { backend }) {
    if (!(await storeCall(() => backend.store.deleteRole(params.name), "name"))) throw new NotFoundError(`no role '${params.name}'`);
    return { status: 204 };
  },
});
