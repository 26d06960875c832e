import { describe, expect, it } from "vitest";
import { ENV_VARS } from "../../core/config/index.js";
import { DEFAULT_SETTINGS, DEPLOY_ENV, deploySettings, DeploySettingsError, MAX_BROKERS_LIMIT, MAX_SEMI_SPACE_MIB } from "../../infra/plan/settings.js";

function problems(env: Record<string, string>): readonly string[] {
  try {
    deploySettings(env);
  } catch (err) {
    if (err instanceof DeploySettingsError) return err.issues;
    throw err;
  }
  throw new Error("expected a DeploySettingsError");
}

describe("deploySettings: MQGATE_DEPLOY_* of the deploying shell", () => {
  it("defaults: two to ten brokers, ACL auth from mqgate.acl.yaml, plain endpoints, no domain", () => {
    expect(deploySettings({})).toEqual({
      plaintext: true,
      minBrokers: 2,
      maxBrokers: 10,
      auth: "acl",
      aclFile: "mqgate.acl.yaml",
      corsOrigins: [],
      apiBurstLimit: 200,
      apiRateLimit: 100,
      tlsPassthrough: false,
      clientCerts: "off",
      brokerSemiSpaceMiB: 8, // decision 051: no full collections every few seconds on Node 24 (or 20)
    });
    expect(DEFAULT_SETTINGS.minBrokers).toBeGreaterThanOrEqual(2); // one task per availability zone
  });

  it("reads every setting; blank values are unset", () => {
    expect(
      deploySettings({
        MQGATE_DEPLOY_DOMAIN: " MQTT.Example.com ",
        MQGATE_DEPLOY_CERT_ARN: "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7",
        MQGATE_DEPLOY_PLAINTEXT: "false",
        MQGATE_DEPLOY_MIN_BROKERS: "3",
        MQGATE_DEPLOY_MAX_BROKERS: "30",
        MQGATE_DEPLOY_AUTH: "acl",
        MQGATE_DEPLOY_ACL_FILE: "deploy/prod.acl.json",
        MQGATE_DEPLOY_CORS_ORIGINS: "https://ops.example.com, http://localhost:8080/",
        MQGATE_DEPLOY_API_BURST_LIMIT: "50",
        MQGATE_DEPLOY_API_RATE_LIMIT: "20",
        MQGATE_DEPLOY_ALARM_EMAIL: "oncall@example.com",
        MQGATE_DEPLOY_ALARM_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:ops-pager",
        MQGATE_DEPLOY_TLS_PASSTHROUGH: "true",
        MQGATE_DEPLOY_CLIENT_CERTS: "required",
        MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: "2",
      }),
    ).toEqual({
      domain: "mqtt.example.com",
      certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7",
      plaintext: false,
      minBrokers: 3,
      maxBrokers: 30,
      auth: "acl",
      aclFile: "deploy/prod.acl.json",
      corsOrigins: ["https://ops.example.com", "http://localhost:8080"],
      apiBurstLimit: 50,
      apiRateLimit: 20,
      alarmEmail: "oncall@example.com",
      alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:ops-pager",
      tlsPassthrough: true,
      clientCerts: "required",
      brokerSemiSpaceMiB: 2,
    });
    expect(deploySettings({ MQGATE_DEPLOY_DOMAIN: "", MQGATE_DEPLOY_AUTH: "  " })).toEqual(deploySettings({}));
    expect(deploySettings({ MQGATE_DEPLOY_AUTH: "store" }).auth).toBe("store");
    expect(deploySettings({ MQGATE_DEPLOY_AUTH: "store, acl" }).auth).toBe("store,acl");
  });

  it("TLS passthrough: client certificates need it; it is a TLS endpoint without a domain", () => {
    expect(problems({ MQGATE_DEPLOY_CLIENT_CERTS: "required" })).toEqual([expect.stringMatching(/MQGATE_DEPLOY_CLIENT_CERTS=required needs MQGATE_DEPLOY_TLS_PASSTHROUGH=true/)]);
    expect(problems({ MQGATE_DEPLOY_TLS_PASSTHROUGH: "yes", MQGATE_DEPLOY_CLIENT_CERTS: "always" })).toHaveLength(2);
    expect(deploySettings({ MQGATE_DEPLOY_TLS_PASSTHROUGH: "true", MQGATE_DEPLOY_PLAINTEXT: "false" })).toMatchObject({ tlsPassthrough: true, plaintext: false, clientCerts: "off" });
  });

  it("reports every problem at once, naming the variable", () => {
    const issues = problems({
      MQGATE_DEPLOY_DOMAIN: "not a domain",
      MQGATE_DEPLOY_PLAINTEXT: "no",
      MQGATE_DEPLOY_MIN_BROKERS: "0",
      MQGATE_DEPLOY_MAX_BROKERS: "1e3",
      MQGATE_DEPLOY_AUTH: "none",
      MQGATE_DEPLOY_ACL_FILE: "../secrets/acl.yaml",
      MQGATE_DEPLOY_CORS_ORIGINS: "https://ok.example.com,*",
      MQGATE_DEPLOY_API_BURST_LIMIT: "0",
      MQGATE_DEPLOY_API_RATE_LIMIT: "100000",
      MQGATE_DEPLOY_ALARM_EMAIL: "nobody",
      MQGATE_DEPLOY_ALARM_TOPIC_ARN: "ops-pager",
      MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: "0.5",
    });
    expect(issues).toHaveLength(12);
    const names = ["DOMAIN", "PLAINTEXT", "MIN_BROKERS", "MAX_BROKERS", "AUTH", "ACL_FILE", "CORS_ORIGINS", "API_BURST_LIMIT", "API_RATE_LIMIT", "ALARM_EMAIL", "ALARM_TOPIC_ARN", "BROKER_SEMI_SPACE_MB"];
    for (const name of names) {
      expect(issues.some((i) => i.startsWith(`MQGATE_DEPLOY_${name} `))).toBe(true);
    }
  });

  it("refuses combinations that cannot work", () => {
    expect(problems({ MQGATE_DEPLOY_PLAINTEXT: "false" })).toEqual([expect.stringContaining("needs MQGATE_DEPLOY_DOMAIN")]);
    expect(problems({ MQGATE_DEPLOY_CERT_ARN: "arn:aws:acm:us-east-1:123456789012:certificate/abc" })).toEqual([
      expect.stringContaining("needs MQGATE_DEPLOY_DOMAIN"),
    ]);
    expect(problems({ MQGATE_DEPLOY_MIN_BROKERS: "5", MQGATE_DEPLOY_MAX_BROKERS: "4" })).toEqual([expect.stringContaining("must not exceed")]);
    expect(problems({ MQGATE_DEPLOY_MAX_BROKERS: String(MAX_BROKERS_LIMIT + 1) })).toHaveLength(1);
    expect(problems({ MQGATE_DEPLOY_ACL_FILE: "/etc/acl.yaml" })).toHaveLength(1);
    expect(problems({ MQGATE_DEPLOY_ACL_FILE: "acl.txt" })).toHaveLength(1);
    // The young generation (decisions 050, 051): whole MiB from 1 to 64; 0 would leave V8 without one.
    expect(problems({ MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: "0" })).toHaveLength(1);
    expect(deploySettings({ MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: String(MAX_SEMI_SPACE_MIB) }).brokerSemiSpaceMiB).toBe(64);
    expect(problems({ MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: String(MAX_SEMI_SPACE_MIB + 1) })).toHaveLength(1);
    expect(problems({ MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: "--expose-gc" })).toHaveLength(1);
  });

  it("its variables are not broker variables (the broker's MQGATE_* contract is a fixed set)", () => {
    const broker = new Set(ENV_VARS.map((v) => v.name));
    for (const name of Object.values(DEPLOY_ENV)) {
      expect(name).toMatch(/^MQGATE_DEPLOY_/);
      expect(broker.has(name)).toBe(false);
    }
  });
});
