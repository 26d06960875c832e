import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";

/**
 * A small HTTP server that speaks the Upstash REST protocol, as @upstash/redis uses it, to a real redis-server:
 *
 * - `POST /` with a JSON command array -> 200 `{result}`, or 400 `{error}` for an error reply;
 * - `POST /pipeline` with an array of command arrays -> 200 `[{result} | {error}, ...]` (in order, not atomic);
 * - `POST /multi-exec` -> the same shape, run in MULTI/EXEC (400 `{error}` if the transaction is aborted);
 * - `Authorization: Bearer <token>` required (401 `{error}` otherwise);
 * - with `Upstash-Encoding: base64`, every string in a result (bulk strings, also inside nested arrays) is the
 *   base64 of its bytes; integers and nulls stay JSON numbers and nulls; a top-level "OK" stays "OK" (the
 *   client special-cases it). Without the header, strings are sent as UTF-8 text.
 */
export interface UpstashBridge {
  readonly url: string;
  readonly token: string;
  /** Requests served so far (one per REST call: a pipeline counts once). */
  readonly requests: number;
  close(): Promise<void>;
}

type Json = null | number | string | Json[];

function encode(v: unknown, base64: boolean): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return v;
  if (Buffer.isBuffer(v)) return base64 ? v.toString("base64") : v.toString("utf8");
  if (typeof v === "string") return base64 ? Buffer.from(v, "utf8").toString("base64") : v;
  if (Array.isArray(v)) return v.map((x) => encode(x, base64));
  return String(v);
}

function topLevel(v: unknown, base64: boolean): Json {
  const isOk = v === "OK" || (Buffer.isBuffer(v) && v.toString() === "OK");
  return isOk ? "OK" : encode(v, base64);
}

function isCommand(v: unknown): v is [string, ...(string | number)[]] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" || typeof x === "number");
}

/**
 * ioredis rewrites the replies of some commands (lowercase `hgetall` becomes an object); its transformers are
 * keyed by the lowercase name, so sending the name in upper case gets Redis' own reply shape.
 */
function raw(cmd: [string, ...(string | number)[]]): [string, ...(string | number)[]] {
  return [cmd[0].toUpperCase(), ...cmd.slice(1)];
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function entries(results: [Error | null, unknown][] | null, base64: boolean): { result?: Json; error?: string }[] {
  return (results ?? []).map(([err, value]) => (err ? { error: err.message } : { result: topLevel(value, base64) }));
}

export async function startUpstashBridge(redisUrl: string): Promise<UpstashBridge> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  const token = randomBytes(16).toString("hex");
  let requests = 0;

  const server = createServer((req, res) => {
    requests++;
    void (async () => {
      if (req.method !== "POST") return send(res, 405, { error: "method not allowed" });
      if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { error: "Unauthorized" });
      const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
      let body: unknown;
      try {
        body = await readJson(req);
      } catch {
        return send(res, 400, { error: "ERR failed to parse request body" });
      }
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/" || path === "") {
        if (!isCommand(body)) return send(res, 400, { error: "ERR a command is a non-empty JSON array of strings" });
        try {
          return send(res, 200, { result: topLevel(await redis.callBuffer(...raw(body)), base64) });
        } catch (err) {
          return send(res, 400, { error: (err as Error).message });
        }
      }
      if (path === "/pipeline" || path === "/multi-exec") {
        if (!Array.isArray(body) || body.length === 0 || !body.every(isCommand)) {
          return send(res, 400, { error: "ERR a pipeline is a non-empty JSON array of commands" });
        }
        const batch = path === "/pipeline" ? redis.pipeline() : redis.multi();
        for (const cmd of body) batch.callBuffer(...raw(cmd));
        try {
          return send(res, 200, entries(await batch.exec(), base64));
        } catch (err) {
          return send(res, 400, { error: (err as Error).message });
        }
      }
      return send(res, 404, { error: `ERR unknown endpoint ${path}` });
    })().catch((err: unknown) => send(res, 500, { error: String(err) }));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    get requests() {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}
