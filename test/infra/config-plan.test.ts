import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configKeyPaths, DEFAULTS, loadConfig } from "../../core/config/index.js";
import { brokerEnvironment } from "../../infra/plan/broker.js";
import {
  CLUSTER_MAX_PACKET_SIZE,
  configEnvironment,
  configFromDeployEnv,
  DeployConfigError,
  PLAN_OWNED_KEYS,
} from "../../infra/plan/config.js";

const root = new URL("../..", import.meta.url).pathname;
const REDIS_URL = "rediss://default:pw@eu1-able-fox-12345.upstash.io:6379";
/** What the task gets from SSM (BROKER_SECRET_ENV): the Redis URL and the generated node link secret. */
const TASK_SECRETS = { MQGATE_REDIS_URL: REDIS_URL, MQGATE_CLUSTER__LINK_SECRET: "x".repeat(48) };
const brokerEnv = brokerEnvironment({ auth: "allow-all", queuePrefix: "mqgate-prod" });

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof DeployConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a DeployConfigError");
}

describe("configEnvironment: the typed config object through to the brokers and functions", () => {
  it("by default only the cluster's packet size, which fits one SQS message between nodes", async () => {
    expect(configEnvironment()).toEqual({ MQGATE_LIMITS__MAX_PACKET_SIZE: String(CLUSTER_MAX_PACKET_SIZE) });
    // base64 of the payload plus a generous 8 KiB for topic and JSON envelope within SQS's 256 KiB.
    expect(Math.ceil(CLUSTER_MAX_PACKET_SIZE / 3) * 4 + 8192).toBeLessThanOrEqual(256 * 1024);
    expect(CLUSTER_MAX_PACKET_SIZE).toBeLessThan(DEFAULTS.limits.maxPacketSize);
    const config = await loadConfig({ env: { ...brokerEnv, ...configEnvironment(), ...TASK_SECRETS } });
    expect(config.limits.maxPacketSize).toBe(CLUSTER_MAX_PACKET_SIZE);
  });

  it("every key the operator sets arrives in the loaded config of a broker task; later configs win", async () => {
    const env = configEnvironment(
      { limits: { maxQueued: 5000, maxPacketSize: 65_536 }, events: { include: ["sensors/#", "alerts/+/high"], exclude: ["a,b/#"] }, log: { level: "warn" } },
      configFromDeployEnv('{"limits": {"maxInflight": 64}, "log": {"level": "debug"}}'),
    );
    expect(env).toMatchObject({ MQGATE_LIMITS__MAX_QUEUED: "5000", MQGATE_EVENTS__INCLUDE: "sensors/#,alerts/+/high", MQGATE_EVENTS__EXCLUDE: '["a,b/#"]' });
    const config = await loadConfig({ env: { ...brokerEnv, ...env, ...TASK_SECRETS } });
    expect(config.limits).toMatchObject({ maxQueued: 5000, maxPacketSize: 65_536, maxInflight: 64 });
    expect(config.events).toMatchObject({ include: ["sensors/#", "alerts/+/high"], exclude: ["a,b/#"] });
    expect(config.log.level).toBe("debug");
    // The plan's own settings are untouched.
    expect(config.cluster).toMatchObject({ communicator: "sqs", queuePrefix: "mqgate-prod" });
  });

  it("refuses unknown keys, invalid values and keys the deployment sets itself, all at once", () => {
    const issues = problems(() =>
      configEnvironment({ limits: { maxInflite: 3 } } as never, { limits: { maxInflight: 0 } }, { redisUrl: "redis://x", mqtt: { port: 1 }, auth: { mode: "acl" } }),
    );
    expect(issues).toHaveLength(5);
    expect(issues[0]).toMatch(/maxInflite/);
    expect(issues[1]).toMatch(/^limits.maxInflight: must be an integer 1\.\.65535/);
    expect(issues.slice(2)).toEqual([
      expect.stringMatching(/^redisUrl cannot be set .*secret/),
      expect.stringMatching(/^mqtt.port cannot be set/),
      expect.stringMatching(/^auth.mode cannot be set .*MQGATE_DEPLOY_AUTH/),
    ]);
    for (const key of Object.keys(PLAN_OWNED_KEYS)) expect(configKeyPaths(), key).toContain(key);
  });

  it("MQGATE_DEPLOY_CONFIG: JSON of the same shape; unset or blank is none", () => {
    expect(configFromDeployEnv(undefined)).toBeUndefined();
    expect(configFromDeployEnv("  ")).toBeUndefined();
    expect(problems(() => configFromDeployEnv("{limits:"))[0]).toMatch(/^MQGATE_DEPLOY_CONFIG must be JSON/);
    expect(problems(() => configFromDeployEnv("[1]"))[0]).toMatch(/must be a JSON object/);
  });

  it("infra/ hands the same variables to the broker tasks and the functions", () => {
    expect(readFileSync(join(root, "infra/broker.ts"), "utf8")).toContain("...configEnv,");
    expect(readFileSync(join(root, "infra/api.ts"), "utf8")).toContain("environment: configEnv,");
    expect(readFileSync(join(root, "infra/config.ts"), "utf8")).toMatch(/configEnvironment\(config, configFromDeployEnv\(process\.env\.MQGATE_DEPLOY_CONFIG\)\)/);
  });
});
