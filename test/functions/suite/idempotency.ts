import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { requestFingerprint } from "../../../functions/idempotency.js";
import { apiEvent, call } from "../support.js";
import { type Env, expectProblem, offlineSession, type Setup } from "./env.js";

const IK = "idempotency-key";

/** Topics and payloads stored for a persistent offline session: what it would receive on reconnect. */
async function queued(env: Env, clientId: string): Promise<string[]> {
  return ((await env.store.getSession(clientId))?.outgoing ?? []).map((o) => `${o.msg.topic}=${o.msg.payload.toString()}`);
}

async function keyId(env: Env, key: string): Promise<string> {
  const record = await env.store.getApiKeyByHash(createHash("sha256").update(key).digest("hex"));
  if (record === null) throw new Error("unknown API key");
  return record.id;
}

export function idempotencyTests(setup: Setup): void {
  describe("Idempotency-Key on the publish routes", () => {
    it("a retry with the same key and body answers the first answer, marked replayed, and is delivered once", async () => {
      const env = await setup();
      await offlineSession(env, "dev-1", "devices/#", 1);
      const body = { topic: "devices/1/cmd", payload: "reboot", qos: 1 };
      const first = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body, headers: { [IK]: "order-42" } });
      expect(first.status).toBe(200);
      expect(first.headers["idempotent-replayed"]).toBeUndefined();
      const again = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body, headers: { [IK]: "order-42" } });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect(again.headers["idempotent-replayed"]).toBe("true");
      expect(await queued(env, "dev-1")).toEqual(["devices/1/cmd=reboot"]);
      // Without the header, or with another key, it is a new publish.
      await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body });
      await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body, headers: { [IK]: "order-43" } });
      expect(await queued(env, "dev-1")).toHaveLength(3);
    });

    it("the batch and raw publish routes replay too", async () => {
      const env = await setup();
      await offlineSession(env, "dev-1", "devices/#", 1);
      const batch = { messages: [{ topic: "devices/a", payload: "1", qos: 1 }, { topic: "devices/b", payload: "2", qos: 1 }] };
      const b1 = await call(env.api, "POST", "/v1/publish/batch", { key: env.devPublisher, body: batch, headers: { [IK]: "b" } });
      const b2 = await call(env.api, "POST", "/v1/publish/batch", { key: env.devPublisher, body: batch, headers: { [IK]: "b" } });
      expect(b2.body).toEqual(b1.body);
      expect(b2.headers["idempotent-replayed"]).toBe("true");
      const raw = { key: env.devPublisher, query: "qos=1", body: Buffer.from([1, 2, 3]), headers: { [IK]: "r" } };
      const r1 = await call(env.api, "POST", "/v1/topics/devices/raw", raw);
      const r2 = await call(env.api, "POST", "/v1/topics/devices/raw", raw);
      expect([r1.status, r2.status, r2.headers["idempotent-replayed"]]).toEqual([200, 200, "true"]);
      expect(r2.body).toEqual(r1.body);
      expect(await queued(env, "dev-1")).toEqual(["devices/a=1", "devices/b=2", `devices/raw=${Buffer.from([1, 2, 3]).toString()}`]);
    });

    it("the same key with another body, path or query is 422; keys are scoped per API key", async () => {
      const env = await setup();
      await offlineSession(env, "dev-1", "devices/#", 1);
      const headers = { [IK]: "k" };
      expect((await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: { topic: "devices/1", payload: "a", qos: 1 }, headers })).status).toBe(200);
      const other = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: { topic: "devices/1", payload: "b", qos: 1 }, headers });
      expectProblem(other, 422, "idempotency-mismatch");
      expect(other.body.errors).toEqual([{ header: "Idempotency-Key", detail: expect.any(String) }]);
      expectProblem(await call(env.api, "POST", "/v1/topics/devices/1", { key: env.devPublisher, body: Buffer.from("a"), headers }), 422, "idempotency-mismatch");
      // Another API key may use the same Idempotency-Key for its own request.
      expect((await call(env.api, "POST", "/v1/publish", { key: env.publisher, body: { topic: "devices/1", payload: "b", qos: 1 }, headers })).headers["idempotent-replayed"]).toBeUndefined();
      expect(await queued(env, "dev-1")).toEqual(["devices/1=a", "devices/1=b"]);
    });

    it("a malformed key is 400 and publishes nothing", async () => {
      const env = await setup();
      await offlineSession(env, "dev-1", "devices/#", 1);
      for (const bad of ["x".repeat(129), "caf\u00e9", "tab\there"]) {
        const res = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: { topic: "devices/1", payload: "a", qos: 1 }, headers: { [IK]: bad } });
        expectProblem(res, 400, "invalid-request");
        expect(res.body.errors).toEqual([{ header: "Idempotency-Key", detail: expect.any(String) }]);
      }
      expect((await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: { topic: "devices/1", payload: "a", qos: 1 }, headers: { [IK]: "~".repeat(128) } })).status).toBe(200);
      expect(await queued(env, "dev-1")).toHaveLength(1);
    });

    it("a repeat while the first request is in flight is 409; a failed request releases its key", async () => {
      const env = await setup();
      await offlineSession(env, "dev-1", "devices/#", 1);
      const body = { topic: "devices/1", payload: "a", qos: 1 };
      const event = apiEvent("POST", "/v1/publish", { key: env.devPublisher, body, headers: { [IK]: "busy" } });
      // The first request with this key is being handled (its pending record exists).
      const pending = await env.store.beginIdempotent(await keyId(env, env.devPublisher), "busy", requestFingerprint(event), 60_000);
      expect(pending.state).toBe("new");
      const res = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body, headers: { [IK]: "busy" } });
      expectProblem(res, 409, "conflict");
      expect(await queued(env, "dev-1")).toEqual([]);
      // A refused request (403) is not remembered: the key is free afterwards.
      const outside = { topic: "elsewhere", payload: "x" };
      expectProblem(await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: outside, headers: { [IK]: "denied" } }), 403, "forbidden");
      const again = await call(env.api, "POST", "/v1/publish", { key: env.devPublisher, body: outside, headers: { [IK]: "denied" } });
      expectProblem(again, 403, "forbidden");
      expect(again.headers["idempotent-replayed"]).toBeUndefined();
    });
  });
}
