// The external backends' registry: each name builds from its own config section (loaded through the real config
// loader, environment variables included); a listed backend without its section is a startup error naming the key.
import { describe, expect, it } from "vitest";
import { createExternalBackend, isExternalBackend } from "../../core/auth/external-backends.js";
import { loadConfig, redactConfig } from "../../core/config/index.js";

describe("createExternalBackend", () => {
  it("builds each backend from its section, set from the environment", async () => {
    const cfg = await loadConfig({
      env: { MQGATE_JWT_SECRET: "k".repeat(40), MQGATE_AUTH_HTTP_URL: "http://127.0.0.1:9/auth", MQGATE_AUTH_LAMBDA_FUNCTION: "auth-fn" },
      // Part of a section from one source, the rest from another: defaults fill in only what none of them set.
      overrides: { auth: { http: { timeoutMs: 5000 } } },
    });
    expect(cfg.auth.http).toMatchObject({ url: "http://127.0.0.1:9/auth", timeoutMs: 5000, breakerFailures: 5, breakerOpenSeconds: 10 });
    expect(cfg.auth.x509).toBeUndefined();
    expect(cfg.auth.jwt).toMatchObject({ usernameClaim: "sub", requireExp: true, clockToleranceSeconds: 30 });
    for (const name of ["jwt", "http", "lambda"] as const) expect((await createExternalBackend(name, cfg.auth, { invoke: async () => ({}) })).name).toBe(name);
    expect((await createExternalBackend("x509", cfg.auth, { policyFor: () => null })).name).toBe("x509");
    expect(isExternalBackend("jwt")).toBe(true);
    expect(isExternalBackend("store")).toBe(false);
  });

  it("a listed backend without its section names the key to set", async () => {
    const cfg = await loadConfig({ env: {} });
    await expect(createExternalBackend("http", cfg.auth)).rejects.toThrow(/auth\.http\.url/);
    await expect(createExternalBackend("jwt", cfg.auth)).rejects.toThrow(/MQGATE_JWT_JWKS_URL/);
    await expect(createExternalBackend("lambda", cfg.auth)).rejects.toThrow(/auth\.lambda\.functionName/);
    await expect(createExternalBackend("x509", cfg.auth)).rejects.toThrow(/rulesFile/);
  });

  it("the config rejects a JWT section with no key source or two, and client certificates without a CA", async () => {
    await expect(loadConfig({ env: {}, overrides: { auth: { jwt: { issuer: "x" } } } })).rejects.toThrow(/exactly one key source/);
    await expect(loadConfig({ env: { MQGATE_JWT_SECRET: "k".repeat(40), MQGATE_JWT_JWKS_URL: "https://i/jwks" } })).rejects.toThrow(/exactly one key source/);
    await expect(loadConfig({ env: { MQGATE_JWT_SECRET: "short" } })).rejects.toThrow(/at least 32/);
    await expect(loadConfig({ env: { MQGATE_TLS_CLIENT_CERTS: "required" } })).rejects.toThrow(/tls\.caFile/);
  });

  it("redactConfig masks the JWT secret and the authorizer's credentials", async () => {
    const cfg = await loadConfig({
      env: { MQGATE_JWT_SECRET: "k".repeat(40), MQGATE_AUTH_HTTP_URL: "https://a/auth", MQGATE_AUTH_HTTP_AUTHORIZATION: "Bearer topsecret" },
      overrides: { auth: { http: { headers: { "x-api-key": "hidden-key" } } } },
    });
    const shown = JSON.stringify(redactConfig(cfg));
    for (const secret of ["k".repeat(40), "topsecret", "hidden-key"]) expect(shown).not.toContain(secret);
    expect(cfg.auth.jwt?.secret).toBe("k".repeat(40));
  });

  it("a secret is never echoed in a config error", async () => {
    const err = await loadConfig({ env: { MQGATE_JWT_SECRET: "tiny-secret-value" } }).catch((e: unknown) => e);
    expect(String(err)).not.toContain("tiny-secret-value");
  });
});
