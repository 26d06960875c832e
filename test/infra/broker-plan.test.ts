import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { DEFAULTS, ENV_VARS, loadConfig } from "../../core/config/index.js";
import {
  aclImagePath,
  BROKER_SECRET_ENV,
  brokerEnvironment,
  brokerHealthCheck,
  brokerImage,
  brokerNodeOptions,
  brokerPorts,
  brokerScaling,
  CONTAINER_PORTS,
  DEREGISTRATION_DELAY_SECONDS,
  brokerLinkSecurityGroup,
  DRAIN_MS,
  FARGATE_MAX_STOP_TIMEOUT_SECONDS,
  LINK_PORT,
  LINK_SECRET,
  loadBalancerHealthChecks,
  stopTimeoutSeconds,
  TLS_DIR,
  TLS_POLICY,
  withStopTimeout,
  WS_PATH,
} from "../../infra/plan/broker.js";
import { DEFAULT_SETTINGS, deploySettings } from "../../infra/plan/settings.js";

const REDIS_URL = "rediss://default:pw@eu1-able-fox-12345.upstash.io:6379";
/** What the task gets from SSM (BROKER_SECRET_ENV): the Redis URL and the generated node link secret. */
const TASK_SECRETS = { MQGATE_REDIS_URL: REDIS_URL, MQGATE_CLUSTER__LINK_SECRET: "x".repeat(48) };
const known = new Map(ENV_VARS.map((v) => [v.name, v]));


