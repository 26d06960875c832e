// The REST publish routes take MQTT 5 properties from anyone holding a publish key (docs/rest-api.md, "MQTT 5
// properties"): each one is bounded, and a request at the bound is accepted while one a byte beyond is a 400 that
// names the field, parameter or header, before anything is published, stored or decoded further.
import { beforeAll, describe, expect, it } from "vitest";
import type { Message } from "../../broker/types.js";
import { createApiKey } from "../../functions/api-keys.js";
import { localBackend } from "../../functions/backend-local.js";
import {
  MAX_CONTENT_TYPE_BYTES,
  MAX_CORRELATION_DATA_BYTES,
  MAX_MESSAGE_EXPIRY,
  MAX_USER_PROPERTIES,
  MAX_USER_PROPERTIES_BYTES,
  MAX_USER_PROPERTIES_HEADER,
} from "../../functions/property-schemas.js";
import { gatewayLimits } from "../../functions/route.js";
import { type ApiHandler, createApi } from "../../functions/router.js";
import { useBroker } from "../helpers/fixture.js";
import { call } from "../functions/support.js";

const f = useBroker({ limits: { maxPacketSize: 64 * 1024 } });
let api: ApiHandler;
let key: string;
const routed: Message[] = [];

beforeAll(async () => {
  api = createApi({ backend: localBackend(f.b.broker), limits: gatewayLimits(f.b.config) });
  key = (await createApiKey(f.b.broker.store, { name: "pub", scopes: ["publish"], topics: ["#"] }, gatewayLimits(f.b.config).topic)).key;
  f.b.broker.on("message.published", (m: Message) => routed.push(m));
});

async function json(fields: Record<string, unknown>) {
  return call(api, "POST", "/v1/publish", { key, body: { topic: "bounds/t", payload: "x", ...fields } });
}

async function raw(headers: Record<string, string>, query = "") {
  return call(api, "POST", "/v1/topics/bounds/raw", { key, body: Buffer.from("x"), headers, query });
}

/** Accepted at the bound, 400 with this error one beyond, and the refused one never routed. */
async function atTheBound(ok: () => Promise<{ status: number }>, over: () => Promise<{ status: number; body: { errors?: unknown } }>, error: unknown): Promise<void> {
  expect((await ok()).status).toBe(200);
  const before = routed.length;
  const res = await over();
  expect(res.status).toBe(400);
  expect(res.body.errors).toEqual([error]);
  expect(routed.length).toBe(before);
}

const pairs = (n: number, value = "v") => Array.from({ length: n }, (_, i) => [`k${i}`, value]);
const awsHeader = (list: [string, string][] | string[][]) => Buffer.from(JSON.stringify(list.map(([k, v]) => ({ [k as string]: v })))).toString("base64");

