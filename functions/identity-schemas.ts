/** Request and response schemas of the users and roles routes (issue 15), registered for the OpenAPI document. */
import * as z from "zod";
import { roleRulesSchema } from "../core/auth/role-schema.js";
import { IDENTITY_LIMITS } from "../core/store/identity-types.js";
import { requestSchemas, responseSchemas } from "./schemas.js";

const ROLE_NAME = /^[A-Za-z0-9_.:@-]+$/;

const username = z
  .string()
  .min(1, "must not be empty")
  .refine((s) => Buffer.byteLength(s) <= IDENTITY_LIMITS.maxUsernameBytes, `must be at most ${IDENTITY_LIMITS.maxUsernameBytes} bytes`)
  .refine((s) => !s.includes("\0"), "must not contain U+0000")
  .meta({ description: "MQTT user name." });
const password = z.string().min(1, "must not be empty").max(4096, "must be at most 4096 characters").meta({ description: "The password (hashed with scrypt before it is stored; never returned)." });
export const roleName = z
  .string()
  .min(1, "must not be empty")
  .max(IDENTITY_LIMITS.maxRoleNameLength, `must be at most ${IDENTITY_LIMITS.maxRoleNameLength} characters`)
  .regex(ROLE_NAME, "must be letters, digits, '_', '.', ':', '@' or '-'")
  .meta({ description: "Role name." });
const roles = z.array(roleName).max(IDENTITY_LIMITS.maxRolesPerUser, `must contain at most ${IDENTITY_LIMITS.maxRolesPerUser} roles`).meta({ description: "Role names, in order. A role that does not exist (yet) grants nothing." });
const clientIdPattern = z
  .string()
  .min(1, "must not be empty")
  .max(IDENTITY_LIMITS.maxClientIdPatternLength)
  .nullable()
  .meta({ description: "Client ids the user may connect with: exact text, '*' = any run of characters, '%u' = the user name (e.g. \"%u-*\"). null = any." });
const disabled = z.boolean().meta({ description: "A disabled user is refused (CONNACK 0x05) and its live connections are closed." });

export const UserParams = z.strictObject({ username: z.string().min(1).meta({ description: "User name, percent-encoded." }) });
export const RoleParams = z.strictObject({ name: roleName });

export const CreateUserRequest = z
  .strictObject({ username, password, roles: roles.default([]), clientIdPattern: clientIdPattern.default(null), disabled: disabled.default(false) })
  .meta({ description: "A new MQTT user." });
requestSchemas.add(CreateUserRequest, { id: "CreateUserRequest" });

export const UpdateUserRequest = z
  .strictObject({ password: password.optional(), roles: roles.optional(), clientIdPattern: clientIdPattern.optional(), disabled: disabled.optional() })
  .refine((b) => Object.keys(b).length > 0, "must change at least one of password, roles, clientIdPattern, disabled")
  .meta({ description: "The fields to change; the others stay." });
requestSchemas.add(UpdateUserRequest, { id: "UpdateUserRequest" });

export const RoleRequest = roleRulesSchema.meta({
  description: "The role's rules, with the ACL file's form and semantics (docs/auth.md): deny wins, nothing allowed is refused, %c / %u substituted.",
});
requestSchemas.add(RoleRequest, { id: "RoleRequest" });

const time = z.string().meta({ format: "date-time" });

export const User = z.object({ username: z.string(), roles: z.array(z.string()), clientIdPattern: z.string().nullable(), disabled: z.boolean(), createdAt: time, updatedAt: time });
responseSchemas.add(User, { id: "User" });

export const UserPage = z.object({ items: z.array(User), cursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last page." }) });
responseSchemas.add(UserPage, { id: "UserPage" });

const subscribeOut = z.union([z.string(), z.object({ filter: z.string(), maxQos: z.literal([0, 1, 2]).optional() })]);
export const Role = z.object({
  name: z.string(),
  allow: z.object({ publish: z.array(z.string()), subscribe: z.array(subscribeOut) }),
  deny: z.object({ publish: z.array(z.string()), subscribe: z.array(z.string()) }),
  updatedAt: time,
});
responseSchemas.add(Role, { id: "Role" });

export const RoleList = z.object({ items: z.array(Role) });
responseSchemas.add(RoleList, { id: "RoleList" });

export const UsersQuery = z.strictObject({
  cursor: z.string().min(1, "must not be empty").optional().meta({ description: "Cursor returned by the previous page; omit for the first page." }),
  limit: z
    .string()
    .regex(/^\d+$/, "must be an integer")
    .default("100")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(1000, "must be at most 1000"))
    .meta({ description: "Page size, 1..1000.", type: "integer", minimum: 1, maximum: 1000 }),
});
