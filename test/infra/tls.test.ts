// TLS passthrough's key material (infra/plan/tls.ts): the secrets are checked before a deploy, and the shell that
// runs before the broker writes them to owner-only files and removes them from the environment. The script runs
// here for real, with `sh`, in a temporary directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BROKER_COMMAND, brokerEnvironment, TLS_DIR } from "../../infra/plan/broker.js";
import { TLS_PEM_ENV, TLS_RUNTIME_DIR, tlsBrokerCommand, tlsSecretKeys, tlsSecretProblem, tlsSetupScript } from "../../infra/plan/tls.js";
import { issue, makeCa } from "../helpers/pki.js";

const dir = mkdtempSync(join(tmpdir(), "mqgate-tls-plan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = makeCa(dir, "ca");
const server = issue(dir, ca, "server", "/CN=broker.test", ["DNS:broker.test"], "serverAuth");
const pem = { cert: readFileSync(server.certFile, "utf8"), key: readFileSync(server.keyFile, "utf8"), ca: readFileSync(ca.certFile, "utf8") };

describe("TLS passthrough key material", () => {
  it("the secrets must be PEM of the right kind; the value is never echoed", () => {
    expect(tlsSecretProblem("cert", pem.cert)).toBeUndefined();
    expect(tlsSecretProblem("cert", pem.cert + pem.ca)).toBeUndefined(); // a chain
    expect(tlsSecretProblem("key", pem.key)).toBeUndefined();
    expect(tlsSecretProblem("ca", pem.ca)).toBeUndefined();
    expect(tlsSecretProblem("cert", pem.key)).toMatch(/certificates only/);
    expect(tlsSecretProblem("key", pem.cert)).toMatch(/private key/);
    expect(tlsSecretProblem("key", "hunter2")).toMatch(/not PEM/);
    expect(tlsSecretProblem("key", "hunter2") ?? "").not.toContain("hunter2");
    expect(tlsSecretKeys("off")).toEqual(["cert", "key"]);
    expect(tlsSecretKeys("required")).toEqual(["cert", "key", "ca"]);
  });

  it("the setup script writes owner-only files the broker's TLS settings point at, and unsets the variables", () => {
    const out = join(dir, "run");
    const script = `${tlsSetupScript(["cert", "key", "ca"], out)}\nenv | grep -c '^MQGATE_TLS_.*_PEM=' || true`;
    const stdout = execFileSync("sh", ["-c", script], {
      env: { PATH: process.env.PATH, [TLS_PEM_ENV.cert]: pem.cert, [TLS_PEM_ENV.key]: pem.key, [TLS_PEM_ENV.ca]: pem.ca },
      encoding: "utf8",
    });
    expect(stdout.trim()).toBe("0");
    expect(readFileSync(join(out, "server.key"), "utf8").trim()).toBe(pem.key.trim());
    expect(readFileSync(join(out, "server.crt"), "utf8").trim()).toBe(pem.cert.trim());
    expect(readFileSync(join(out, "ca.crt"), "utf8").trim()).toBe(pem.ca.trim());
    expect(statSync(join(out, "server.key")).mode & 0o777).toBe(0o600);
    // A missing variable stops the task instead of starting a broker without its key (set -u).
    expect(() => execFileSync("sh", ["-c", tlsSetupScript(["key"], join(dir, "run2"))], { env: { PATH: process.env.PATH }, stdio: "pipe" })).toThrow();
  });

  it("the command ends by exec-ing exactly the image's command; the files are where the broker's environment points", () => {
    const cmd = tlsBrokerCommand(["cert", "key"]);
    expect(cmd.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(cmd[2]!.endsWith(`\nexec ${BROKER_COMMAND.join(" ")}`)).toBe(true);
    expect(TLS_RUNTIME_DIR).toBe(TLS_DIR);
    const env = brokerEnvironment({ auth: "allow-all", queuePrefix: "p", tls: { clientCerts: "required" } });
    expect([env.MQGATE_TLS_CERT, env.MQGATE_TLS_KEY, env.MQGATE_TLS_CA]).toEqual([`${TLS_DIR}/server.crt`, `${TLS_DIR}/server.key`, `${TLS_DIR}/ca.crt`]);
  });
});
