import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import {
  CONFIG_FILE_ENV,
  ConfigError,
  configKeyPaths,
  configSchema,
  DEFAULTS,
  ENV_VARS,
  loadConfig,
  loadConfigSync,
  redactConfig,
  type DeepPartial,
  type MqgateConfig,
} from "../../core/config/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "mqgate-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function tempFile(ext: string, content: string): string {
  const file = path.join(dir, `config-${n++}${ext}`);
  writeFileSync(file, content);
  return file;
}

/** Loads with an empty environment unless given, and returns the ConfigError it throws. */
async function configError(opts: Parameters<typeof loadConfig>[0]): Promise<ConfigError> {
  const err: unknown = await loadConfig({ env: {}, ...opts }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe("defaults", () => {
  it("matches DEFAULTS with a computed nodeId", async () => {
    const cfg = await loadConfig({ env: {} });
    expect(cfg).toEqual({ ...DEFAULTS, nodeId: cfg.nodeId });
    // hostname-pid-random: unique even where every container runs as pid 1 on a reused host name.
    expect(cfg.nodeId).toMatch(new RegExp(`^${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-${process.pid}-[0-9a-f]{6}$`));
    expect((await loadConfig({ env: {} })).nodeId).not.toBe(cfg.nodeId);
    expect(cfg.mqtt).toEqual({ host: "0.0.0.0", port: 1883 });
    expect(cfg.tls).toEqual({ host: "0.0.0.0", port: null, clientCerts: "off" });
    expect(cfg.ws).toEqual({ host: "0.0.0.0", port: 8083, path: "/mqtt" });
    expect(cfg.http).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(cfg.metrics).toEqual({ host: "0.0.0.0", port: null });
    expect(cfg.limits.maxPacketSize).toBe(1_048_576);
    expect(cfg.limits.queueDropPolicy).toBe("oldest");
    expect(cfg.auth).toEqual({ mode: "allow-all", hashConcurrency: 2, maxPendingAuth: 10_000, maxAuthWaitMs: 5000, cacheSeconds: 300, cacheMaxEntries: 100_000 });
    expect(cfg.sysIntervalSeconds).toBe(10);
    expect(cfg.log.level).toBe("info");
    expect(cfg.shutdown.drainMs).toBe(10_000);
    expect(cfg.redisUrl).toBeUndefined();
  });

  it("DEFAULTS are frozen and each load returns a fresh object", async () => {
    expect(Object.isFrozen(DEFAULTS.limits)).toBe(true);
    const a = await loadConfig({ env: {} });
    a.limits.maxInflight = 1;
    const b = await loadConfig({ env: {} });
    expect(b.limits.maxInflight).toBe(32);
    expect(DEFAULTS.limits.maxInflight).toBe(32);
  });

  it("DEFAULTS (with a nodeId) satisfy the full schema", () => {
    expect(configSchema.safeParse({ ...DEFAULTS, nodeId: "n1" }).success).toBe(true);
  });

  it("schema types match MqgateConfig", () => {
    expectTypeOf<z.output<typeof configSchema>>().toEqualTypeOf<MqgateConfig>();
  });

  it("sync variant gives the same result", async () => {
    const file = tempFile(".yaml", "limits:\n  maxInflight: 7\n");
    const opts = { env: { MQGATE_MQTT_PORT: "0", MQGATE_NODE_ID: "fixed" }, file };
    expect(loadConfigSync(opts)).toEqual(await loadConfig(opts));
  });
});

describe("config file", () => {
  it("reads JSON", async () => {
    const file = tempFile(".json", JSON.stringify({ nodeId: "json-node", mqtt: { port: 0 }, limits: { maxInflight: 10 } }));
    const cfg = await loadConfig({ env: {}, file });
    expect(cfg.nodeId).toBe("json-node");
    expect(cfg.mqtt).toEqual({ host: "0.0.0.0", port: 0 });
    expect(cfg.limits.maxInflight).toBe(10);
    expect(cfg.limits.maxQueued).toBe(1000);
  });

  it("reads YAML (.yaml and .yml), null turns a listener off", async () => {
    const yaml = [
      "nodeId: yaml-node",
      "ws:",
      "  port: ~",
      "metrics:",
      "  port: 9100",
      "limits:",
      "  queueDropPolicy: newest",
      "log:",
      "  level: debug",
    ].join("\n");
    for (const ext of [".yaml", ".yml"]) {
      const cfg = await loadConfig({ env: {}, file: tempFile(ext, yaml) });
      expect(cfg.nodeId).toBe("yaml-node");
      expect(cfg.ws).toEqual({ host: "0.0.0.0", port: null, path: "/mqtt" });
      expect(cfg.metrics.port).toBe(9100);
      expect(cfg.limits.queueDropPolicy).toBe("newest");
      expect(cfg.log.level).toBe("debug");
    }
  });

  it("takes the path from MQGATE_CONFIG; opts.file wins over it", async () => {
    const a = tempFile(".yaml", "nodeId: from-env-path\n");
    const b = tempFile(".yaml", "nodeId: from-opts\n");
    expect((await loadConfig({ env: { [CONFIG_FILE_ENV]: a } })).nodeId).toBe("from-env-path");
    expect((await loadConfig({ env: { [CONFIG_FILE_ENV]: a }, file: b })).nodeId).toBe("from-opts");
  });

  it("an empty YAML file is an empty configuration", async () => {
    const cfg = await loadConfig({ env: {}, file: tempFile(".yaml", "# nothing\n") });
    expect(cfg.limits).toEqual(DEFAULTS.limits);
  });

  it("resolves relative file paths against the config file's directory", async () => {
    const file = tempFile(
      ".yaml",
      "tls:\n  port: 8883\n  certFile: certs/server.crt\n  keyFile: /abs/server.key\nauth:\n  mode: acl\n  aclFile: acl.yaml\n",
    );
    const cfg = await loadConfig({ env: {}, file });
    expect(cfg.tls.certFile).toBe(path.join(dir, "certs/server.crt"));
    expect(cfg.tls.keyFile).toBe("/abs/server.key");
    expect(cfg.auth.aclFile).toBe(path.join(dir, "acl.yaml"));
  });

  it("unknown key → error naming the key path, with a suggestion", async () => {
    const file = tempFile(".yaml", "limits:\n  maxInflite: 5\n");
    const err = await configError({ file });
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ source: "file", origin: file, keyPath: "limits.maxInflite" });
    expect(err.message).toContain(`${file}: unknown key 'limits.maxInflite' (did you mean 'limits.maxInflight'?)`);
  });

  it("unknown top-level key without a close match lists accepted keys", async () => {
    const err = await configError({ file: tempFile(".json", '{"bogusSection": {}}') });
    expect(err.message).toContain("unknown key 'bogusSection' (accepted at the top level: nodeId,");
  });

  it("reports invalid values with file and key path", async () => {
    const file = tempFile(".yaml", "mqtt:\n  port: 70000\nlimits:\n  maxPacketSize: 10\n");
    const err = await configError({ file });
    expect(err.message).toContain(`${file}: mqtt.port must be an integer 0..65535 or null (off), got 70000`);
    expect(err.message).toContain(`${file}: limits.maxPacketSize must be an integer 64..268435455, got 10`);
  });

  it("reports YAML syntax errors with file and position", async () => {
    const file = tempFile(".yaml", "mqtt:\n  port: [1\n  host: x\n");
    const err = await configError({ file });
    expect(err.issues[0]?.message).toMatch(new RegExp(`^${file.replace(/[.\\]/g, "\\$&")}: invalid YAML: .*line \\d+, column \\d+`));
  });

  it("reports JSON syntax errors, missing files, bad extensions, non-mapping content", async () => {
    const bad = tempFile(".json", '{"mqtt": }');
    expect((await configError({ file: bad })).message).toContain(`${bad}: invalid JSON`);
    const missing = path.join(dir, "nope.yaml");
    expect((await configError({ file: missing })).message).toContain(`${missing}: config file not found`);
    const toml = tempFile(".toml", "a = 1");
    expect((await configError({ file: toml })).message).toContain("unsupported config file extension '.toml'");
    const list = tempFile(".yaml", "- 1\n- 2\n");
    expect((await configError({ file: list })).message).toContain("must contain a mapping of configuration keys at the top level, got a list");
    const scalarSection = tempFile(".yaml", "limits: 5\n");
    expect((await configError({ file: scalarSection })).message).toContain("limits must be a mapping of keys, got 5");
  });

  it("rejects duplicate YAML keys", async () => {
    const err = await configError({ file: tempFile(".yaml", "nodeId: a\nnodeId: b\n") });
    expect(err.message).toContain("invalid YAML: Map keys must be unique");
  });
});

