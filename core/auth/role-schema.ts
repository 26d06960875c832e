/**
 * The rules of a role in the store (REST `PUT /v1/roles/{name}`, the CLI, imports): the ACL file's `allow` /
 * `deny` form, validated like the file (every pattern a valid topic filter, maxQos 0..2), bounded in size.
 */
import * as z from "zod";
import { IDENTITY_LIMITS, type RoleRules } from "../store/identity-types.js";
import { DEFAULT_TOPIC_LIMITS } from "../topic/types.js";
import { validateTopicFilter } from "../topic/validate.js";

const pattern = z.string().superRefine((s, ctx) => {
  const bad = validateTopicFilter(s, DEFAULT_TOPIC_LIMITS);
  if (bad !== null) ctx.addIssue({ code: "custom", message: `${JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s)} is not a valid topic filter: ${bad}` });
});
const patterns = z.array(pattern).max(IDENTITY_LIMITS.maxRulesPerRole);
const subscribeEntry = z.union([pattern, z.strictObject({ filter: pattern, maxQos: z.literal([0, 1, 2]).optional() })]);

export const roleRulesSchema = z
  .strictObject({
    allow: z.strictObject({ publish: patterns.default([]), subscribe: z.array(subscribeEntry).max(IDENTITY_LIMITS.maxRulesPerRole).default([]) }).default({ publish: [], subscribe: [] }),
    deny: z.strictObject({ publish: patterns.default([]), subscribe: patterns.default([]) }).default({ publish: [], subscribe: [] }),
  })
  .superRefine((r, ctx) => {
    const n = r.allow.publish.length + r.allow.subscribe.length + r.deny.publish.length + r.deny.subscribe.length;
    if (n > IDENTITY_LIMITS.maxRulesPerRole) ctx.addIssue({ code: "custom", message: `a role has at most ${IDENTITY_LIMITS.maxRulesPerRole} patterns, got ${n}` });
  });

/** Validated rules, or a list of "path: message" problems. */
export function parseRoleRules(input: unknown): { ok: true; rules: RoleRules } | { ok: false; issues: { path: string; message: string }[] } {
  const r = roleRulesSchema.safeParse(input);
  if (r.success) return { ok: true, rules: r.data as RoleRules };
  return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) };
}
