import { describe, expect, it } from "vitest";
import type { Message } from "../../../broker/types.js";
import { call, until } from "../support.js";
import { type Env, expectProblem, type Setup } from "./env.js";

/** A User Property as it is on the wire (identifier 0x26, two length-prefixed strings). */
export function userPropertyBytes(pairs: [string, string][]): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s, "utf8");
    return [b.length >> 8, b.length & 0xff, ...b];
  };
  return Buffer.from(pairs.flatMap(([k, v]) => [0x26, ...str(k), ...str(v)]));
}

/** Every message the broker routes from now on, as routed (the REST gateway's publishes included). */
export function routed(env: Env): Message[] {
  const seen: Message[] = [];
  env.broker.broker.on("message.published", (m: Message) => seen.push(m));
  return seen;
}

const CORRELATION = Buffer.from([0, 1, 2, 255]);
const ORDERED: [string, string][] = [
  ["a", "1"],
  ["b", "2"],
  ["a", "3"],
];

/** One request body field at a time: the problems a JSON publish of it is answered with. */
async function problems(env: Env, fields: Record<string, unknown>): Promise<unknown> {
  const res = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t/1", payload: "x", ...fields } });
  expectProblem(res, 400, "invalid-request");
  return res.body.errors;
}

export function propertiesTests(setup: Setup): void {
  describe("MQTT 5 properties on POST /v1/publish and /v1/publish/batch", () => {
    it("every property reaches an MQTT 5 subscriber, user properties in order with duplicates; a 3.1.1 subscriber gets the message without them", async () => {
      const env = await setup();
      const raw = await env.raw5("p5-raw");
      expect(await raw.client.subscribe("devices/#", 1)).toEqual([1]);
      const v5 = await env.connect("p5-mqtt", { protocolVersion: 5 });
      await v5.client.subscribeAsync("devices/#", { qos: 1 });
      const v4 = await env.connect("p4");
      await v4.client.subscribeAsync("devices/#", { qos: 1 });
      const seen = routed(env);
      const res = await call(env.api, "POST", "/v1/publish", {
        key: env.devPublisher,
        body: {
          topic: "devices/42/cmd",
          payload: '{"op":"reboot"}',
          qos: 1,
          payloadFormatIndicator: "UTF8_DATA",
          messageExpiry: 600,
          contentType: "application/json",
          responseTopic: "devices/42/replies",
          correlationData: CORRELATION.toString("base64"),
          userProperties: ORDERED,
        },
      });
      expect(res.status).toBe(200);
      expect(res.body.matched).toBe(3);
      // The message as the broker routed it: the properties, and the time it was published (it has an expiry).
      expect(seen[0]?.props).toEqual({
        payloadFormatIndicator: 1,
        messageExpiryInterval: 600,
        contentType: "application/json",
        responseTopic: "devices/42/replies",
        correlationData: CORRELATION,
        userProperties: ORDERED,
      });
      expect(typeof seen[0]?.publishedAt).toBe("number");
      const [m5] = await v5.waitFor(1);
      expect(m5?.properties).toMatchObject({
        payloadFormatIndicator: true,
        contentType: "application/json",
        responseTopic: "devices/42/replies",
        correlationData: CORRELATION,
        userProperties: { a: ["1", "3"], b: "2" },
      });
      expect(m5?.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(599);
      expect(m5?.properties?.messageExpiryInterval).toBeLessThanOrEqual(600);
      // On the wire: the three user properties in publish order, byte for byte.
      expect((await raw.client.expect("publish")).topic).toBe("devices/42/cmd");
      expect(raw.frames().includes(userPropertyBytes(ORDERED))).toBe(true);
      const [m4] = await v4.waitFor(1);
      expect([m4?.payload.toString(), m4?.properties]).toEqual(['{"op":"reboot"}', undefined]);
    });

    it("a message without properties (an empty user property list is none) is routed as before: no props, no publication time", async () => {
      const env = await setup();
      const seen = routed(env);
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t/plain", payload: "x", userProperties: [] } })).status).toBe(200);
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t/plain", payload: "y" } })).status).toBe(200);
      expect(seen.map((m) => Object.keys(m).sort())).toEqual([
        ["payload", "qos", "retain", "topic"],
        ["payload", "qos", "retain", "topic"],
      ]);
    });

    it("queued for an offline MQTT 5 session with its properties (in the store), and delivered with them on its return", async () => {
      const env = await setup();
      const first = await env.raw5("p5-away", { sessionExpiryInterval: 600 });
      await first.client.subscribe("inbox/#", 1);
      first.client.destroy();
      await until("session offline in the store", async () => (await env.store.getSession("p5-away"))?.node === null);
      const body = { topic: "inbox/1", payload: "hi", qos: 1, contentType: "text/plain", messageExpiry: 3600, userProperties: ORDERED };
      expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body })).body.matched).toBe(1);
      const [stored] = (await env.store.getSession("p5-away"))?.outgoing ?? [];
      expect(stored?.msg.props).toEqual({ contentType: "text/plain", messageExpiryInterval: 3600, userProperties: ORDERED });
      expect(typeof stored?.msg.publishedAt).toBe("number");
      const back = await env.raw5("p5-away", { sessionExpiryInterval: 600 }, false);
      const got = await back.client.expect("publish");
      expect([got.topic, got.payload.toString(), got.properties?.contentType]).toEqual(["inbox/1", "hi", "text/plain"]);
      expect(got.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(3599);
      expect(back.frames().includes(userPropertyBytes(ORDERED))).toBe(true);
    });

    it("a batch carries each message's own properties, in order; an invalid property fails the batch naming it", async () => {
      const env = await setup();
      const seen = routed(env);
      const messages = [
        { topic: "b/1", payload: "one", contentType: "text/plain" },
        { topic: "b/2", payload: "two" },
        { topic: "b/3", payload: "three", userProperties: [["n", "3"]] },
      ];
      expect((await call(env.api, "POST", "/v1/publish/batch", { key: env.admin, body: { messages } })).status).toBe(200);
      expect(seen.map((m) => m.props)).toEqual([{ contentType: "text/plain" }, undefined, { userProperties: [["n", "3"]] }]);
      const bad = await call(env.api, "POST", "/v1/publish/batch", {
        key: env.admin,
        body: { messages: [messages[0], { topic: "b/2", payload: "x", responseTopic: "r/#", userProperties: [["k", "a\u0000"]] }] },
      });
      expectProblem(bad, 400, "invalid-request");
      expect(bad.body.errors).toEqual([
        { pointer: "#/messages/1/responseTopic", detail: "topic name must not contain wildcards" },
        { pointer: "#/messages/1/userProperties/0/1", detail: "must not contain the null character U+0000" },
      ]);
      expect(seen).toHaveLength(3);
    });

    it("each property's validation error is a 400 naming the field", async () => {
      const env = await setup({ limits: { maxTopicLevels: 3 } });
      const at = (field: string, detail: string) => [{ pointer: `#/${field}`, detail }];
      const pfi = 'must be 0, 1, "UNSPECIFIED_BYTES" or "UTF8_DATA"';
      expect(await problems(env, { payloadFormatIndicator: 2 })).toEqual(at("payloadFormatIndicator", pfi));
      expect(await problems(env, { payloadFormatIndicator: "utf8" })).toEqual(at("payloadFormatIndicator", pfi));
      expect(await problems(env, { messageExpiry: 0 })).toEqual(at("messageExpiry", "must be at least 1 second (a message that expires at once reaches nobody)"));
      expect(await problems(env, { messageExpiry: 1.5 })).toEqual(at("messageExpiry", "must be an integer number of seconds"));
      expect(await problems(env, { messageExpiry: "60" })).toEqual(at("messageExpiry", "must be an integer number of seconds"));
      expect(await problems(env, { messageExpiry: 2 ** 32 })).toEqual(at("messageExpiry", "must be at most 4294967295 seconds"));
      expect(await problems(env, { contentType: 7 })).toEqual(at("contentType", "expected string, received number"));
      expect(await problems(env, { contentType: "a\u0000b" })).toEqual(at("contentType", "must not contain the null character U+0000"));
      expect(await problems(env, { contentType: "text/\ud800" })).toEqual(at("contentType", "must not contain unpaired UTF-16 surrogates"));
      expect(await problems(env, { responseTopic: "replies/+" })).toEqual(at("responseTopic", "topic name must not contain wildcards"));
      expect(await problems(env, { responseTopic: "" })).toEqual(at("responseTopic", "topic name must be at least one character long"));
      expect(await problems(env, { responseTopic: "a/b/c/d" })).toEqual(at("responseTopic", "topic name exceeds 3 levels"));
      expect(await problems(env, { correlationData: "%%" })).toEqual(at("correlationData", "is not valid base64"));
      expect(await problems(env, { userProperties: { a: "1" } })).toEqual(at("userProperties", "expected array, received object"));
      expect(await problems(env, { userProperties: [["a"]] })).toEqual(at("userProperties/0", "must be a [name, value] pair of strings"));
      expect(await problems(env, { userProperties: [["a", "b", "c"]] })).toEqual(at("userProperties/0", "must be a [name, value] pair of strings"));
      expect(await problems(env, { userProperties: [["a", 1]] })).toEqual(at("userProperties/0/1", "expected string, received number"));
      expect(await problems(env, { userProperties: [["ok", "1"], ["\ud800", "1"]] })).toEqual(at("userProperties/1/0", "must not contain unpaired UTF-16 surrogates"));
      // Schema problems are answered first; then every problem the checks against the broker's limits find, the topic's too.
      expect(await problems(env, { topic: "a/#", contentType: "\u0000", messageExpiry: -1 })).toEqual([
        { pointer: "#/messageExpiry", detail: "must be at least 1 second (a message that expires at once reaches nobody)" },
      ]);
      expect(await problems(env, { topic: "a/#", contentType: "\u0000" })).toEqual([
        { pointer: "#/topic", detail: "topic name must not contain wildcards" },
        { pointer: "#/contentType", detail: "must not contain the null character U+0000" },
      ]);
    });

    it("with UTF-8 declared, a payload that is not valid UTF-8 is a 400; without it, any bytes go", async () => {
      const env = await setup();
      const notUtf8 = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64");
      for (const pfi of [1, "UTF8_DATA"]) {
        const bad = await call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t", payload: notUtf8, encoding: "base64", payloadFormatIndicator: pfi } });
        expectProblem(bad, 400, "invalid-request");
        expect(bad.body.errors).toEqual([{ pointer: "#/payload", detail: "is not valid UTF-8, but the payload format indicator declares UTF-8 data (1, UTF8_DATA)" }]);
      }
      for (const body of [
        { topic: "t", payload: notUtf8, encoding: "base64", payloadFormatIndicator: 0 },
        { topic: "t", payload: notUtf8, encoding: "base64" },
        { topic: "t", payload: Buffer.from("grüße ✓").toString("base64"), encoding: "base64", payloadFormatIndicator: 1 },
        { topic: "t", payload: { ok: true }, encoding: "json", payloadFormatIndicator: 1 },
      ]) {
        expect((await call(env.api, "POST", "/v1/publish", { key: env.admin, body })).status).toBe(200);
      }
    });

    it("the 413 check counts the properties: the MQTT 5 PUBLISH they make must fit the broker's limit", async () => {
      const env = await setup({ limits: { maxPacketSize: 1024 } });
      const pub = (payloadBytes: number) =>
        call(env.api, "POST", "/v1/publish", { key: env.admin, body: { topic: "t", payload: "x".repeat(payloadBytes), contentType: "application/json" } });
      // 1016 payload bytes fit without properties; Content Type takes 19 bytes, its Property Length 1.
      expect((await pub(996)).status).toBe(200);
      const over = await pub(997);
      expectProblem(over, 413, "too-large");
      expect(over.body.errors).toEqual([{ pointer: "#/payload", detail: "is 997 bytes; at most 996 fit with this topic and these properties" }]);
    });
  });
}
