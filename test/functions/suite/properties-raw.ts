import { describe, expect, it } from "vitest";
import { call } from "../support.js";
import { type Env, expectProblem, type Setup } from "./env.js";
import { routed, userPropertyBytes } from "./properties.js";

const PFI = "x-amz-mqtt5-payload-format-indicator";
const CD = "x-amz-mqtt5-correlation-data";
const UP = "x-amz-mqtt5-user-properties";
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64");

/** A raw publish to devices/9/cmd; the problems it is answered with (400). */
async function rawProblems(env: Env, query: string, headers: Record<string, string>, body = Buffer.from("x")): Promise<unknown> {
  const res = await call(env.api, "POST", "/v1/topics/devices/9/cmd", { key: env.admin, body, query, headers });
  expectProblem(res, 400, "invalid-request");
  return res.body.errors;
}

export function propertiesRawTests(setup: Setup): void {
  describe("MQTT 5 properties on POST /v1/topics/{topic+} (as the AWS IoT data-plane Publish takes them)", () => {
    it("query contentType, messageExpiry, responseTopic and the x-amz-mqtt5 headers reach an MQTT 5 subscriber, user properties in order", async () => {
      const env = await setup();
      const raw = await env.raw5("raw5-sub");
      expect(await raw.client.subscribe("devices/#", 1)).toEqual([1]);
      const seen = routed(env);
      const res = await call(env.api, "POST", "/v1/topics/devices/9/cmd", {
        key: env.devPublisher,
        body: Buffer.from("héllo"),
        query: "qos=1&contentType=text%2Fplain%3B%20charset%3Dutf-8&messageExpiry=120&responseTopic=devices/9/replies",
        headers: { [PFI]: "UTF8_DATA", [CD]: Buffer.from("req-7").toString("base64"), [UP]: b64json([{ deviceName: "alpha" }, { deviceCnt: "45" }, { deviceName: "beta" }]) },
      });
      expect(res.status).toBe(200);
      const ordered: [string, string][] = [
        ["deviceName", "alpha"],
        ["deviceCnt", "45"],
        ["deviceName", "beta"],
      ];
      expect(seen[0]?.props).toEqual({
        payloadFormatIndicator: 1,
        messageExpiryInterval: 120,
        contentType: "text/plain; charset=utf-8",
        responseTopic: "devices/9/replies",
        correlationData: Buffer.from("req-7"),
        userProperties: ordered,
      });
      const got = await raw.client.expect("publish");
      expect([got.payload.toString(), got.properties?.contentType, got.properties?.responseTopic, got.properties?.payloadFormatIndicator]).toEqual([
        "héllo",
        "text/plain; charset=utf-8",
        "devices/9/replies",
        true,
      ]);
      expect(got.properties?.correlationData).toEqual(Buffer.from("req-7"));
      expect(raw.frames().includes(userPropertyBytes(ordered))).toBe(true);
      // {"key", "value"} objects are read as one pair each; "0"/"1" are accepted for the indicator.
      await call(env.api, "POST", "/v1/topics/devices/9/cmd", {
        key: env.devPublisher,
        body: Buffer.from([0xff]),
        headers: { [PFI]: "0", [UP]: b64json([{ key: "k", value: "v" }, { key: "x" }]) },
      });
      expect(seen[1]?.props).toEqual({ payloadFormatIndicator: 0, userProperties: [["k", "v"], ["key", "x"]] });
    });

    it("each invalid query parameter or header is a 400 naming it", async () => {
      const env = await setup();
      expect(await rawProblems(env, "", { [PFI]: "yes" })).toEqual([{ header: PFI, detail: 'must be "UNSPECIFIED_BYTES", "UTF8_DATA", 0 or 1' }]);
      expect(await rawProblems(env, "", { [CD]: "%%" })).toEqual([{ header: CD, detail: "is not valid base64" }]);
      expect(await rawProblems(env, "", { [CD]: Buffer.alloc(4097).toString("base64") })).toEqual([{ header: CD, detail: "is 4097 bytes; at most 4096" }]);
      expect(await rawProblems(env, "", { [UP]: "{not base64}" })).toEqual([{ header: UP, detail: "is not valid base64" }]);
      expect(await rawProblems(env, "", { [UP]: Buffer.from("[{").toString("base64") })).toEqual([{ header: UP, detail: "is not base64-encoded JSON" }]);
      expect(await rawProblems(env, "", { [UP]: b64json({ a: "1" }) })).toEqual([{ header: UP, detail: 'must encode a JSON list of objects, e.g. [{"name": "value"}]' }]);
      const item = 'item 1 must be an object with one property whose value is a string, e.g. {"name": "value"}';
      expect(await rawProblems(env, "", { [UP]: b64json([{ a: "1" }, { b: 2 }]) })).toEqual([{ header: UP, detail: item }]);
      expect(await rawProblems(env, "", { [UP]: b64json([{ a: "1" }, { b: "2", c: "3" }]) })).toEqual([{ header: UP, detail: item }]);
      expect(await rawProblems(env, "", { [UP]: b64json([{ a: "1" }, ["b", "2"]]) })).toEqual([{ header: UP, detail: item }]);
      expect(await rawProblems(env, "", { [UP]: b64json([{ a: "1" }, { "b\u0000": "2" }]) })).toEqual([{ header: UP, detail: "name of pair 1: must not contain the null character U+0000" }]);
      expect(await rawProblems(env, "messageExpiry=soon", {})).toEqual([{ parameter: "messageExpiry", detail: "must be an integer number of seconds" }]);
      expect(await rawProblems(env, "messageExpiry=0", {})).toEqual([{ parameter: "messageExpiry", detail: "must be at least 1 second (a message that expires at once reaches nobody)" }]);
      expect(await rawProblems(env, "messageExpiry=4294967296", {})).toEqual([{ parameter: "messageExpiry", detail: "must be at most 4294967295 seconds" }]);
      expect(await rawProblems(env, "responseTopic=replies/%23", {})).toEqual([{ parameter: "responseTopic", detail: "topic name must not contain wildcards" }]);
      expect(await rawProblems(env, "contentType=a%00b", {})).toEqual([{ parameter: "contentType", detail: "must not contain the null character U+0000" }]);
      expect(await rawProblems(env, "", { [PFI]: "UTF8_DATA" }, Buffer.from([0xc3, 0x28]))).toEqual([
        { pointer: "#", detail: "is not valid UTF-8, but the payload format indicator declares UTF-8 data (1, UTF8_DATA)" },
      ]);
    });

    it("an Idempotency-Key covers the property headers: the same headers replay, other ones are another request (422)", async () => {
      const env = await setup();
      const seen = routed(env);
      const send = (headers: Record<string, string>) =>
        call(env.api, "POST", "/v1/topics/devices/9/cmd", { key: env.admin, body: Buffer.from("x"), headers: { "idempotency-key": "raw-props", ...headers } });
      const first = await send({ [UP]: b64json([{ a: "1" }]) });
      expect(first.status).toBe(200);
      const again = await send({ [UP]: b64json([{ a: "1" }]) });
      expect([again.status, again.headers["idempotent-replayed"]]).toEqual([200, "true"]);
      expectProblem(await send({ [UP]: b64json([{ a: "2" }]) }), 422, "idempotency-mismatch");
      expectProblem(await send({}), 422, "idempotency-mismatch");
      expectProblem(await send({ [UP]: b64json([{ a: "1" }]), [CD]: "AAAA" }), 422, "idempotency-mismatch");
      expect(seen).toHaveLength(1);
    });
  });

  describe("MQTT 5 properties on retained reads", () => {
    it("GET /v1/retained/{topic} and the list return the properties; messageExpiry is what remains; 3.1.1 messages have none", async () => {
      const env = await setup();
      const body = {
        topic: "state/lamp",
        payload: "on",
        retain: true,
        qos: 1,
        payloadFormatIndicator: 1,
        messageExpiry: 3600,
        contentType: "text/plain",
        responseTopic: "state/lamp/set",
        correlationData: "AAEC",
        userProperties: [
          ["z", "1"],
          ["a", "2"],
          ["z", "3"],
        ],
      };
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body })).status).toBe(200);
      await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "state/door", payload: "shut", retain: true } });
      const { topic: _t, payload: _p, retain: _r, qos: _q, messageExpiry: _e, ...props } = body;
      const one = await call(env.api, "GET", "/v1/retained/state/lamp", { key: env.reader, query: "encoding=utf8" });
      expect(one.body).toEqual({ topic: "state/lamp", qos: 1, payload: "on", encoding: "utf8", bytes: 2, updatedAt: expect.any(String), ...props, messageExpiry: expect.any(Number) });
      expect(one.body.messageExpiry).toBeGreaterThanOrEqual(3599);
      expect(one.body.messageExpiry).toBeLessThanOrEqual(3600);
      const list = await call(env.api, "GET", "/v1/retained", { key: env.reader, query: "filter=state/%23" });
      expect(list.body.items.map((i: { topic: string }) => i.topic)).toEqual(["state/door", "state/lamp"]);
      expect(list.body.items[0]).toEqual({ topic: "state/door", qos: 0, payload: "c2h1dA==", encoding: "base64", bytes: 4, updatedAt: expect.any(String) });
      expect(list.body.items[1]).toMatchObject(props);
    });

    it("messageExpiry counts down from the publication; an expired retained message is 404 and not listed", async () => {
      const env = await setup();
      const now = Date.now();
      const msg = (topic: string, expiry: number, age: number) => ({
        op: "retained.set" as const,
        msg: { topic, payload: Buffer.from("v"), qos: 0 as const, retain: true, props: { messageExpiryInterval: expiry }, publishedAt: now - age },
        maxRetained: 100,
      });
      await env.store.apply([msg("exp/left", 3600, 10_400), msg("exp/gone", 5, 5_000), msg("exp/long-gone", 5, 60_000)]);
      const left = await call(env.api, "GET", "/v1/retained/exp/left", { key: env.reader });
      expect(left.body.messageExpiry).toBe(3590);
      for (const topic of ["exp/gone", "exp/long-gone"]) {
        const gone = await call(env.api, "GET", `/v1/retained/${topic}`, { key: env.reader });
        expectProblem(gone, 404, "not-found");
        expect(gone.body.detail).toBe(`no retained message on '${topic}' (the last one expired)`);
      }
      const list = await call(env.api, "GET", "/v1/retained", { key: env.reader });
      expect(list.body.items.map((i: { topic: string; messageExpiry: number }) => [i.topic, i.messageExpiry])).toEqual([["exp/left", 3590]]);
      // DELETE sees what GET sees: an expired one is already gone.
      const deleted = await call(env.api, "DELETE", "/v1/retained/exp/gone", { key: env.admin });
      expectProblem(deleted, 404, "not-found");
      expect(deleted.body.detail).toBe("no retained message on 'exp/gone' (the last one expired)");
      expect((await call(env.api, "DELETE", "/v1/retained/exp/left", { key: env.admin })).status).toBe(204);
    });
  });
}
