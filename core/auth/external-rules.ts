/**
 * Rules that arrive from outside the broker (a JWT's `acl` claim, an HTTP or Lambda authorizer's answer), validated
 * and translated to the ACL file's rule form (core/auth/rules.ts). Accepted shapes:
 *
 * - ours: `{ allow: { publish, subscribe }, deny: { publish, subscribe } }`, or a list of them;
 * - EMQX's newer ACL list: `[{ permission: "allow"|"deny", action: "publish"|"subscribe"|"all", topic, qos? }]`;
 * - EMQX's older form: `{ pub: [...], sub: [...], all: [...] }` (allow lists);
 * - SST Realtime's authorizer result: `{ publish: [...], subscribe: [...] }` (allow lists).
 *
 * Every topic is checked with validateTopicFilter; anything else is refused with a reason (the caller denies the
 * client: a malformed policy never widens access). Where EMQX can express more than our rules (`eq` filters, QoS or
 * retain conditions on publish, client/zone conditions), an allow entry is dropped and a deny entry applies to
 * everything it names: narrower than EMQX, never wider (docs/auth.md, "JWT").
 */
import * as z from "zod";
import { validateTopicFilter } from "../topic/validate.js";
import { DEFAULT_TOPIC_LIMITS } from "../topic/types.js";
import type { RuleInput } from "./rules.js";

/** At most this many topics per answer: a policy is compiled per CONNECT. */
export const MAX_EXTERNAL_TOPICS = 1000;

/** EMQX placeholders ${clientid} / ${username} become ours (%c / %u). */
function placeholders(topic: string): string {
  return topic.replaceAll("${clientid}", "%c").replaceAll("${username}", "%u");
}

const topic = z
  .string()
  .max(65535)
  .transform(placeholders)
  .superRefine((s, ctx) => {
    const bad = validateTopicFilter(s, DEFAULT_TOPIC_LIMITS);
    if (bad !== null) ctx.addIssue({ code: "custom", message: `${JSON.stringify(s)} is not a valid topic filter: ${bad}` });
  });
const topics = z.array(topic).max(MAX_EXTERNAL_TOPICS);
const qos = z.int().min(0).max(2);

const oursSchema = z.strictObject({
  allow: z
    .strictObject({
      publish: topics.optional(),
      subscribe: z.array(z.union([topic, z.strictObject({ filter: topic, maxQos: qos.optional() })])).max(MAX_EXTERNAL_TOPICS).optional(),
    })
    .optional(),
  deny: z.strictObject({ publish: topics.optional(), subscribe: topics.optional() }).optional(),
});

const emqxEntry = z.looseObject({
  permission: z.enum(["allow", "deny"]),
  action: z.enum(["publish", "subscribe", "all"]),
  topic: z.string().max(65535),
  qos: z.array(qos).optional(),
  retain: z.boolean().optional(),
});
const emqxList = z.array(emqxEntry).max(MAX_EXTERNAL_TOPICS);
const emqxOld = z.strictObject({ pub: topics.optional(), sub: topics.optional(), all: topics.optional() });
const sstSchema = z.strictObject({ publish: topics.optional(), subscribe: topics.optional() });

/** EMQX's conditions our rules cannot express (an allow entry carrying one is dropped, a deny entry applies). */
const EMQX_CONDITIONS = ["clientid_re", "username_re", "ipaddr", "zone", "zone_re", "listener", "listener_re"];

function issue(err: z.ZodError): string {
  const first = err.issues[0];
  if (first === undefined) return "is invalid";
  const where = first.path.length > 0 ? `at ${first.path.join(".")}: ` : "";
  return `${where}${first.message}`;
}

function fromEmqxList(entries: z.infer<typeof emqxList>): RuleInput[] | string {
  const allowPub: string[] = [];
  const allowSub: Array<{ filter: string; maxQos: number }> = [];
  const denyPub: string[] = [];
  const denySub: string[] = [];
  for (const [i, e] of entries.entries()) {
    const exact = e.topic.startsWith("eq ");
    const parsed = topic.safeParse(exact ? e.topic.slice(3) : e.topic);
    if (!parsed.success) return `at ${i}.topic: ${issue(parsed.error)}`;
    const t = parsed.data;
    const pub = e.action !== "subscribe";
    const sub = e.action !== "publish";
    if (e.permission === "deny") {
      if (pub) denyPub.push(t);
      if (sub) denySub.push(t);
      continue;
    }
    const conditional = exact || e.retain !== undefined || EMQX_CONDITIONS.some((k) => k in e);
    if (conditional) continue;
    const qosList = e.qos ?? [0, 1, 2];
    if (pub && qosList.length === 3 && new Set(qosList).size === 3) allowPub.push(t);
    if (sub && qosList.length > 0) allowSub.push({ filter: t, maxQos: Math.max(...qosList) });
  }
  return [{ allow: { publish: allowPub, subscribe: allowSub }, deny: { publish: denyPub, subscribe: denySub } }];
}

/** The rules in `value` (any accepted shape), or a reason why it is refused. */
export function externalRules(value: unknown): RuleInput[] | string {
  if (Array.isArray(value)) {
    if (value.length === 0) return [];
    const first: unknown = value[0];
    if (first !== null && typeof first === "object" && "permission" in first) {
      const r = emqxList.safeParse(value);
      return r.success ? fromEmqxList(r.data) : issue(r.error);
    }
    const r = z.array(oursSchema).max(MAX_EXTERNAL_TOPICS).safeParse(value);
    return r.success ? r.data : issue(r.error);
  }
  if (value === null || typeof value !== "object") return "must be a list of rules or a mapping";
  if ("allow" in value || "deny" in value) {
    const r = oursSchema.safeParse(value);
    return r.success ? [r.data] : issue(r.error);
  }
  if ("pub" in value || "sub" in value || "all" in value) {
    const r = emqxOld.safeParse(value);
    if (!r.success) return issue(r.error);
    const all = r.data.all ?? [];
    return [{ allow: { publish: [...(r.data.pub ?? []), ...all], subscribe: [...(r.data.sub ?? []), ...all] } }];
  }
  const r = sstSchema.safeParse(value);
  return r.success ? [{ allow: { publish: r.data.publish ?? [], subscribe: r.data.subscribe ?? [] } }] : issue(r.error);
}
