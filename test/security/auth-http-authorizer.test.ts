// HTTP and Lambda authorizers (issue 15) against a real HTTP server started here (the Lambda Invoke call is the only
// mock): allow, deny, ignore, timeout, down (connection refused), the circuit breaker opening and closing, the
// SST Realtime and AWS IoT Core answer shapes, bounded and malformed answers. CONNECTs go through the real broker.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/ports.js";
import { backendAsAuth } from "../../core/auth/backend-auth.js";
import { createHttpBackend } from "../../core/auth/http-authorizer.js";
import { createLambdaBackend, type LambdaInvoke } from "../../core/auth/lambda-authorizer.js";
import { fieldSchema } from "../../core/config/schema.js";
import type { HttpAuthConfig, LambdaAuthConfig } from "../../core/config/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";

type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void;

class AuthorizerServer {
  handler: Handler = (_b, _q, res) => json(res, 200, { result: "deny" });
  requests: Array<{ body: Record<string, unknown>; headers: IncomingMessage["headers"] }> = [];
  private constructor(private readonly server: Server) {}
  static async start(): Promise<AuthorizerServer> {
    const ref: { s?: AuthorizerServer } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        ref.s!.requests.push({ body, headers: req.headers });
        ref.s!.handler(body, req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    ref.s = new AuthorizerServer(server);
    return ref.s;
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/auth`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function httpConfig(fields: Partial<HttpAuthConfig>): HttpAuthConfig {
  return fieldSchema("auth.http").parse(fields) as HttpAuthConfig;
}

const REQ = { clientId: "dev-1", username: "alice", remoteAddress: "10.0.0.9:5555", protocolVersion: 4 as const };
const PW = Buffer.from("s3cret\u0000\u00ff");

describe("HTTP authorizer on the real broker", () => {
  let srv: AuthorizerServer;
  let b: TestBroker;
  const clients: RawClient[] = [];
  async function connect(username = "alice", clientId = "dev-1"): Promise<RawClient & { code: number }> {
    const c = await RawClient.open(b.mqttPort);
    clients.push(c);
    const code = (await c.connect({ clientId, username, password: PW })).returnCode ?? -1;
    return Object.assign(c, { code });
  }

  beforeAll(async () => {
    srv = await AuthorizerServer.start();
    b = await startTestBroker({}, backendAsAuth(createHttpBackend(httpConfig({ url: srv.url, headers: { "x-tenant": "t1" }, authorization: "Bearer abc", timeoutMs: 300 }))));
  });
  beforeEach(() => {
    srv.requests = [];
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await b?.close();
    await srv?.close();
  });

  it("allow: the request carries the CONNECT's identity; the answer's topics are the rules", async () => {
    srv.handler = (_b, _q, res) => json(res, 200, { result: "allow", publish: ["up/%c"], subscribe: ["down/%u/#"], ttl: 30 });
    const c = await connect();
    expect(c.code).toBe(0);
    const { body, headers } = srv.requests[0]!;
    expect(body).toMatchObject({ clientId: "dev-1", username: "alice", password: PW.toString("base64"), protocolData: { mqtt: { clientId: "dev-1", username: "alice", password: PW.toString("base64") } } });
    expect(body.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(headers["x-tenant"]).toBe("t1");
    expect(headers.authorization).toBe("Bearer abc");
    expect(await c.subscribe([["down/alice/x", 1], ["down/bob/x", 1]])).toEqual([1, 0x80]);
  });

  it("deny answers 0x05; deny with reason bad-credentials answers 0x04; 401 and 403 likewise", async () => {
    srv.handler = (_b, _q, res) => json(res, 200, { result: "deny" });
    expect((await connect()).code).toBe(5);
    srv.handler = (_b, _q, res) => json(res, 200, { result: "deny", reason: "bad-credentials" });
    expect((await connect()).code).toBe(4);
    srv.handler = (_b, _q, res) => json(res, 401, {});
    expect((await connect()).code).toBe(4);
    srv.handler = (_b, _q, res) => json(res, 403, {});
    expect((await connect()).code).toBe(5);
  });

  it("SST Realtime's answer shape { publish, subscribe } ports over unchanged", async () => {
    srv.handler = (_b, _q, res) => json(res, 200, { publish: ["app/dev/chat/room1"], subscribe: ["app/dev/chat/#"] });
    const c = await connect();
    expect(c.code).toBe(0);
    expect(await c.subscribe([["app/dev/chat/room2", 0], ["other", 0]])).toEqual([0, 0x80]);
  });

  it("a timeout answers 0x03 (server unavailable)", async () => {
    srv.handler = () => {
      /* never answers */
    };
    expect((await connect()).code).toBe(3);
  });
});

describe("HTTP authorizer: failures and the circuit breaker", () => {
  let srv: AuthorizerServer;
  beforeAll(async () => {
    srv = await AuthorizerServer.start();
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("down (connection refused) answers 0x03; the breaker opens after N failures, half-opens, and closes on success", async () => {
    let now = 1_000_000;
    const down = `http://127.0.0.1:${await freePort()}/auth`;
    const cfg = httpConfig({ url: down, breakerFailures: 2, breakerOpenSeconds: 5 });
    const backend = createHttpBackend(cfg, { now: () => now });
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    expect(backend.breaker.state).toBe("closed");
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    expect(backend.breaker.state).toBe("open");
    // Open: refused without a call (the live server below is never asked).
    const live = createHttpBackend(httpConfig({ url: srv.url, breakerFailures: 1, breakerOpenSeconds: 5 }), { now: () => now });
    srv.handler = (_b, _q, res) => json(res, 500, {});
    srv.requests = [];
    expect(await live.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    expect(live.breaker.state).toBe("open");
    expect(await live.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3, reason: expect.stringContaining("circuit breaker open") });
    expect(srv.requests).toHaveLength(1);
    // Half-open after the open period: one trial; a failing trial reopens at once.
    now += 5000;
    expect(live.breaker.state).toBe("half-open");
    expect(await live.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    expect(live.breaker.state).toBe("open");
    expect(srv.requests).toHaveLength(2);
    // Next trial succeeds: closed again, decisions flow.
    now += 5000;
    srv.handler = (_b, _q, res) => json(res, 200, { result: "allow", subscribe: ["x"] });
    expect(await live.authenticate(REQ, PW)).toMatchObject({ kind: "allow" });
    expect(live.breaker.state).toBe("closed");
  });

  it("on the wire: an authorizer that is down gives CONNACK 0x03, before and after the breaker opens", async () => {
    const backend = createHttpBackend(httpConfig({ url: `http://127.0.0.1:${await freePort()}/auth`, breakerFailures: 2 }));
    const b = await startTestBroker({}, backendAsAuth(backend));
    try {
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.open(b.mqttPort);
        expect((await c.connect({ clientId: `down-${i}`, username: "alice", password: PW })).returnCode).toBe(3);
        await c.waitClosed();
      }
      expect(backend.breaker.state).toBe("open");
    } finally {
      await b.close();
    }
  });

