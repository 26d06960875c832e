/**
 * AWS IoT Core policy documents (as returned by IoT custom authorizers, and by SST Realtime's `realtime.authorizer`,
 * which wraps one) translated to the ACL file's rules. IoT matches resources with globs (`*` spans levels) and
 * policy variables; our rules use MQTT filters. The translation never widens access: an allow it cannot express
 * exactly is narrowed (a mid-level `*` becomes `+`) or dropped, a deny is broadened (to `#` from the first level it
 * cannot express). docs/auth.md, "Migrating from AWS IoT Core custom authorizers".
 */
import * as z from "zod";
import { validateTopicFilter } from "../topic/validate.js";
import { DEFAULT_TOPIC_LIMITS } from "../topic/types.js";
import type { RuleInput } from "./rules.js";

const strings = z.union([z.string(), z.array(z.string()).max(1000)]).transform((v) => (typeof v === "string" ? [v] : v));
const statement = z.looseObject({ Effect: z.enum(["Allow", "Deny"]), Action: strings, Resource: strings });
const documentSchema = z.looseObject({ Statement: z.union([statement, z.array(statement).max(1000)]) });

/** MQTT filter for an IoT topic glob, or null (allow: drop it). `broaden` (deny): cut at the first inexpressible level. */
function filterOf(glob: string, broaden: boolean): string | null {
  const levels = glob.split("/");
  const out: string[] = [];
  for (let i = 0; i < levels.length; i++) {
    let level = levels[i]!.replaceAll("${iot:ClientId}", "%c");
    const last = i === levels.length - 1;
    if (level === "*") {
      // A trailing `*` is any number of levels; a middle one may span levels too: allow narrows it to one level.
      if (last || broaden) return [...out, "#"].join("/");
      level = "+";
    } else if (level.includes("*") || level.includes("?") || level.includes("${")) {
      if (!broaden) return null;
      return [...out, "#"].join("/");
    }
    out.push(level);
  }
  const filter = out.join("/");
  return validateTopicFilter(filter, DEFAULT_TOPIC_LIMITS) === null ? filter : broaden ? "#" : null;
}

/** The topic part of an IoT resource ARN (`arn:aws:iot:region:account:topic/a/b`), or "*" for `*`. */
function resourceTopic(resource: string, kind: "topic" | "topicfilter"): string | null {
  if (resource === "*") return "*";
  const m = /^arn:[^:]+:iot:[^:]*:[^:]*:([a-z]+)\/(.*)$/.exec(resource);
  if (m === null || m[1] !== kind) return null;
  return m[2]!;
}

function actionMatches(actions: readonly string[], wanted: string): boolean {
  return actions.some((a) => a === wanted || a === "iot:*" || a === "*");
}

/** Rules from IoT policy documents (objects or JSON strings), or a reason why they are refused. */
export function rulesFromIotPolicies(docs: unknown): RuleInput[] | string {
  if (!Array.isArray(docs) || docs.length > 100) return "policyDocuments must be a list of at most 100 policy documents";
  const allowPub: string[] = [];
  const allowSub: string[] = [];
  const denyPub: string[] = [];
  const denySub: string[] = [];
  for (const raw of docs) {
    let doc: unknown = raw;
    if (typeof raw === "string") {
      try {
        doc = JSON.parse(raw);
      } catch {
        return "a policy document is not valid JSON";
      }
    }
    const parsed = documentSchema.safeParse(doc);
    if (!parsed.success) return `a policy document is malformed: ${parsed.error.issues[0]?.message ?? "invalid"}`;
    const statements = Array.isArray(parsed.data.Statement) ? parsed.data.Statement : [parsed.data.Statement];
    for (const s of statements) {
      const deny = s.Effect === "Deny";
      const add = (kind: "topic" | "topicfilter", into: string[]): void => {
        for (const r of s.Resource) {
          const glob = resourceTopic(r, kind);
          if (glob === null) continue;
          const f = filterOf(glob, deny);
          if (f !== null) into.push(f);
        }
      };
      if (actionMatches(s.Action, "iot:Publish")) add("topic", deny ? denyPub : allowPub);
      if (actionMatches(s.Action, "iot:Subscribe")) add("topicfilter", deny ? denySub : allowSub);
      // Receive is checked per delivered topic: a denied Receive becomes a subscribe deny (checked per delivery).
      if (deny && actionMatches(s.Action, "iot:Receive")) add("topic", denySub);
    }
  }
  return [{ allow: { publish: allowPub, subscribe: allowSub }, deny: { publish: denyPub, subscribe: denySub } }];
}
