import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { PortListenError } from "../core/listen-error.js";
import { findDashboardDir, serveDashboard } from "./dashboard-files.js";
import { TooLargeError } from "./errors.js";
import { problemResult } from "./http.js";
import type { ApiHandler } from "./router.js";

/**
 * The local HTTP adapter: turns real HTTP requests into API Gateway HTTP API (payload format 2.0) events, calls
 * the same handler the Lambda runs, and writes its structured result back. `npm start` serves the REST API
 * with it next to the broker.
 */

export interface HttpAdapterOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Bodies beyond this are refused with 413 before the handler runs (API Gateway/Lambda refuse them too). */
  maxBodyBytes: number;
  /** Folder of the dashboard served at /dashboard/ (null: not served); found next to the sources by default. */
  dashboardDir?: string | null;
}

export interface HttpAdapter {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The HTTP port could not be bound; names the setting to change. */
export class HttpListenError extends PortListenError {
  override readonly name = "HttpListenError";
  constructor(host: string, port: number, code: string | undefined) {
    super("http", "MQGATE_HTTP_PORT", host, port, code);
  }
}

export async function startHttpAdapter(handler: ApiHandler, opts: HttpAdapterOptions): Promise<HttpAdapter> {
  const dashboard = opts.dashboardDir === undefined ? findDashboardDir() : opts.dashboardDir;
  const server = createServer((req, res) => {
    if (serveDashboard(req, res, dashboard)) return;
    void serve(handler, req, res, opts.maxBodyBytes);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new HttpListenError(opts.host, opts.port, err.code)));
    server.listen(opts.port, opts.host, () => {
      server.removeAllListeners("error");
      resolve((server.address() as AddressInfo).port);
    });
  });
  let closed: Promise<void> | null = null;
  return {
    host: opts.host,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

async function serve(handler: ApiHandler, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBodyBytes) {
        const err = new TooLargeError(`request body exceeds the limit of ${maxBodyBytes} bytes`);
        const requestId = randomUUID();
        res.setHeader("connection", "close");
        res.setHeader("apigw-requestid", requestId);
        writeResult(res, problemResult(err, (req.url ?? "/").split("?")[0] ?? "/", requestId));
        res.once("finish", () => req.destroy());
        return;
      }
      chunks.push(chunk as Buffer);
    }
  } catch {
    return; // the client went away mid-body
  }
  const event = toEvent(req, Buffer.concat(chunks));
  let result: APIGatewayProxyStructuredResultV2;
  try {
    result = await handler(event);
  } catch {
    // The router answers every error itself; this is a last resort.
    result = { statusCode: 500, headers: { "content-type": "text/plain" }, body: "internal error" };
  }
  // As API Gateway HTTP APIs do: the request id of the logs, for the caller.
  res.setHeader("apigw-requestid", event.requestContext.requestId);
  writeResult(res, result);
}

/** Content types API Gateway passes as text; everything else (and text that is not valid UTF-8) is base64. */
function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const t = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return t.startsWith("text/") || t === "application/json" || t.endsWith("+json") || t === "application/xml" || t === "application/x-www-form-urlencoded";
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The API Gateway v2 event for a request: lower-case headers, raw path and query, body as text or base64. */
export function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  let rawPath = q < 0 ? url : url.slice(0, q);
  if (/^https?:\/\//i.test(rawPath)) rawPath = new URL(rawPath).pathname; // absolute-form request target
  const rawQueryString = q < 0 ? "" : url.slice(q + 1);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === "cookie") continue;
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const cookies = req.headers.cookie?.split(/;\s*/).filter((c) => c !== "");
  let text: string | null = null;
  if (body.length > 0 && isTextual(req.headers["content-type"])) {
    try {
      text = strictUtf8.decode(body);
    } catch {
      text = null;
    }
  }
  const now = new Date();
  const host = headers.host ?? "localhost";
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: "local",
      apiId: "local",
      domainName: host,
      domainPrefix: host.split(".")[0] ?? host,
      http: {
        method: req.method ?? "GET",
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: clf(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && text === null,
  };
  if (cookies !== undefined && cookies.length > 0) event.cookies = cookies;
  const query = queryMap(rawQueryString);
  if (query !== undefined) event.queryStringParameters = query;
  if (body.length > 0) event.body = text ?? body.toString("base64");
  return event;
}

/** API Gateway's decoded map: repeated parameters joined with ','. */
function queryMap(raw: string): Record<string, string> | undefined {
  if (raw === "") return undefined;
  const out: Record<string, string> = {};
  for (const part of raw.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? "" : safeDecode(part.slice(eq + 1));
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `24/Nov/2025:18:01:02 +0000`, the format of `requestContext.time`. */
function clf(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function writeResult(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, String(value));
  if (result.cookies !== undefined && result.cookies.length > 0) res.setHeader("set-cookie", result.cookies);
  const status = result.statusCode ?? 200;
  if (status !== 204 && status !== 304) res.setHeader("content-length", body.length);
  res.writeHead(status);
  res.end(body);
}
