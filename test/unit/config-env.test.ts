import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import {
  configKeyPaths,
  DEFAULTS,
  ENV_VARS,
  envNameOf,
  envValueOf,
  envVarOf,
  loadConfig,
  SHORT_ENV_VARS,
} from "../../core/config/index.js";
import { configFromEnv } from "../../core/config/env.js";
import { ConfigError } from "../../core/config/errors.js";

// Generated from the schema: every key path of configKeyPaths() (including keys added after this test was
// written) must be settable from the environment through its generated variable, and documented with it.

const docPath = path.join(import.meta.dirname, "../../docs/configuration.md");
const doc = readFileSync(docPath, "utf8");
/** The full example of docs/configuration.md: a valid value for every key (test/unit/config.test.ts checks that). */
const example = YAML.parse(/## Full example[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? "") as Record<string, unknown>;

function at(obj: unknown, keyPath: string): unknown {
  let o = obj;
  for (const k of keyPath.split(".")) o = o !== null && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined;
  return o;
}

/** A valid value for `keyPath`: the documented example's, else the default's, else a value for known kinds. */
function sample(keyPath: string): unknown {
  const v = at(example, keyPath) ?? at(DEFAULTS, keyPath);
  if (v !== undefined) return v;
  // Keys the full example cannot show: secrets, and JWT key sources (exactly one may be set).
  const others: Record<string, unknown> = {
    apiKey: "k-123",
    "auth.jwt.publicKeyFile": "/etc/mqgate/jwt-public.pem",
    "auth.jwt.secret": "0123456789abcdef0123456789abcdef",
    "auth.jwt.secretFile": "/run/secrets/jwt",
    "auth.http.headers": { "x-tenant": "fleet-1" },
    "auth.http.authorization": "Bearer s3cr3t",
  };
  if (keyPath in others) return others[keyPath];
  throw new Error(`no sample value for ${keyPath}: add it to the full example in docs/configuration.md`);
}

describe("every configuration key from the environment (generated from the schema)", () => {
  it.each(configKeyPaths())("%s", (keyPath) => {
    const spec = envVarOf(keyPath);
    expect(spec.keys).toEqual([keyPath]);
    expect(spec.name).toBe(envNameOf(keyPath));
    const value = sample(keyPath);
    const { patch, issues } = configFromEnv({ [spec.name]: envValueOf(keyPath, value) });
    expect(issues).toEqual([]);
    expect(at(patch, keyPath)).toEqual(value);
    expect(Object.keys(patch)).toEqual([keyPath.split(".")[0]]); // that key only
  });

  it("the whole documented example through generated variables loads like the example itself", async () => {
    const env: Record<string, string> = {};
    for (const keyPath of configKeyPaths()) {
      const value = at(example, keyPath);
      if (value !== undefined) env[envNameOf(keyPath)] = envValueOf(keyPath, value);
    }
    const fromEnv = await loadConfig({ env });
    const fromOverrides = await loadConfig({ env: {}, overrides: example });
    expect(fromEnv).toEqual(fromOverrides);
  });

  it("names: MQGATE_ + sections joined by __, camelCase as SNAKE_CASE; unique; the documented short names kept", () => {
    expect(envNameOf("limits.maxPacketSize")).toBe("MQGATE_LIMITS__MAX_PACKET_SIZE");
    expect(envNameOf("events.include")).toBe("MQGATE_EVENTS__INCLUDE");
    expect(envNameOf("redisUrl")).toBe("MQGATE_REDIS_URL");
    const names = ENV_VARS.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const short of ["MQGATE_MQTT_PORT", "MQGATE_WS_PORT", "MQGATE_HTTP_PORT", "MQGATE_METRICS_PORT", "MQGATE_REDIS_URL", "MQGATE_SQS_ENDPOINT", "MQGATE_API_KEY"]) {
      expect(SHORT_ENV_VARS.some((v) => v.name === short), short).toBe(true);
    }
  });

  it("lists: comma-separated or a JSON array; invalid filters named with the variable", async () => {
    const a = await loadConfig({ env: { MQGATE_EVENTS__INCLUDE: " sensors/+/temp , alerts/# " } });
    expect(a.events.include).toEqual(["sensors/+/temp", "alerts/#"]);
    const b = await loadConfig({ env: { MQGATE_EVENTS__EXCLUDE: '["$SYS/#","a,b"]' } });
    expect(b.events.exclude).toEqual(["$SYS/#", "a,b"]);
    const c = await loadConfig({ env: { MQGATE_EVENTS__INCLUDE: "[]" } });
    expect(c.events.include).toEqual([]);
    const err = await loadConfig({ env: { MQGATE_EVENTS__INCLUDE: "a/#/b", MQGATE_EVENTS__EXCLUDE: "[oops" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const messages = (err as ConfigError).issues.map((i) => i.message);
    expect(messages).toEqual([expect.stringMatching(/^MQGATE_EVENTS__INCLUDE .*got 'a\/#\/b'$/), expect.stringMatching(/^MQGATE_EVENTS__EXCLUDE must be a JSON array/)]);
  });

  it("nullable keys take off/null; numbers digits only; secrets never echoed", async () => {
    const cfg = await loadConfig({ env: { MQGATE_HTTP__PORT: "off", MQGATE_WS__PORT: "null", MQGATE_LIMITS__MAX_PACKET_SIZE: "196608" } });
    expect(cfg.http.port).toBeNull();
    expect(cfg.ws.port).toBeNull();
    expect(cfg.limits.maxPacketSize).toBe(196_608);
    const err = (await loadConfig({ env: { MQGATE_LIMITS__MAX_INFLIGHT: "1e3", MQGATE_LIMITS__MAX_QUEUED: "-1" } }).catch((e: unknown) => e)) as ConfigError;
    expect(err.issues.map((i) => i.origin)).toEqual(["MQGATE_LIMITS__MAX_INFLIGHT", "MQGATE_LIMITS__MAX_QUEUED"]);
    const secret = (await loadConfig({ env: { MQGATE_REDIS_URL: "http://user:hunter2@x" } }).catch((e: unknown) => e)) as ConfigError;
    expect(secret.message).not.toContain("hunter2");
  });

  it("a generated variable wins over the short one it overlaps (MQGATE_WS__HOST over MQGATE_HOST)", async () => {
    const cfg = await loadConfig({ env: { MQGATE_HOST: "127.0.0.1", MQGATE_WS__HOST: "::1", MQGATE_MQTT_PORT: "1884", MQGATE_MQTT__PORT: "1885" } });
    expect(cfg.mqtt.host).toBe("127.0.0.1");
    expect(cfg.ws.host).toBe("::1");
    expect(cfg.mqtt.port).toBe(1885);
  });
});

/** The generated table of docs/configuration.md: one row per key path. */
function envTable(): string {
  const rows = configKeyPaths().map((k) => {
    const spec = envVarOf(k);
    const short = SHORT_ENV_VARS.filter((v) => v.keys.includes(k) && v.name !== spec.name).map((v) => `\`${v.name}\``);
    const kind = spec.nullable === true ? `${spec.kind}, or \`off\`` : spec.kind;
    return `| \`${k}\` | \`${spec.name}\` | ${kind} | ${short.length > 0 ? short.join(", ") : "—"} |`;
  });
  return ["| File key | Generated variable | Value | Short name |", "|---|---|---|---|", ...rows].join("\n");
}

describe("docs/configuration.md", () => {
  const BEGIN = "<!-- BEGIN GENERATED ENV TABLE: MQGATE_UPDATE_DOCS=1 npx vitest run test/unit/config-env.test.ts -->";
  const END = "<!-- END GENERATED ENV TABLE -->";

  it("lists the generated variable of every key (MQGATE_UPDATE_DOCS=1 rewrites the table)", () => {
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(start, "the markers of the generated table").toBeGreaterThan(0);
    const expected = `${BEGIN}\n${envTable()}\n${END}`;
    const actual = doc.slice(start, end + END.length);
    if (actual !== expected && process.env.MQGATE_UPDATE_DOCS === "1") writeFileSync(docPath, doc.replace(actual, expected));
    else expect(actual).toBe(expected);
  });
});
