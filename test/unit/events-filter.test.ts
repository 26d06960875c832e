import { describe, expect, it } from "vitest";
import { publishedTopicFilter, publishedTopicsSchema } from "../../core/events/filter.js";

describe("publishedTopicFilter", () => {
  it("by default lets every topic through except $SYS", () => {
    const pass = publishedTopicFilter();
    for (const t of ["a", "a/b/c", "/", "telemetry/x", "$aws/things/x", "$share-like"]) expect(pass(t)).toBe(true);
    for (const t of ["$SYS", "$SYS/broker/uptime", "$SYS/"]) expect(pass(t)).toBe(false);
  });

  it("include limits, exclude wins", () => {
    const pass = publishedTopicFilter({ include: ["telemetry/#", "alerts/+"], exclude: ["telemetry/debug/#"] });
    expect(pass("telemetry/a/temp")).toBe(true);
    expect(pass("telemetry")).toBe(true);
    expect(pass("alerts/fire")).toBe(true);
    expect(pass("alerts/fire/now")).toBe(false);
    expect(pass("telemetry/debug/x")).toBe(false);
    expect(pass("cmd/x")).toBe(false);
  });

  it("follows the MQTT $ rule: # does not match $-topics unless named [MQTT-4.7.2-1]", () => {
    expect(publishedTopicFilter({ include: ["#"] })("$aws/x")).toBe(false);
    expect(publishedTopicFilter({ include: ["#", "$aws/#"] })("$aws/x")).toBe(true);
    expect(publishedTopicFilter({ exclude: [] })("$SYS/x")).toBe(true);
  });

  it("refuses invalid filters and unknown keys at configuration time", () => {
    expect(() => publishedTopicFilter({ include: ["a/#/b"] })).toThrow();
    expect(() => publishedTopicFilter({ exclude: ["a+"] })).toThrow();
    expect(publishedTopicsSchema.safeParse({ include: ["#"], topics: [] }).success).toBe(false);
  });
});
