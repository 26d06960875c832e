import type { z } from "zod";
import { EventParseError, type EventIssue, InvalidEvent } from "./errors.js";
import { EVENT_TYPES, eventSchema, type MqgateEvent, READABLE_VERSIONS } from "./schema.js";

/**
 * Parses one events-queue body (an SQS message body, a Lambda record's `body`). Throws EventParseError whose
 * `code` says what kind of problem it is and whose message names the field:
 * `invalid-json`, `not-an-object`, `unsupported-version`, `unknown-type`, `invalid-field`.
 */
export function parseEvent(body: string): MqgateEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new EventParseError("invalid-json", `event body is not JSON: ${(err as Error).message}`);
  }
  return check(json, (code, message, issues) => new EventParseError(code, message, issues));
}

/** Validates an event a producer is about to emit and encodes it; throws InvalidEvent. */
export function encodeEvent(event: MqgateEvent): string {
  return JSON.stringify(check(event, (code, message, issues) => new InvalidEvent(code, message, issues)));
}

type MakeError = (code: string, message: string, issues?: EventIssue[]) => Error;

function check(json: unknown, fail: MakeError): MqgateEvent {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw fail("not-an-object", "event must be a JSON object");
  }
  const { v, type } = json as { v?: unknown; type?: unknown };
  if (!(READABLE_VERSIONS as readonly unknown[]).includes(v)) {
    const names = READABLE_VERSIONS.map((n) => `v${n}`);
    const known = `${names.slice(0, -1).join(", ")} and ${names.at(-1) ?? ""}`;
    throw fail("unsupported-version", `unsupported event version ${JSON.stringify(v)}; this code reads ${known}`, [
      { path: "v", message: `expected one of ${READABLE_VERSIONS.join(", ")}` },
    ]);
  }
  if (typeof type !== "string" || !(EVENT_TYPES as readonly string[]).includes(type)) {
    throw fail("unknown-type", `unknown event type ${JSON.stringify(type)}; known: ${EVENT_TYPES.join(", ")}`, [
      { path: "type", message: "unknown event type" },
    ]);
  }
  const parsed = eventSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = toIssues(parsed.error);
  const list = issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ");
  throw fail("invalid-field", `invalid ${type} event: ${list}`, issues);
}

function toIssues(error: z.ZodError): EventIssue[] {
  const out: EventIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      // Named one by one: "password: not allowed" is the message that matters.
      for (const key of issue.keys) out.push({ path: [...issue.path, key].join("."), message: "field not allowed in this event" });
      continue;
    }
    out.push({ path: issue.path.map(String).join("."), message: issue.message });
  }
  return out;
}
