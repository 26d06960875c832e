import { createServer } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpListenError, startHttpAdapter, type HttpAdapter } from "../../functions/local-http.js";

// The local HTTP adapter: real HTTP requests become API Gateway HTTP API (2.0) events, structured results
// become HTTP responses.

describe("local HTTP adapter", () => {
  let adapter: HttpAdapter;
  let base: string;
  const events: APIGatewayProxyEventV2[] = [];
  let reply: APIGatewayProxyStructuredResultV2 = { statusCode: 200, body: "{}" };

  beforeAll(async () => {
    adapter = await startHttpAdapter(
      async (event) => {
        events.push(event);
        return reply;
      },
      { host: "127.0.0.1", port: 0, maxBodyBytes: 1024 },
    );
    base = `http://127.0.0.1:${adapter.port}`;
  });
  afterAll(() => adapter.close());

  it("builds a payload format 2.0 event: raw path and query, lower-case headers, cookies, text body", async () => {
    events.length = 0;
    const res = await fetch(`${base}/v1/retained/a%2Fb/c?filter=x/%2B/y&b=1&b=2&flag`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Custom": "v", Cookie: "a=1; b=2", Authorization: "Bearer k" },
      body: JSON.stringify({ héllo: 1 }),
    });
    expect(res.status).toBe(200);
    const e = events[0] as APIGatewayProxyEventV2;
    expect(e).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/v1/retained/a%2Fb/c",
      rawQueryString: "filter=x/%2B/y&b=1&b=2&flag",
      queryStringParameters: { filter: "x/+/y", b: "1,2", flag: "" },
      cookies: ["a=1", "b=2"],
      body: '{"héllo":1}',
      isBase64Encoded: false,
      requestContext: { accountId: "local", apiId: "local", routeKey: "$default", stage: "$default", http: { method: "POST", path: "/v1/retained/a%2Fb/c", protocol: "HTTP/1.1", sourceIp: expect.stringMatching(/127\.0\.0\.1/) } },
    });
    expect(e.headers["x-custom"]).toBe("v");
    expect(e.headers.authorization).toBe("Bearer k");
    expect(e.headers.cookie).toBeUndefined();
    expect(e.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.requestContext.time).toMatch(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    expect(Math.abs(e.requestContext.timeEpoch - Date.now())).toBeLessThan(5000);
  });

  it("sends binary bodies (and text that is not UTF-8) base64-encoded, and no body as absent", async () => {
    events.length = 0;
    const bytes = Buffer.from([0, 1, 0xfe, 0xff]);
    await fetch(`${base}/bin`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes });
    await fetch(`${base}/txt`, { method: "POST", headers: { "content-type": "text/plain" }, body: bytes });
    await fetch(`${base}/none`);
    expect(events.map((e) => [e.rawPath, e.body, e.isBase64Encoded])).toEqual([
      ["/bin", bytes.toString("base64"), true],
      ["/txt", bytes.toString("base64"), true],
      ["/none", undefined, false],
    ]);
    expect(events[2]?.queryStringParameters).toBeUndefined();
  });

  it("writes the structured result: status, headers, cookies, base64 bodies, 204", async () => {
    reply = { statusCode: 201, headers: { "content-type": "application/octet-stream", "x-n": 5 }, cookies: ["s=1; Path=/", "t=2"], body: Buffer.from([9, 8, 7]).toString("base64"), isBase64Encoded: true };
    const res = await fetch(`${base}/x`);
    expect(res.status).toBe(201);
    expect(res.headers.get("x-n")).toBe("5");
    expect(res.headers.getSetCookie()).toEqual(["s=1; Path=/", "t=2"]);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([9, 8, 7]));
    reply = { statusCode: 204, headers: { "cache-control": "no-store" } };
    const empty = await fetch(`${base}/x`, { method: "DELETE" });
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe("");
    reply = { statusCode: 200, body: "{}" };
  });

  it("refuses a body beyond the limit with 413 problem+json before the handler runs", async () => {
    events.length = 0;
    const res = await fetch(`${base}/v1/publish`, { method: "POST", body: "x".repeat(5000) });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ type: "urn:mqgate:problem:too-large", status: 413, instance: "/v1/publish" });
    expect(events).toHaveLength(0);
  });

  it("names MQGATE_HTTP_PORT when the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    const err = await startHttpAdapter(async () => ({}), { host: "127.0.0.1", port, maxBodyBytes: 10 }).catch((e: unknown) => e);
    blocker.close();
    expect(err).toBeInstanceOf(HttpListenError);
    expect((err as Error).message).toMatch(/already in use.*MQGATE_HTTP_PORT/);
  });
});