/** The password-check settings every loaded config carries (decision 010); the deployment keeps the defaults. */
const AUTH_QUEUE_DEFAULTS = { hashConcurrency: 2, maxPendingAuth: 10_000, maxAuthWaitMs: 5000, cacheSeconds: 300, cacheMaxEntries: 100_000 };
describe("brokerEnvironment: the broker's MQGATE_* contract in the container", () => {
  const acl = brokerEnvironment({ auth: "acl", aclFile: "deploy/prod.acl.yaml", queuePrefix: "mqgate-prod" });
  const open = brokerEnvironment({ auth: "allow-all", queuePrefix: "mqgate-prod" });

  it("sets only variables the config loader knows, none of them secret", () => {
    for (const env of [acl, open]) {
      for (const name of Object.keys(env)) {
        expect(known.has(name), name).toBe(true);
        expect(known.get(name)?.secret ?? false, name).toBe(false);
      }
    }
    for (const name of BROKER_SECRET_ENV) expect(known.get(name)?.secret).toBe(true);
  });

  it("validates in the real loader, together with the secrets, and means what the deployment expects", async () => {
    const config = await loadConfig({ env: { ...acl, ...TASK_SECRETS } });
    expect(config.mqtt).toEqual({ host: "0.0.0.0", port: CONTAINER_PORTS.mqtt });
    expect(config.ws).toEqual({ host: "0.0.0.0", port: CONTAINER_PORTS.ws, path: WS_PATH });
    expect(config.tls.port).toBeNull(); // TLS ends at the load balancer
    expect(config.http.port).toBeNull();
    expect(config.metrics.port).toBeNull();
    // Metrics go to CloudWatch as EMF lines instead, the deployment as the cluster dimension.
    expect(config.emf).toEqual({ intervalSeconds: 60, namespace: "mqgate", cluster: "mqgate-prod" });
    // Behind a load balancer that hides client addresses, per-address limits would cap whole zones: off.
    expect([config.limits.maxConnectionsPerAddress, config.limits.connectionRatePerAddress]).toEqual([0, 0]);
    expect(config.auth).toEqual({ mode: "acl", aclFile: "/app/config/prod.acl.yaml", ...AUTH_QUEUE_DEFAULTS });
    expect(config.redisUrl).toBe(REDIS_URL);
    expect(config.sqsEndpoint).toBeUndefined();
    expect(config.cluster).toMatchObject({ communicator: "sqs", queuePrefix: "mqgate-prod", links: true, linkPort: LINK_PORT, linkHost: "0.0.0.0" });
    expect(config.shutdown.drainMs).toBe(DRAIN_MS);
    expect(config.limits.maxConnections).toBeLessThan(DEFAULTS.limits.maxConnections);

    const openConfig = await loadConfig({ env: { ...open, ...TASK_SECRETS } });
    expect(openConfig.auth).toEqual({ mode: "allow-all", ...AUTH_QUEUE_DEFAULTS });
  });

  it("auth 'store' and 'store,acl' become the auth chain (users and roles in the store, issue 15)", async () => {
    const store = brokerEnvironment({ auth: "store", queuePrefix: "mqgate-prod" });
    expect(store).not.toHaveProperty("MQGATE_ACL_FILE");
    expect((await loadConfig({ env: { ...store, ...TASK_SECRETS } })).auth.backends).toEqual(["store"]);
    const both = brokerEnvironment({ auth: "store,acl", aclFile: "deploy/prod.acl.yaml", queuePrefix: "mqgate-prod" });
    expect((await loadConfig({ env: { ...both, ...TASK_SECRETS } })).auth).toMatchObject({ backends: ["store", "acl"], aclFile: "/app/config/prod.acl.yaml" });
    expect(() => brokerEnvironment({ auth: "store,acl", queuePrefix: "p" })).toThrow(/needs an ACL file/);
    expect(brokerImage({ auth: "store,acl", aclFile: "a.yaml" }).target).toBe("broker-acl");
    expect(brokerImage({ auth: "store", aclFile: "ignored.yaml" }).target).toBe("broker");
  });

  it("leaves the node id to each process: a fixed one would be shared by every task", async () => {
    expect(acl).not.toHaveProperty("MQGATE_NODE_ID");
    const a = await loadConfig({ env: { ...acl, ...TASK_SECRETS } });
    expect(a.nodeId).toMatch(/-\d+-[0-9a-f]{6}$/); // <hostname>-<pid>-<random>
    expect((await loadConfig({ env: { ...acl, ...TASK_SECRETS } })).nodeId).not.toBe(a.nodeId);
  });

  it("passes the drain on to the broker, and ECS's stop timeout covers it", async () => {
    const env = brokerEnvironment({ auth: "allow-all", drainMs: 42_000, queuePrefix: "mqgate-prod" });
    expect((await loadConfig({ env: { ...env, ...TASK_SECRETS } })).shutdown.drainMs).toBe(42_000);
    expect(stopTimeoutSeconds(42_000) * 1000).toBeGreaterThan(42_000);
    expect(stopTimeoutSeconds(DRAIN_MS) * 1000).toBeGreaterThan(DRAIN_MS);
    expect(stopTimeoutSeconds(DRAIN_MS)).toBeLessThanOrEqual(FARGATE_MAX_STOP_TIMEOUT_SECONDS);
    expect(() => stopTimeoutSeconds(119_000)).toThrow(/stop timeout/);
    // The load balancer stops sending new connections before SIGTERM; it must not hold a stopping task for long.
    expect(DEREGISTRATION_DELAY_SECONDS).toBeLessThanOrEqual(30);
  });

  it("ACL mode needs the file, which the image keeps under /app/config with its name (the extension picks the parser)", () => {
    expect(() => brokerEnvironment({ auth: "acl", queuePrefix: "mqgate-prod" })).toThrow(/ACL file/);
    expect(aclImagePath("mqgate.acl.yaml")).toBe("/app/config/mqgate.acl.yaml");
    expect(aclImagePath("deploy/acl.json")).toBe("/app/config/acl.json");
    expect(brokerImage({ auth: "acl", aclFile: "deploy/acl.json" })).toEqual({
      dockerfile: "infra/broker.Dockerfile",
      target: "broker-acl",
      args: { ACL_FILE: "deploy/acl.json" },
    });
    expect(brokerImage({ auth: "allow-all", aclFile: "ignored.yaml" }).target).toBe("broker");
  });
});

describe("brokerNodeOptions: the broker's young generation and V8 helper pool (decisions 050, 051 and 056)", () => {
  it("8 MiB by default, the operator's size when set: NODE_OPTIONS that Node accepts and that size the young generation", () => {
    expect(brokerNodeOptions(deploySettings({}).brokerSemiSpaceMiB)).toEqual({ NODE_OPTIONS: "--max-semi-space-size=8 --v8-pool-size=1" });
    const env = brokerNodeOptions(deploySettings({ MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB: "32" }).brokerSemiSpaceMiB);
    expect(env).toEqual({ NODE_OPTIONS: "--max-semi-space-size=32 --v8-pool-size=1" });
    // Node refuses options it does not allow in NODE_OPTIONS; this one it takes, and V8's heap limit shows it.
    const probe = "const v8=require('v8');process.stdout.write(String(v8.getHeapStatistics().total_available_size))";
    const run = (extra: Record<string, string>): number =>
      Number(execFileSync(process.execPath, ["-e", probe], { env: { PATH: process.env["PATH"] ?? "", ...extra }, encoding: "utf8" }));
    const chosen = run(env);
    const byDefault = run(brokerNodeOptions(DEFAULT_SETTINGS.brokerSemiSpaceMiB));
    // Three semi-spaces of 32 MiB against 8 MiB: the available heap is larger by tens of MiB.
    expect(chosen - byDefault).toBeGreaterThan(50 * 1024 * 1024);
  });
});