  it("in half-open only one trial goes out; concurrent CONNECTs get 0x03", async () => {
    let now = 0;
    const backend = createHttpBackend(httpConfig({ url: srv.url, breakerFailures: 1, breakerOpenSeconds: 1, timeoutMs: 2000 }), { now: () => now });
    srv.handler = (_b, _q, res) => json(res, 503, {});
    await backend.authenticate(REQ, PW);
    now += 1000;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    srv.handler = (_b, _q, res) => void gate.then(() => json(res, 200, { result: "allow" }));
    srv.requests = [];
    const trial = backend.authenticate(REQ, PW);
    await new Promise((r) => setTimeout(r, 50));
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    release();
    expect(await trial).toMatchObject({ kind: "allow" });
    expect(srv.requests).toHaveLength(1);
  });

  it("at maxInFlight calls waiting, the next CONNECT gets 0x03 without a call and without tripping the breaker", async () => {
    const backend = createHttpBackend(httpConfig({ url: srv.url, maxInFlight: 2, breakerFailures: 1, timeoutMs: 2000 }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    srv.handler = (_b, _q, res) => void gate.then(() => json(res, 200, { result: "allow" }));
    srv.requests = [];
    const waiting = [backend.authenticate(REQ, PW), backend.authenticate(REQ, PW)];
    await new Promise((r) => setTimeout(r, 50));
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3, reason: expect.stringContaining("busy") });
    expect(backend.breaker.state).toBe("closed");
    release();
    for (const v of await Promise.all(waiting)) expect(v).toMatchObject({ kind: "allow" });
    expect(srv.requests).toHaveLength(2);
    // Capacity is back once they answered.
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "allow" });
  });

  it("malformed, oversized and unknown answers are failures (0x03), never an allow", async () => {
    const backend = createHttpBackend(httpConfig({ url: srv.url, maxResponseBytes: 1024, breakerFailures: 100 }));
    const answers: Array<(res: ServerResponse) => void> = [
      (res) => res.writeHead(200).end("not json"),
      (res) => json(res, 200, { result: "maybe" }),
      (res) => json(res, 200, { hello: 1 }),
      (res) => json(res, 200, { result: "allow", publish: ["a/#/b"] }),
      (res) => json(res, 200, { result: "allow", publish: ["x".repeat(2000)] }),
      (res) => json(res, 302, {}),
    ];
    for (const answer of answers) {
      srv.handler = (_b, _q, res) => answer(res);
      expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    }
  });

  it("ignore and 204 hand the client to the next backend; ttl sets the cache time", async () => {
    const backend = createHttpBackend(httpConfig({ url: srv.url, defaultTtlSeconds: 7 }));
    srv.handler = (_b, _q, res) => json(res, 200, { result: "ignore" });
    expect(await backend.authenticate(REQ, PW)).toEqual({ kind: "next" });
    srv.handler = (_b, _q, res) => res.writeHead(204).end();
    expect(await backend.authenticate(REQ, PW)).toEqual({ kind: "next" });
    srv.handler = (_b, _q, res) => json(res, 200, { result: "allow", ttl: 30 });
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "allow", cacheMs: 30_000 });
    srv.handler = (_b, _q, res) => json(res, 200, { result: "allow" });
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "allow", cacheMs: 7000 });
  });

  it("an AWS IoT Core / SST realtime.authorizer answer (policy documents) maps to rules", async () => {
    const backend = createHttpBackend(httpConfig({ url: srv.url }));
    const arn = "arn:aws:iot:eu-west-1:123456789012";
    srv.handler = (_b, _q, res) =>
      json(res, 200, {
        isAuthenticated: true,
        principalId: "alice",
        disconnectAfterInSeconds: 3600,
        refreshAfterInSeconds: 300,
        policyDocuments: [
          {
            Version: "2012-10-17",
            Statement: [
              { Action: "iot:Connect", Effect: "Allow", Resource: "*" },
              { Action: "iot:Receive", Effect: "Allow", Resource: [`${arn}:topic/app/dev/*`] },
              { Action: "iot:Subscribe", Effect: "Allow", Resource: [`${arn}:topicfilter/app/dev/*`] },
              { Action: "iot:Publish", Effect: "Allow", Resource: [`${arn}:topic/app/dev/\${iot:ClientId}/out`, `${arn}:topic/logs/*`] },
            ],
          },
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              { Action: ["iot:Publish", "iot:Receive"], Effect: "Deny", Resource: `${arn}:topic/app/dev/admin/*` },
              { Action: "iot:Publish", Effect: "Deny", Resource: `${arn}:topic/logs/debug*` },
            ],
          }),
        ],
      });
    const v = await backend.authenticate(REQ, PW);
    if (v.kind !== "allow") throw new Error(JSON.stringify(v));
    expect(v.identity).toBe("alice");
    expect(v.cacheMs).toBe(300_000);
    expect(v.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
    expect(v.policy.canSubscribe("app/dev/x/y", 1)).toBe(1);
    expect(v.policy.canPublish("app/dev/dev-1/out")).toBe(true);
    expect(v.policy.canPublish("app/dev/dev-2/out")).toBe(false);
    expect(v.policy.canPublish("app/dev/admin/x")).toBe(false);
    expect(v.policy.canSubscribe("app/dev/admin/#", 0)).toBe(null);
    // The deny glob "debug*" cannot be expressed per level: broadened to logs/# (never narrower than IoT).
    expect(v.policy.canPublish("logs/debug-1")).toBe(false);
    expect(v.policy.canPublish("logs/info")).toBe(false);
    srv.handler = (_b, _q, res) => json(res, 200, { isAuthenticated: false });
    expect(await backend.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 5 });
  });
});