describe("precedence", () => {
  it("env over file", async () => {
    const file = tempFile(".yaml", "nodeId: file\nmqtt:\n  host: 10.0.0.1\n  port: 1000\nlimits:\n  maxInflight: 5\n  maxQueued: 50\n");
    const cfg = await loadConfig({ file, env: { MQGATE_MQTT_PORT: "2000", MQGATE_MAX_INFLIGHT: "6", MQGATE_HOST: "127.0.0.1" } });
    expect(cfg.nodeId).toBe("file");
    expect(cfg.mqtt).toEqual({ host: "127.0.0.1", port: 2000 });
    expect(cfg.limits.maxInflight).toBe(6);
    expect(cfg.limits.maxQueued).toBe(50);
  });

  it("MQGATE_HOST sets the host of every listener", async () => {
    const cfg = await loadConfig({ env: { MQGATE_HOST: "127.0.0.1" } });
    for (const l of [cfg.mqtt, cfg.tls, cfg.ws, cfg.http, cfg.metrics]) expect(l.host).toBe("127.0.0.1");
  });

  it("overrides over env, deep-merged", async () => {
    const cfg = await loadConfig({
      env: { MQGATE_MQTT_PORT: "2000", MQGATE_MAX_INFLIGHT: "6", MQGATE_LOG_LEVEL: "warn" },
      overrides: { mqtt: { port: 0 }, limits: { maxInflight: 9 } },
    });
    expect(cfg.mqtt).toEqual({ host: "0.0.0.0", port: 0 });
    expect(cfg.limits.maxInflight).toBe(9);
    expect(cfg.limits.maxQueued).toBe(1000);
    expect(cfg.log.level).toBe("warn");
  });

  it("undefined in overrides leaves the lower layer's value", async () => {
    const cfg = await loadConfig({ env: { MQGATE_NODE_ID: "env-node" }, overrides: { nodeId: undefined } });
    expect(cfg.nodeId).toBe("env-node");
  });

  it("overrides are validated like a file", async () => {
    const err = await configError({
      overrides: { limits: { maxInflight: 0 }, mqtt: { prot: 1 } } as unknown as DeepPartial<MqgateConfig>,
    });
    expect(err.message).toContain("overrides: limits.maxInflight must be an integer 1..65535, got 0");
    expect(err.message).toContain("overrides: unknown key 'mqtt.prot' (did you mean 'mqtt.port'?)");
  });
});