describe("brokerPorts: network load balancer listeners", () => {
  it("without a domain: MQTT on 1883 and ws:// on 80, plain TCP", () => {
    expect(brokerPorts()).toEqual([
      { listen: "1883/tcp", forward: "1883/tcp" },
      { listen: "80/tcp", forward: "8083/tcp" },
    ]);
  });

  it("with a domain: also MQTT over TLS on 8883 and wss:// on 443, TLS ending at the load balancer", () => {
    expect(brokerPorts("mqtt.example.com")).toEqual([
      { listen: "1883/tcp", forward: "1883/tcp" },
      { listen: "80/tcp", forward: "8083/tcp" },
      { listen: "8883/tls", forward: "1883/tcp" },
      { listen: "443/tls", forward: "8083/tcp" },
    ]);
    expect(brokerPorts("mqtt.example.com", { plaintext: false })).toEqual([
      { listen: "8883/tls", forward: "1883/tcp" },
      { listen: "443/tls", forward: "8083/tcp" },
    ]);
    expect(() => brokerPorts(undefined, { plaintext: false })).toThrow();
  });

  it("TLS passthrough: 8883 forwarded as TCP to the brokers' own TLS listener, wss:// still ends at the load balancer", () => {
    expect(brokerPorts("mqtt.example.com", { tlsPassthrough: true })).toEqual([
      { listen: "1883/tcp", forward: "1883/tcp" },
      { listen: "80/tcp", forward: "8083/tcp" },
      { listen: "8883/tcp", forward: "8883/tcp" },
      { listen: "443/tls", forward: "8083/tcp" },
    ]);
    expect(brokerPorts(undefined, { plaintext: false, tlsPassthrough: true })).toEqual([{ listen: "8883/tcp", forward: "8883/tcp" }]);
    expect(Object.keys(loadBalancerHealthChecks(brokerPorts(undefined, { tlsPassthrough: true }))).sort()).toEqual(["1883/tcp", "8083/tcp", "8883/tcp"]);
  });

  it("TLS passthrough: the broker's environment turns its TLS listener on, with client certificates as set", async () => {
    const env = brokerEnvironment({ auth: "allow-all", queuePrefix: "mqgate-prod", tls: { clientCerts: "required" } });
    expect(env).toMatchObject({
      MQGATE_TLS_PORT: "8883",
      MQGATE_TLS_CERT: `${TLS_DIR}/server.crt`,
      MQGATE_TLS_KEY: `${TLS_DIR}/server.key`,
      MQGATE_TLS_CA: `${TLS_DIR}/ca.crt`,
      MQGATE_TLS_CLIENT_CERTS: "required",
    });
    const config = await loadConfig({ env: { ...env, ...TASK_SECRETS } });
    expect(config.tls).toMatchObject({ port: 8883, clientCerts: "required", caFile: `${TLS_DIR}/ca.crt` });
    for (const rule of brokerPorts(undefined, { tlsPassthrough: true })) {
      expect([config.mqtt.port, config.ws.port, config.tls.port]).toContain(Number(rule.forward.split("/")[0]));
    }
    expect(brokerEnvironment({ auth: "allow-all", queuePrefix: "p", tls: { clientCerts: "off" } }).MQGATE_TLS_CA).toBeUndefined();
    expect(brokerEnvironment({ auth: "allow-all", queuePrefix: "p" }).MQGATE_TLS_PORT).toBe("off");
  });

  it("forwards only to ports the broker listens on", async () => {
    const config = await loadConfig({ env: { ...brokerEnvironment({ auth: "allow-all", queuePrefix: "mqgate-prod" }), ...TASK_SECRETS } });
    const listening = new Set([config.mqtt.port, config.ws.port]);
    for (const rule of brokerPorts("mqtt.example.com")) expect(listening.has(Number(rule.forward.split("/")[0]))).toBe(true);
  });

  it("TLS listeners accept TLS 1.2 and 1.3 only", () => {
    expect(TLS_POLICY).toMatch(/^ELBSecurityPolicy-TLS13-1-2-/);
  });

  it("health-checks every target port over TCP, within the load balancer's limits", () => {
    const checks = loadBalancerHealthChecks(brokerPorts("mqtt.example.com"));
    expect(Object.keys(checks).sort()).toEqual(["1883/tcp", "8083/tcp"]);
    for (const c of Object.values(checks)) {
      expect(c.intervalSeconds).toBeGreaterThanOrEqual(5);
      expect(c.timeoutSeconds).toBeLessThan(c.intervalSeconds);
      for (const t of [c.healthyThreshold, c.unhealthyThreshold]) expect(t >= 2 && t <= 10).toBe(true);
    }
  });
});

