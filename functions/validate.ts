import type { z } from "zod";
import { validateTopicFilter, validateTopicName, type TopicLimits } from "../core/topic/index.js";
import { type FieldError, type FieldLocation, ValidationError } from "./errors.js";

/** Where a value came from: a JSON body, the query string, the path or a header. */
export type Location = "body" | "query" | "path" | "header";

/**
 * Validates `value` with `schema` at the edge. Every zod issue becomes a FieldError naming the body field (JSON
 * pointer) or the parameter; the request fails with all of them at once.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: Location): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  const errors: FieldError[] = [];
  for (const issue of r.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) errors.push(field(where, [...issue.path, k], where === "body" ? "is not a known field" : "is not a known parameter"));
      continue;
    }
    errors.push(field(where, issue.path, message(issue)));
  }
  throw new ValidationError(errors);
}

/** A FieldError for `path` inside a body (pointer), for a parameter or a header (its name). */
export function field(where: Location, path: readonly PropertyKey[], detail: string): FieldError {
  if (where === "body") return { pointer: pointer(path), detail };
  if (where === "header") return { header: String(path[0] ?? ""), detail };
  return { parameter: String(path[0] ?? ""), detail };
}

/** RFC 6901 JSON pointer as a URI fragment: ["messages", 2, "topic"] -> "#/messages/2/topic". */
export function pointer(path: readonly PropertyKey[]): string {
  return "#" + path.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

function message(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && (issue as { input?: unknown }).input === undefined) return "is required";
  return issue.message.replace(/^Invalid input: /, "");
}

/** @throws ValidationError when `topic` is not a valid topic name under the broker's limits. */
export function checkTopicName(topic: string, limits: TopicLimits, at: FieldLocation): void {
  const invalid = validateTopicName(topic, limits);
  if (invalid !== null) throw new ValidationError([{ ...at, detail: invalid }]);
}

/** @throws ValidationError when `filter` is not a valid topic filter under the broker's limits. */
export function checkTopicFilter(filter: string, limits: TopicLimits, at: FieldLocation): void {
  const invalid = validateTopicFilter(filter, limits);
  if (invalid !== null) throw new ValidationError([{ ...at, detail: invalid }]);
}