describe("MQTT 5 property bounds on the REST publish routes", () => {
  it(`contentType: ${MAX_CONTENT_TYPE_BYTES} UTF-8 bytes`, async () => {
    const at = "é".repeat(MAX_CONTENT_TYPE_BYTES / 2);
    await atTheBound(() => json({ contentType: at }), () => json({ contentType: `${at}x` }), { pointer: "#/contentType", detail: `is ${MAX_CONTENT_TYPE_BYTES + 1} bytes; at most ${MAX_CONTENT_TYPE_BYTES}` });
    // Far beyond: refused by length before its bytes are counted.
    expect((await json({ contentType: "x".repeat(1_000_000) })).body.errors).toEqual([{ pointer: "#/contentType", detail: `must be at most ${MAX_CONTENT_TYPE_BYTES} bytes` }]);
  });

  it(`correlationData: ${MAX_CORRELATION_DATA_BYTES} bytes, in the body and in the header`, async () => {
    const at = Buffer.alloc(MAX_CORRELATION_DATA_BYTES, 7).toString("base64");
    const over = Buffer.alloc(MAX_CORRELATION_DATA_BYTES + 1, 7).toString("base64");
    const detail = `is ${MAX_CORRELATION_DATA_BYTES + 1} bytes; at most ${MAX_CORRELATION_DATA_BYTES}`;
    await atTheBound(() => json({ correlationData: at }), () => json({ correlationData: over }), { pointer: "#/correlationData", detail });
    const header = "x-amz-mqtt5-correlation-data";
    await atTheBound(() => raw({ [header]: at }), () => raw({ [header]: over }), { header, detail });
    expect((await raw({ [header]: "A".repeat(100_000) })).body.errors).toEqual([{ header, detail: `must be at most ${MAX_CORRELATION_DATA_BYTES} bytes` }]);
  });

  it(`userProperties: ${MAX_USER_PROPERTIES} pairs, in the body and in the header`, async () => {
    await atTheBound(() => json({ userProperties: pairs(MAX_USER_PROPERTIES) }), () => json({ userProperties: pairs(MAX_USER_PROPERTIES + 1) }), {
      pointer: "#/userProperties",
      detail: `must hold at most ${MAX_USER_PROPERTIES} pairs`,
    });
    const header = "x-amz-mqtt5-user-properties";
    await atTheBound(() => raw({ [header]: awsHeader(pairs(MAX_USER_PROPERTIES)) }), () => raw({ [header]: awsHeader(pairs(MAX_USER_PROPERTIES + 1)) }), {
      header,
      detail: `must hold at most ${MAX_USER_PROPERTIES} pairs, has ${MAX_USER_PROPERTIES + 1}`,
    });
    expect(routed.at(-2)?.props?.userProperties).toHaveLength(MAX_USER_PROPERTIES);
  });

  it(`userProperties: ${MAX_USER_PROPERTIES_BYTES} bytes of names and values together; the header is bounded before it is decoded`, async () => {
    // 4 pairs of a 2-byte name and a value filling the rest.
    const value = (extra: number) => "v".repeat(MAX_USER_PROPERTIES_BYTES / 4 - 2 + extra);
    const at = [0, 1, 2, 3].map((i) => [`k${i}`, value(0)]);
    const over = [0, 1, 2, 3].map((i) => [`k${i}`, value(i === 3 ? 1 : 0)]);
    const detail = `names and values are ${MAX_USER_PROPERTIES_BYTES + 1} bytes together; at most ${MAX_USER_PROPERTIES_BYTES}`;
    await atTheBound(() => json({ userProperties: at }), () => json({ userProperties: over }), { pointer: "#/userProperties", detail });
    const header = "x-amz-mqtt5-user-properties";
    await atTheBound(() => raw({ [header]: awsHeader(at) }), () => raw({ [header]: awsHeader(over) }), { header, detail });
    expect((await raw({ [header]: "A".repeat(MAX_USER_PROPERTIES_HEADER + 4) })).body.errors).toEqual([{ header, detail: `must be at most ${MAX_USER_PROPERTIES_HEADER} characters` }]);
  });

  it(`messageExpiry: ${MAX_MESSAGE_EXPIRY} seconds (MQTT's four-byte integer), in the body and in the query`, async () => {
    await atTheBound(() => json({ messageExpiry: MAX_MESSAGE_EXPIRY }), () => json({ messageExpiry: MAX_MESSAGE_EXPIRY + 1 }), {
      pointer: "#/messageExpiry",
      detail: `must be at most ${MAX_MESSAGE_EXPIRY} seconds`,
    });
    await atTheBound(() => raw({}, `messageExpiry=${MAX_MESSAGE_EXPIRY}`), () => raw({}, `messageExpiry=${MAX_MESSAGE_EXPIRY + 1}`), {
      parameter: "messageExpiry",
      detail: `must be at most ${MAX_MESSAGE_EXPIRY} seconds`,
    });
    expect((await raw({}, `messageExpiry=${"9".repeat(400)}`)).body.errors).toEqual([{ parameter: "messageExpiry", detail: "must be an integer number of seconds" }]);
  });

  it("all of them at once still fit the broker's packet limit, which counts them (413 beyond)", async () => {
    const most = {
      contentType: "c".repeat(MAX_CONTENT_TYPE_BYTES),
      correlationData: Buffer.alloc(MAX_CORRELATION_DATA_BYTES).toString("base64"),
      userProperties: [0, 1, 2, 3].map((i) => [`k${i}`, "v".repeat(MAX_USER_PROPERTIES_BYTES / 4 - 2)]),
      responseTopic: "r/1",
      messageExpiry: 60,
      payloadFormatIndicator: 1,
    };
    expect((await json(most)).status).toBe(200);
    const res = await json({ ...most, payload: "x".repeat(64 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.errors[0].detail).toMatch(/fit with this topic and these properties$/);
  });
});