describe("environment variables", () => {
  it("maps every documented variable", async () => {
    const cfg = await loadConfig({
      env: {
        MQGATE_NODE_ID: "n-1",
        MQGATE_HOST: "::",
        MQGATE_MQTT_PORT: "1884",
        MQGATE_TLS_PORT: "8884",
        MQGATE_TLS_CERT: "/c.pem",
        MQGATE_TLS_KEY: "/k.pem",
        MQGATE_TLS_CA: "/ca.pem",
        MQGATE_WS_PORT: "8084",
        MQGATE_HTTP_PORT: "8081",
        MQGATE_METRICS_PORT: "9100",
        MQGATE_REDIS_URL: "redis://:pw@localhost:6379/0",
        MQGATE_SQS_ENDPOINT: "http://localhost:9324",
        MQGATE_API_KEY: "secret",
        MQGATE_LOG_LEVEL: "trace",
        MQGATE_AUTH_MODE: "acl",
        MQGATE_ACL_FILE: "/acl.yaml",
        MQGATE_MAX_PACKET_SIZE: "2048",
        MQGATE_MAX_CONNECTIONS: "10",
        MQGATE_MAX_INFLIGHT: "3",
        MQGATE_MAX_QUEUED: "0",
        MQGATE_QUEUE_DROP_POLICY: "newest",
        MQGATE_SYS_INTERVAL: "0",
        MQGATE_DRAIN_MS: " 500 ",
        MQGATE_CLUSTER__LINK_SECRET: "0123456789abcdef0123456789abcdef",
      },
    });
    expect(cfg).toMatchObject({
      nodeId: "n-1",
      mqtt: { host: "::", port: 1884 },
      tls: { host: "::", port: 8884, certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem" },
      ws: { host: "::", port: 8084, path: "/mqtt" },
      http: { host: "::", port: 8081 },
      metrics: { host: "::", port: 9100 },
      redisUrl: "redis://:pw@localhost:6379/0",
      sqsEndpoint: "http://localhost:9324",
      apiKey: "secret",
      log: { level: "trace" },
      auth: { mode: "acl", aclFile: "/acl.yaml" },
      limits: { maxPacketSize: 2048, maxConnections: 10, maxInflight: 3, maxQueued: 0, queueDropPolicy: "newest" },
      sysIntervalSeconds: 0,
      shutdown: { drainMs: 500 },
    });
  });

  it("MQGATE_METRICS_PORT=0 → null (off); other ports 0 = free port", async () => {
    const cfg = await loadConfig({ env: { MQGATE_METRICS_PORT: "0", MQGATE_MQTT_PORT: "0", MQGATE_HTTP_PORT: "0" } });
    expect(cfg.metrics.port).toBeNull();
    expect(cfg.mqtt.port).toBe(0);
    expect(cfg.http.port).toBe(0);
  });

  it("'off' and '' turn any listener off", async () => {
    const cfg = await loadConfig({
      env: { MQGATE_MQTT_PORT: "off", MQGATE_WS_PORT: "", MQGATE_HTTP_PORT: "OFF", MQGATE_METRICS_PORT: "off" },
      file: tempFile(".yaml", "metrics:\n  port: 9100\n"),
    });
    expect(cfg.mqtt.port).toBeNull();
    expect(cfg.ws.port).toBeNull();
    expect(cfg.http.port).toBeNull();
    expect(cfg.metrics.port).toBeNull();
  });

  it("empty non-port variables are treated as unset", async () => {
    const cfg = await loadConfig({ env: { MQGATE_LOG_LEVEL: "", MQGATE_REDIS_URL: " ", MQGATE_CONFIG: "" } });
    expect(cfg.log.level).toBe("info");
    expect(cfg.redisUrl).toBeUndefined();
  });

  it("bad values name the variable and the accepted values", async () => {
    const err = await configError({
      env: {
        MQGATE_MQTT_PORT: "abc",
        MQGATE_WS_PORT: "70000",
        MQGATE_METRICS_PORT: "-1",
        MQGATE_MAX_INFLIGHT: "0",
        MQGATE_MAX_QUEUED: "1.5",
        MQGATE_MAX_PACKET_SIZE: "lots",
        MQGATE_QUEUE_DROP_POLICY: "random",
        MQGATE_LOG_LEVEL: "verbose",
        MQGATE_AUTH_MODE: "none",
        MQGATE_REDIS_URL: "http://user:hunter2@host",
        MQGATE_NODE_ID: "a/b",
      },
    });
    const lines = err.issues.map((i) => i.message);
    expect(lines).toEqual([
      "MQGATE_NODE_ID must be 1..128 characters without whitespace, control characters, '/', '+' or '#', got 'a/b'",
      "MQGATE_MQTT_PORT must be an integer 0..65535 or 'off', got 'abc'",
      "MQGATE_WS_PORT must be an integer 0..65535 or 'off', got '70000'",
      "MQGATE_METRICS_PORT must be an integer 0..65535 or 'off' (0 = off), got '-1'",
      "MQGATE_REDIS_URL must be a redis:// or rediss:// URL",
      "MQGATE_LOG_LEVEL must be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent', got 'verbose'",
      "MQGATE_AUTH_MODE must be one of 'allow-all', 'acl', got 'none'",
      "MQGATE_MAX_PACKET_SIZE must be an integer 64..268435455, got 'lots'",
      "MQGATE_MAX_INFLIGHT must be an integer 1..65535, got '0'",
      "MQGATE_MAX_QUEUED must be an integer 0..2147483647, got '1.5'",
      "MQGATE_QUEUE_DROP_POLICY must be one of 'oldest', 'newest', got 'random'",
    ]);
    expect(err.issues.every((i) => i.source === "env")).toBe(true);
    expect(err.message).not.toContain("hunter2");
  });
});

describe("errors", () => {
  it("reports problems of file, env and overrides together", async () => {
    const file = tempFile(".yaml", "mqtt:\n  port: -1\n  hots: x\nlimits:\n  maxQueued: -5\n");
    const err = await configError({
      file,
      env: { MQGATE_HTTP_PORT: "http" },
      overrides: { log: { level: "loud" } } as unknown as DeepPartial<MqgateConfig>,
    });
    expect(err.name).toBe("ConfigError");
    expect(err.issues.map((i) => [i.source, i.keyPath])).toEqual([
      ["file", "mqtt.port"],
      ["file", "mqtt.hots"],
      ["file", "limits.maxQueued"],
      ["env", "http.port"],
      ["overrides", "log.level"],
    ]);
    expect(err.message).toMatch(/^Invalid mqgate configuration \(5 problems\):\n {2}- /);
    expect(err.message).toContain(`${file}: limits.maxQueued must be an integer 0..2147483647, got -5`);
  });

  it("TLS port without cert and key", async () => {
    const err = await configError({ env: { MQGATE_TLS_PORT: "8883" } });
    expect(err.issues.map((i) => [i.source, i.keyPath])).toEqual([
      ["config", "tls.certFile"],
      ["config", "tls.keyFile"],
    ]);
    expect(err.message).toContain("tls.certFile is required when tls.port is set (tls.port is 8883); set tls.certFile or MQGATE_TLS_CERT");
  });

  it("acl mode without aclFile, aclFile with allow-all", async () => {
    expect((await configError({ overrides: { auth: { mode: "acl" } } })).message).toContain(
      "auth.aclFile is required when auth.mode is 'acl'",
    );
    expect((await configError({ env: { MQGATE_ACL_FILE: "/acl.yaml" } })).message).toContain(
      "auth.mode is 'allow-all' but auth.aclFile is set",
    );
  });

  it("two listeners on the same fixed port", async () => {
    const err = await configError({ overrides: { ws: { port: 1883 } } });
    expect(err.message).toContain("ws.port is 1883, the same port as mqtt.port");
    // Port 0 (free port) never clashes; different specific hosts do not clash.
    await expect(
      loadConfig({ env: {}, overrides: { mqtt: { port: 0 }, ws: { port: 0 }, http: { host: "127.0.0.1", port: 9000 }, metrics: { host: "127.0.0.2", port: 9000 } } }),
    ).resolves.toBeDefined();
  });

  it("rejects non-integers and out-of-range values", async () => {
    const err = await configError({
      overrides: {
        limits: { maxInflight: 1.5, maxTopicLevels: 2000, maxClientIdLength: 22, connectTimeoutMs: 50, maxKeepaliveSeconds: 70000 },
        ws: { path: "mqtt" },
        sqsEndpoint: "localhost:9324",
      },
    });
    expect(err.issues.map((i) => i.keyPath).sort()).toEqual(
      [
        "ws.path",
        "limits.maxInflight",
        "limits.maxTopicLevels",
        "limits.maxClientIdLength",
        "limits.connectTimeoutMs",
        "limits.maxKeepaliveSeconds",
        "sqsEndpoint",
      ].sort(),
    );
    expect(err.issues).toHaveLength(7);
  });
});

describe("helpers and documentation", () => {
  it("a cluster with node links needs a link secret of 32+ characters; links off or a single node needs none", async () => {
    const clustered = { MQGATE_REDIS_URL: "redis://localhost:6379", MQGATE_SQS_ENDPOINT: "http://localhost:9324" };
    const missing = await configError({ env: clustered });
    expect(missing.message).toContain("cluster.linkSecret is required for node links in a cluster");
    expect(missing.message).toContain("MQGATE_CLUSTER__LINK_SECRET");
    const short = await configError({ env: { ...clustered, MQGATE_CLUSTER__LINK_SECRET: "hunter2" } });
    expect(short.message).toContain("MQGATE_CLUSTER__LINK_SECRET must be a string of at least 32 characters");
    expect(short.message).not.toContain("hunter2");
    expect((await loadConfig({ env: { ...clustered, MQGATE_CLUSTER__LINKS: "false" } })).cluster.links).toBe(false);
    expect((await loadConfig({ env: { MQGATE_REDIS_URL: "redis://localhost:6379" } })).cluster.linkSecret).toBeUndefined();
    const ok = await loadConfig({ env: { ...clustered, MQGATE_CLUSTER__LINK_SECRET: "s".repeat(40), MQGATE_CLUSTER__LINK_PORT: "7946" } });
    expect(ok.cluster).toMatchObject({ links: true, linkPort: 7946, linkHost: "0.0.0.0", linkAckTimeoutMs: 1000 });
    expect(redactConfig(ok).cluster.linkSecret).toBe("[redacted]");
  });

  it("redactConfig masks secrets", async () => {
    const cfg = await loadConfig({ env: { MQGATE_API_KEY: "k", MQGATE_REDIS_URL: "rediss://u:pw@r:6380" } });
    const red = redactConfig(cfg);
    expect(red.apiKey).toBe("[redacted]");
    expect(red.redisUrl).toBe("rediss://u:redacted@r:6380");
    expect(cfg.apiKey).toBe("k");
  });

  const doc = readFileSync(path.join(import.meta.dirname, "../../docs/configuration.md"), "utf8");

  it("the full example in docs/configuration.md is valid and sets every key", async () => {
    const yaml = /## Full example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    const file = tempFile(".yaml", yaml ?? "");
    const cfg = await loadConfig({ env: {}, file });
    expect(cfg.tls.port).toBe(8883);
    expect(cfg.auth.aclFile).toBe(path.join(dir, "acl.yaml"));
    // Secrets belong in the environment; the JWT key sources are alternatives (the example uses jwksUrl); header
    // maps have no fixed keys.
    const notInExample = new Set(["apiKey", "auth.jwt.secret", "auth.jwt.secretFile", "auth.jwt.publicKeyFile", "auth.http.authorization", "auth.http.headers"]);
    const keysInExample = configKeyPaths().filter((k) => !notInExample.has(k));
    const flat = (o: object, prefix = ""): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v !== null && typeof v === "object" && !Array.isArray(v) ? flat(v as object, `${prefix}${k}.`) : [`${prefix}${k}`],
      );
    expect(flat(cfg).sort()).toEqual(keysInExample.sort());
  });

  it("docs/configuration.md mentions every key path and every variable", () => {
    for (const key of configKeyPaths()) expect(doc, key).toContain(`\`${key}\``);
    for (const v of [CONFIG_FILE_ENV, ...ENV_VARS.map((e) => e.name)]) expect(doc, v).toContain(`\`${v}\``);
  });
});