describe("Lambda authorizer (the Invoke call injected)", () => {
  function lambdaConfig(fields: Partial<LambdaAuthConfig> = {}): LambdaAuthConfig {
    return fieldSchema("auth.lambda").parse({ functionName: "mqgate-auth", ...fields }) as LambdaAuthConfig;
  }
  const reply = (v: unknown): LambdaInvoke => async () => ({ payload: Buffer.from(JSON.stringify(v)) });

  it("invokes the function with the request and follows its answer (SST Realtime shape)", async () => {
    const seen: Array<{ name: string; event: Record<string, unknown> }> = [];
    const invoke: LambdaInvoke = async (name, payload) => {
      seen.push({ name, event: JSON.parse(Buffer.from(payload).toString("utf8")) as Record<string, unknown> });
      return { payload: Buffer.from(JSON.stringify({ publish: ["a/%u"], subscribe: ["b/#"] })) };
    };
    const v = await createLambdaBackend(lambdaConfig(), { invoke }).authenticate(REQ, PW);
    if (v.kind !== "allow") throw new Error(JSON.stringify(v));
    expect(seen[0]!.name).toBe("mqgate-auth");
    expect(seen[0]!.event).toMatchObject({ clientId: "dev-1", protocolData: { mqtt: { password: PW.toString("base64") } } });
    expect(v.policy.canPublish("a/alice")).toBe(true);
    expect(v.policy.canSubscribe("b/c", 0)).toBe(0);
  });

  it("a function error, a timeout and an oversized answer are failures (0x03) and open the breaker", async () => {
    const failing = createLambdaBackend(lambdaConfig({ breakerFailures: 3 }), { invoke: async () => ({ functionError: "Unhandled", payload: Buffer.from("{}") }) });
    expect(await failing.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    const hanging = createLambdaBackend(lambdaConfig({ timeoutMs: 100 }), { invoke: () => new Promise(() => undefined) });
    expect(await hanging.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3, reason: expect.stringContaining("timed out") });
    const big = createLambdaBackend(lambdaConfig({ maxResponseBytes: 256 }), { invoke: reply({ publish: Array.from({ length: 100 }, (_, i) => `t/${i}`) }) });
    expect(await big.authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 3 });
    await failing.authenticate(REQ, PW);
    await failing.authenticate(REQ, PW);
    expect(failing.breaker.state).toBe("open");
  });

  it("deny and ignore answers", async () => {
    expect(await createLambdaBackend(lambdaConfig(), { invoke: reply({ result: "deny" }) }).authenticate(REQ, PW)).toMatchObject({ kind: "deny", returnCode: 5 });
    expect(await createLambdaBackend(lambdaConfig(), { invoke: reply({ result: "ignore" }) }).authenticate(REQ, PW)).toEqual({ kind: "next" });
  });
});
