import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

// The local adapter gives every request its own API Gateway request id: the one the process edge logs a failure
// with (the `request.failed` event), the problem+json `requestId` and the `apigw-requestid` response header.

class FailingReads extends MemoryStore {
  override listNodes(): never {
    throw new Error("ECONNRESET talking to the store");
  }
}

const KEY = "mqg_request-id-secret";

describe("request ids in the local adapter", () => {
  let b: TestBroker;
  let base: string;
  const failed: { err: unknown; event: APIGatewayProxyEventV2 }[] = [];

  beforeAll(async () => {
    b = await startTestBroker({ http: { host: "127.0.0.1", port: 0 }, apiKey: KEY }, createAllowAll(), new FailingReads());
    base = `http://127.0.0.1:${b.http?.port}`;
    b.http?.on("request.failed", (err, event) => failed.push({ err, event }));
  });
  afterAll(() => b.close());

  const get = async (path: string, key: string | null = KEY) => {
    const res = await fetch(`${base}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
    return { status: res.status, header: res.headers.get("apigw-requestid"), body: (await res.json()) as { requestId?: string } };
  };

  it("a failed request is reported with the id its answer carries, and each request has its own", async () => {
    const a = await get("/v1/nodes");
    const c = await get("/v1/nodes");
    expect([a.status, c.status]).toEqual([500, 500]);
    expect(failed.map((f) => f.event.requestContext.requestId)).toEqual([a.body.requestId, c.body.requestId]);
    expect([a.header, c.header]).toEqual([a.body.requestId, c.body.requestId]);
    expect(a.body.requestId).not.toBe(c.body.requestId);
    expect((failed[0]?.err as Error).message).toMatch(/ECONNRESET/);
  });

  it("successful and refused requests carry a fresh id too", async () => {
    const ids = new Set<string | null>();
    for (let i = 0; i < 5; i++) ids.add((await get("/v1/clients")).header);
    const refused = await get("/v1/clients", null);
    expect(refused.status).toBe(401);
    expect(refused.header).toBe(refused.body.requestId);
    ids.add(refused.header);
    expect(ids.size).toBe(6);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});