describe("container health check, scaling, stop timeout", () => {
  it("health check: the bundled MQTT probe, answered well within its timeout", () => {
    const h = brokerHealthCheck();
    expect(h.command).toEqual(["node", "/app/healthcheck.mjs"]);
    expect(h.timeoutSeconds).toBeGreaterThan(3); // the probe gives up after 3 s and exits 1 itself
    expect(h.intervalSeconds).toBeGreaterThan(h.timeoutSeconds);
    expect(h.retries).toBeGreaterThanOrEqual(2);
  });

  it("scaling: the operator's bounds, CPU and memory targets, slow scale-in", () => {
    const s = brokerScaling(deploySettings({}));
    expect([s.min, s.max]).toEqual([2, 10]);
    expect(s.cpuUtilization).toBeGreaterThan(0);
    expect(s.cpuUtilization).toBeLessThanOrEqual(75);
    expect(s.memoryUtilization).toBeLessThanOrEqual(80);
    expect(s.scaleInCooldownSeconds).toBeGreaterThan(s.scaleOutCooldownSeconds);
    expect(brokerScaling({ minBrokers: 1, maxBrokers: 1 })).toMatchObject({ min: 1, max: 1 });
    expect(() => brokerScaling({ minBrokers: 3, maxBrokers: 2 })).toThrow();
  });

  it("withStopTimeout sets stopTimeout on every container definition and keeps the rest", () => {
    const defs = JSON.stringify([
      { name: "Broker", image: "x", environment: [{ name: "A", value: "1" }] },
      { name: "Sidecar", stopTimeout: 2 },
    ]);
    expect(JSON.parse(withStopTimeout(defs, 25))).toEqual([
      { name: "Broker", image: "x", environment: [{ name: "A", value: "1" }], stopTimeout: 25 },
      { name: "Sidecar", stopTimeout: 25 },
    ]);
    expect(() => withStopTimeout("{}", 25)).toThrow();
  });
});

describe("node links in the deployment (decision 018)", () => {
  it("the link port is fixed, not a load balancer port, and open between broker tasks only (in and out)", () => {
    const rules = brokerPorts("mqtt.example.com", { tlsPassthrough: true });
    expect(rules.map((r) => Number(r.forward.split("/")[0]))).not.toContain(LINK_PORT);
    expect(Object.values(CONTAINER_PORTS)).not.toContain(LINK_PORT);
    const sg = brokerLinkSecurityGroup();
    for (const list of [sg.ingress, sg.egress]) {
      expect(list).toEqual([{ protocol: "tcp", fromPort: LINK_PORT, toPort: LINK_PORT, self: true, description: expect.any(String) }]);
    }
  });

  it("the link secret comes from SSM, never the plain environment; without it the broker refuses to start in the cluster", async () => {
    const env = brokerEnvironment({ auth: "allow-all", queuePrefix: "mqgate-prod" });
    expect(BROKER_SECRET_ENV).toContain("MQGATE_CLUSTER__LINK_SECRET");
    expect(Object.keys(env)).not.toContain("MQGATE_CLUSTER__LINK_SECRET");
    await expect(loadConfig({ env: { ...env, MQGATE_REDIS_URL: REDIS_URL } })).rejects.toThrow(/cluster\.linkSecret is required/);
    // The generated secret is long enough for the loader (32+ characters) and fits an environment variable.
    expect(LINK_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(LINK_SECRET.excludePunctuation).toBe(true);
  });
});
