// Configuration errors end up in logs and CI output: no secret value may appear in them, wherever it was set (an
// environment variable, a file, an override), and no URL's password. redactConfig, the copy meant for logs, the same.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, redactConfig } from "../../core/config/index.js";
import { isSecretKey, maskUrlPasswords } from "../../core/config/secrets.js";

const dir = mkdtempSync(path.join(tmpdir(), "mqgate-config-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(opts: Parameters<typeof loadConfig>[0]): Promise<ConfigError> {
  const err = await loadConfig(opts).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe("configuration errors never show a secret", () => {
  it("a header value of the HTTP authorizer, from a file, is not echoed when it is refused", async () => {
    const file = path.join(dir, "headers.json");
    const config = { auth: { http: { url: "https://auth.example/check", headers: { "x-api-key": "s3cr3t-header\nvalue" } } } };
    writeFileSync(file, JSON.stringify(config));
    const err = await failure({ env: {}, file });
    expect(err.issues.map((i) => i.keyPath)).toEqual(["auth.http.headers.x-api-key"]);
    expect(err.message).toContain("without line breaks");
    expect(err.message).not.toContain("s3cr3t");
  });

  it("the authorizer's headers as JSON in the environment are not echoed when the JSON is broken", async () => {
    const err = await failure({ env: { MQGATE_AUTH__HTTP__HEADERS: '{"x-api-key": "s3cr3t",' } });
    expect(err.issues.map((i) => i.origin)).toEqual(["MQGATE_AUTH__HTTP__HEADERS"]);
    expect(err.message).not.toContain("s3cr3t");
  });

  it("a URL's password is masked in the message of a URL that is refused, from the environment or a file", async () => {
    const fromEnv = await failure({ env: { MQGATE_EVENTS_QUEUE_URL: "ftp://svc:hunter2@sqs.example/q" } });
    expect(fromEnv.message).toContain("ftp://svc:***@sqs.example/q");
    expect(fromEnv.message).not.toContain("hunter2");
    const file = path.join(dir, "endpoint.json");
    writeFileSync(file, JSON.stringify({ sqsEndpoint: "ftp://svc:hunter2@sqs.example" }));
    const fromFile = await failure({ env: {}, file });
    expect(fromFile.issues.map((i) => i.keyPath)).toEqual(["sqsEndpoint"]);
    expect(fromFile.message).not.toContain("hunter2");
  });

  it("a port given as a URL with a password is refused without the password", async () => {
    const err = await failure({ env: { MQGATE_MQTT_PORT: "tcp://u:hunter2@h:1" } });
    expect(err.message).toContain("MQGATE_MQTT_PORT");
    expect(err.message).not.toContain("hunter2");
  });
});

describe("which keys are secret", () => {
  it("the listed keys and every key under them, and keys named for a secret anywhere", () => {
    for (const k of ["apiKey", "redisUrl", "cluster.linkSecret", "auth.jwt.secret", "auth.http.authorization", "auth.http.headers", "auth.http.headers.x-api-key"]) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of ["auth.jwt.secretFile", "some.section.password", "x.accessToken"]) expect(isSecretKey(k), k).toBe(true);
    for (const k of ["sqsEndpoint", "auth.http.url", "limits.maxPacketSize", "apiKeys", "auth.jwt.jwksUrl"]) expect(isSecretKey(k), k).toBe(false);
    // A limit named for a secret is a number: `auth.jwt.maxTokenBytes` is shown; a listed key stays secret whatever its name.
    for (const k of ["auth.jwt.maxTokenBytes", "x.tokenTtlSeconds"]) expect(isSecretKey(k), k).toBe(false);
  });

  it("a refused limit named for a secret is echoed, so the operator sees what was wrong", async () => {
    const err = await failure({ env: { MQGATE_AUTH__JWT__MAX_TOKEN_BYTES: "12kb" } });
    expect(err.issues.map((i) => i.origin)).toEqual(["MQGATE_AUTH__JWT__MAX_TOKEN_BYTES"]);
    expect(err.message).toContain("12kb");
  });

  it("maskUrlPasswords masks the password of each URL in a text and leaves the rest", () => {
    expect(maskUrlPasswords("a rediss://u:p%40ss@r:6380/0 and https://x:y@h/p?q=1")).toBe("a rediss://u:***@r:6380/0 and https://x:***@h/p?q=1");
    expect(maskUrlPasswords("https://user@h/ and http://h:8080/a@b")).toBe("https://user@h/ and http://h:8080/a@b");
    expect(maskUrlPasswords("redis://u:p@ss@host:1/0")).toBe("redis://u:***@host:1/0");
  });
});

describe("redactConfig", () => {
  it("replaces the password of every URL key and keeps the URLs usable to read", async () => {
    const cfg = await loadConfig({
      env: {
        MQGATE_REDIS_URL: "rediss://u:pw1@r:6380",
        MQGATE_SQS_ENDPOINT: "https://k:pw2@sqs.local:9324",
        MQGATE_EVENTS_QUEUE_URL: "https://k:pw3@sqs.local/1/events.fifo",
        MQGATE_JWT_JWKS_URL: "https://k:pw4@issuer.example/jwks",
        MQGATE_AUTH_HTTP_URL: "https://k:pw5@auth.example/check",
        MQGATE_CLUSTER__LINK_SECRET: "pw6".repeat(11),
      },
    });
    const shown = JSON.stringify(redactConfig(cfg));
    for (const pw of ["pw1", "pw2", "pw3", "pw4", "pw5", "pw6"]) expect(shown).not.toContain(pw);
    const red = redactConfig(cfg);
    expect(red.redisUrl).toBe("rediss://u:redacted@r:6380");
    expect(red.sqsEndpoint).toBe("https://k:redacted@sqs.local:9324/");
    expect(red.auth.http?.url).toBe("https://k:redacted@auth.example/check");
    expect(red.cluster.linkSecret).toBe("[redacted]");
    expect(cfg.auth.http?.url).toBe("https://k:pw5@auth.example/check");
  });
});
