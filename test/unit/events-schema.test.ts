import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EventParseError, InvalidEvent } from "../../core/events/errors.js";
import { EXAMPLE_EVENTS } from "../../core/events/examples.js";
import { encodeEvent, parseEvent } from "../../core/events/parse.js";
import { EVENT_TYPES, type MqgateEvent } from "../../core/events/schema.js";

const examples = Object.values(EXAMPLE_EVENTS) as MqgateEvent[];

function parseError(body: string): EventParseError {
  try {
    parseEvent(body);
  } catch (err) {
    expect(err).toBeInstanceOf(EventParseError);
    return err as EventParseError;
  }
  throw new Error(`parsed: ${body}`);
}

const withField = (e: MqgateEvent, extra: Record<string, unknown>): string => JSON.stringify({ ...e, ...extra });

describe("events schema v3", () => {
  it("knows exactly the six event types of DESIGN §3.4, and session.expired (v2)", () => {
    expect([...EVENT_TYPES].sort()).toEqual(
      ["client.connected", "client.disconnected", "message.dropped", "message.published", "session.subscribed", "session.unsubscribed", "session.expired"].sort(),
    );
    expect(Object.keys(EXAMPLE_EVENTS).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(examples.map((e) => [e.type, e] as const))("%s: the example parses and round-trips", (_type, event) => {
    expect(parseEvent(JSON.stringify(event))).toEqual(event);
    expect(JSON.parse(encodeEvent(event))).toEqual(event);
  });

  it.each(examples.map((e) => [e.type, e] as const))("%s: a password field is refused, by name", (_type, event) => {
    const err = parseError(withField(event, { password: "hunter2" }));
    expect(err.code).toBe("invalid-field");
    expect(err.issues).toContainEqual({ path: "password", message: "field not allowed in this event" });
    expect(err.message).toMatch(new RegExp(`invalid ${event.type.replace(".", "\\.")} event: .*password`));
    expect(() => encodeEvent({ ...event, password: "x" } as unknown as MqgateEvent)).toThrow(InvalidEvent);
  });

  it("nested objects are strict too", () => {
    const e = EXAMPLE_EVENTS["session.subscribed"];
    const body = JSON.stringify({ ...e, subscriptions: [{ filter: "a", requestedQos: 0, grantedQos: 0, password: "p" }] });
    expect(parseError(body).issues).toContainEqual({ path: "subscriptions.0.password", message: "field not allowed in this event" });
  });

  it("username is optional but, when present, a string (never null)", () => {
    const { username: _omit, ...anonymous } = EXAMPLE_EVENTS["client.connected"];
    expect(parseEvent(JSON.stringify(anonymous))).toEqual(anonymous);
    expect(parseError(withField(anonymous as MqgateEvent, { username: null })).issues.map((i) => i.path)).toEqual(["username"]);
  });

  it("names the problem: not JSON, not an object, wrong version, unknown type", () => {
    expect(parseError("{nope").code).toBe("invalid-json");
    expect(parseError("[1,2]").code).toBe("not-an-object");
    expect(parseError("null").code).toBe("not-an-object");
    const v4 = parseError(withField(EXAMPLE_EVENTS["client.connected"], { v: 4 }));
    expect(v4.code).toBe("unsupported-version");
    expect(v4.message).toMatch(/version 4.*v1, v2 and v3/);
    const unknown = parseError(withField(EXAMPLE_EVENTS["client.connected"], { type: "client.exploded" }));
    expect(unknown.code).toBe("unknown-type");
    expect(unknown.message).toMatch(/"client\.exploded"/);
  });

  it("names invalid and missing fields with their paths", () => {
    const pub = EXAMPLE_EVENTS["message.published"];
    expect(parseError(withField(pub, { qos: 3 })).issues.map((i) => i.path)).toEqual(["qos"]);
    expect(parseError(withField(pub, { payload: "not base64!" })).issues.map((i) => i.path)).toEqual(["payload"]);
    expect(parseError(withField(pub, { ts: -1 })).issues.map((i) => i.path)).toEqual(["ts"]);
    expect(parseError(withField(pub, { ts: 1.5 })).issues.map((i) => i.path)).toEqual(["ts"]);
    const { topic: _t, ...noTopic } = pub;
    expect(parseError(JSON.stringify(noTopic)).issues.map((i) => i.path)).toEqual(["topic"]);
    expect(parseError(withField(EXAMPLE_EVENTS["client.disconnected"], { reason: "bored" })).issues.map((i) => i.path)).toEqual(["reason"]);
    expect(parseError(withField(EXAMPLE_EVENTS["message.dropped"], { why: "" })).issues.map((i) => i.path)).toEqual(["why"]);
    expect(parseError(withField(pub, { clientId: "" })).issues.map((i) => i.path)).toEqual(["clientId"]);
  });

  it("reads v1 events (every v1 event is a v2 event with v: 1); v1 has neither session.expired nor source policy", () => {
    const v1 = { ...EXAMPLE_EVENTS["client.disconnected"], v: 1 as const };
    expect(parseEvent(JSON.stringify(v1))).toEqual(v1);
    const policy = { ...EXAMPLE_EVENTS["session.unsubscribed"], source: "policy" as const };
    expect(parseEvent(JSON.stringify(policy))).toEqual(policy);
    expect(parseError(withField(policy, { source: "cron" })).issues.map((i) => i.path)).toEqual(["source"]);
  });

  it("v3: message.published carries MQTT 5 properties, each optional; v1 and v2 events are still read, without them", () => {
    const full = {
      ...EXAMPLE_EVENTS["message.published"],
      messageExpiry: 60,
      responseTopic: "replies/42",
      correlationData: Buffer.from([0, 1, 255]).toString("base64"),
      userProperties: [
        ["a", "1"],
        ["b", "2"],
        ["a", "3"],
      ] as [string, string][],
    };
    expect(parseEvent(JSON.stringify(full))).toEqual(full);
    const { payloadFormatIndicator: _p, contentType: _c, userProperties: _u, ...plain } = EXAMPLE_EVENTS["message.published"];
    for (const v of [1, 2, 3] as const) expect(parseEvent(JSON.stringify({ ...plain, v }))).toEqual({ ...plain, v });
    const old = parseError(withField(EXAMPLE_EVENTS["message.published"], { v: 2 }));
    expect(old.issues.map((i) => i.path).sort()).toEqual(["contentType", "payloadFormatIndicator", "userProperties"]);
    expect(old.issues[0]?.message).toMatch(/not allowed in a v2 event/);
    expect(parseError(withField(full, { payloadFormatIndicator: 2 })).issues.map((i) => i.path)).toEqual(["payloadFormatIndicator"]);
    expect(parseError(withField(full, { correlationData: "not base64!" })).issues.map((i) => i.path)).toEqual(["correlationData"]);
    expect(parseError(withField(full, { userProperties: [["a"]] })).issues.map((i) => i.path)).toEqual(["userProperties.0"]);
    expect(parseError(withField(full, { messageExpiry: 2 ** 32 })).issues.map((i) => i.path)).toEqual(["messageExpiry"]);
  });

  it("message.published may carry payloadOmitted with an empty payload", () => {
    const e = { ...EXAMPLE_EVENTS["message.published"], payload: "", payloadOmitted: true as const };
    expect(parseEvent(JSON.stringify(e))).toEqual(e);
    expect(parseError(withField(e, { payloadOmitted: false })).issues.map((i) => i.path)).toEqual(["payloadOmitted"]);
  });

  it("every JSON example in docs/events.md parses, and each type has one", () => {
    const doc = readFileSync(new URL("../../docs/events.md", import.meta.url), "utf8");
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const parsed = blocks.filter((b) => b.includes('"v": 3')).map((b) => parseEvent(b));
    expect(new Set(parsed.map((e) => e.type))).toEqual(new Set(EVENT_TYPES));
    for (const e of parsed) expect(e).toEqual(EXAMPLE_EVENTS[e.type]);
  });
});
