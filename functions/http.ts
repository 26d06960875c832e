import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { type HttpError, TooLargeError, ValidationError } from "./errors.js";

/**
 * Reading API Gateway HTTP API (payload format 2.0) events and writing their results. Kept free of routing so
 * the local adapter's tests and the router share one notion of "the request".
 */

/** What a route handler answers; the router serializes it. */
export interface RouteResponse {
  status: number;
  /** JSON-serialized when present; absent for 204. */
  body?: unknown;
  headers?: Record<string, string>;
}

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" } as const;

export function jsonResult(res: RouteResponse): APIGatewayProxyStructuredResultV2 {
  if (res.body === undefined) return { statusCode: res.status, headers: { "cache-control": "no-store", ...res.headers } };
  return { statusCode: res.status, headers: { ...JSON_HEADERS, ...res.headers }, body: JSON.stringify(res.body) };
}

/** RFC 9457 problem details; `errors` lists each invalid field (pointer / parameter / header) with its detail. */
export function problemResult(err: HttpError, instance: string, requestId: string): APIGatewayProxyStructuredResultV2 {
  const body: Record<string, unknown> = {
    type: `urn:mqgate:problem:${err.type}`,
    title: err.title,
    status: err.status,
    detail: err.detail,
    instance,
    requestId,
  };
  if (err.errors.length > 0) body.errors = err.errors;
  return {
    statusCode: err.status,
    headers: { "content-type": "application/problem+json", "cache-control": "no-store", ...err.headers },
    body: JSON.stringify(body),
  };
}

/** A header by lower-case name (API Gateway v2 lower-cases header names; the local adapter does too). */
export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  return event.headers[name] ?? undefined;
}

/**
 * Query parameters from `rawQueryString`, percent-decoded. A '+' stays a '+' (MQTT single-level wildcard), it is
 * not a space; a repeated or malformed parameter is an error rather than a guess.
 */
export function parseQuery(event: APIGatewayProxyEventV2): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = event.rawQueryString ?? "";
  if (raw === "") {
    // Hand-made events may carry only the decoded map.
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) out[k] = v;
    return out;
  }
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq < 0 ? part : part.slice(0, eq), "query parameter name");
    const value = eq < 0 ? "" : decodeParam(part.slice(eq + 1), name);
    if (Object.hasOwn(out, name)) throw new ValidationError([{ parameter: name, detail: "is given more than once" }]);
    out[name] = value;
  }
  return out;
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ValidationError([{ parameter: s, detail: `malformed percent-encoding in ${what}` }]);
  }
}

/** Percent-decodes a query or path parameter value. */
export function decodeParam(s: string, name: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ValidationError([{ parameter: name, detail: "malformed percent-encoding" }]);
  }
}

/** The request body as bytes (API Gateway base64-encodes binary bodies). @throws TooLargeError beyond `maxBytes`. */
export function bodyBytes(event: APIGatewayProxyEventV2, maxBytes: number): Buffer {
  const body = event.body ?? "";
  const bytes = event.isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body, "utf8");
  if (bytes.length > maxBytes) throw new TooLargeError(`request body of ${bytes.length} bytes exceeds the limit of ${maxBytes} bytes`);
  return bytes;
}

/** The body parsed as JSON (whatever the Content-Type says: `curl -d` sends form encoding by default). */
export function jsonBody(event: APIGatewayProxyEventV2, maxBytes: number): unknown {
  const bytes = bodyBytes(event, maxBytes);
  if (bytes.length === 0) throw new ValidationError([{ pointer: "#", detail: "a JSON body is required" }]);
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch (err) {
    throw new ValidationError([{ pointer: "#", detail: `not valid JSON: ${(err as Error).message}` }]);
  }
}
