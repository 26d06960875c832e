import { describe, expect, it } from "vitest";
import { secretProblem, SECRETS } from "../../infra/plan/store.js";

describe("store secrets", () => {
  it("are the three names docs/deploy.md tells operators to set", () => {
    expect(SECRETS).toEqual({
      upstashRestUrl: "UpstashRedisRestUrl",
      upstashRestToken: "UpstashRedisRestToken",
      brokerRedisUrl: "BrokerRedisUrl",
    });
  });

  it("accept working values", () => {
    expect(secretProblem("upstashRestUrl", "https://eu1-able-fox-12345.upstash.io")).toBeUndefined();
    expect(secretProblem("upstashRestToken", "AYQgASQgNjM0")).toBeUndefined();
    expect(secretProblem("brokerRedisUrl", "rediss://default:pw@eu1-able-fox-12345.upstash.io:6379")).toBeUndefined();
    expect(secretProblem("brokerRedisUrl", "redis://10.0.3.7:6379")).toBeUndefined(); // e.g. ElastiCache in the VPC
  });

  it("catch the usual mix-ups at deploy time, without echoing the value", () => {
    const secret = "s3cr3t-password";
    const cases: [Parameters<typeof secretProblem>[0], string][] = [
      ["brokerRedisUrl", `https://default:${secret}@x.upstash.io`], // the REST URL where the TCP URL belongs
      ["brokerRedisUrl", `redis://default:${secret}@x.upstash.io:6379`], // Upstash needs TLS
      ["brokerRedisUrl", secret],
      ["upstashRestUrl", `rediss://default:${secret}@x.upstash.io:6379`],
      ["upstashRestToken", "  "],
    ];
    for (const [key, value] of cases) {
      const problem = secretProblem(key, value);
      expect(problem).toMatch(new RegExp(`^${SECRETS[key]} `));
      expect(problem).not.toContain(secret);
    }
  });
});
