// X.509 client certificates (issue 15): a CA, a server certificate and device certificates generated here with
// the openssl CLI; the broker's TLS listener verifies them (tls.clientCerts) and the x509 backend names the client
// after the certificate. A valid device connects and gets its rules; no certificate when required, or one from
// another CA, fails the TLS handshake; optional mode lets certificate-less clients on to the next backend.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import mqtt from "mqtt";
import { generate } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAclAuth } from "../../core/auth/acl.js";
import { hashPassword } from "../../core/auth/password.js";
import { backendAsAuth } from "../../core/auth/backend-auth.js";
import type { AuthRequest } from "../../core/auth/backend.js";
import { certificateIdentity, createX509Backend, loadX509Rules } from "../../core/auth/x509.js";
import { fieldSchema } from "../../core/config/schema.js";
import type { X509AuthConfig } from "../../core/config/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { issue, makeCa, type Issued } from "../helpers/pki.js";

function x509Config(fields: Partial<X509AuthConfig> = {}): X509AuthConfig {
  return fieldSchema("auth.x509").parse(fields) as X509AuthConfig;
}

let dir: string;
let ca: Issued;
let server: Issued;
let device1: Issued;
let device2: Issued;
let rogue: Issued;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "mqgate-x509-"));
  ca = makeCa(dir, "fleet-ca");
  server = issue(dir, ca, "server", "/CN=broker.test", ["DNS:broker.test", "IP:127.0.0.1"], "serverAuth");
  device1 = issue(dir, ca, "device-1", "/O=Fleet/CN=device-1", ["URI:spiffe://fleet/device-1", "DNS:device-1.fleet"], "clientAuth");
  device2 = issue(dir, ca, "device-2", "/CN=device-2", [], "clientAuth");
  const otherCa = makeCa(dir, "other-ca");
  rogue = issue(dir, otherCa, "rogue", "/CN=device-1", [], "clientAuth");
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function mqtts(b: TestBroker, client: Issued | undefined, clientId: string, username?: string) {
  return mqtt.connectAsync(`mqtts://127.0.0.1:${b.port("tls")}`, {
    clientId,
    ...(username !== undefined ? { username, password: "x" } : {}),
    reconnectPeriod: 0,
    connectTimeout: 3000,
    ca: readFileSync(ca.certFile),
    servername: "broker.test",
    ...(client !== undefined ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
  });
}

/**
 * A TLS connection that sends CONNECT: resolves "connack" when the broker answers, else the error's message or
 * "closed". (TLS 1.3: the server's verdict on a client certificate arrives after the client's handshake is done.)
 */
function tryConnect(b: TestBroker, client: Issued | undefined): Promise<string> {
  return new Promise((resolve) => {
    const socket: TLSSocket = tlsConnect({
      port: b.port("tls"),
      host: "127.0.0.1",
      servername: "broker.test",
      ca: readFileSync(ca.certFile),
      ...(client !== undefined ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
    });
    socket.once("error", (err) => resolve(err.message));
    socket.once("data", (d: Buffer) => {
      resolve(d[0] === 0x20 ? "connack" : `data ${d[0]}`);
      socket.destroy();
    });
    socket.once("close", () => resolve("closed"));
    socket.once("secureConnect", () => {
      socket.write(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "raw-tls" }));
    });
  });
}

const RULES = {
  rules: [
    { identities: ["device-1"], allow: { publish: ["devices/%u/up"], subscribe: ["devices/%u/down/#"] } },
    { identities: ["*"], allow: { subscribe: ["broadcast/#"] } },
  ],
};

describe("TLS listener with tls.clientCerts: required, x509 backend with a rules file", () => {
  let b: TestBroker;
  beforeAll(async () => {
    const rules = loadX509Rules("rules.json", JSON.stringify(RULES));
    b = await startTestBroker(
      { tls: { port: 0, certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, clientCerts: "required" } },
      backendAsAuth(createX509Backend(x509Config(), { rules })),
    );
  });
  afterAll(async () => {
    await b?.close();
  });

  it("a valid device connects and gets the rules of its certificate's CN", async () => {
    const c = await mqtts(b, device1, "d1");
    try {
      const conn = [...b.broker.connections].find((x) => x.clientId === "d1");
      expect(conn?.certificate).toMatchObject({ commonName: "device-1", altNames: ["URI:spiffe://fleet/device-1", "DNS:device-1.fleet"] });
      expect(conn?.certificate?.fingerprint256).toMatch(/^[0-9a-f]{64}$/);
      expect((await c.subscribeAsync("devices/device-1/down/#", { qos: 2 })).map((g) => g.qos)).toEqual([2]);
      expect((await c.subscribeAsync("broadcast/all", { qos: 0 })).map((g) => g.qos)).toEqual([0]);
      await expect(c.subscribeAsync("devices/device-2/down/#", { qos: 1 })).rejects.toThrow(/Subscribe error/);
    } finally {
      await c.endAsync();
    }
  });

  it("another device of the CA gets only the '*' rules", async () => {
    const c = await mqtts(b, device2, "d2");
    try {
      expect((await c.subscribeAsync("broadcast/x", { qos: 0 })).map((g) => g.qos)).toEqual([0]);
      await expect(c.subscribeAsync("devices/device-2/down/#", { qos: 0 })).rejects.toThrow(/Subscribe error/);
    } finally {
      await c.endAsync();
    }
  });

  it("no client certificate: the TLS handshake is refused", async () => {
    expect(await tryConnect(b, undefined)).toMatch(/certificate|alert|closed|ECONNRESET/i);
    await expect(mqtts(b, undefined, "nocert")).rejects.toThrow();
  });

  it("a certificate from another CA (same CN) is refused", async () => {
    expect(await tryConnect(b, rogue)).toMatch(/certificate|alert|unknown ca|closed|ECONNRESET/i);
    expect([...b.broker.connections].some((c) => c.clientId === "rogue")).toBe(false);
  });

  it("control: the same raw connection with a valid certificate gets its CONNACK", async () => {
    expect(await tryConnect(b, device1)).toBe("connack");
  });
});

describe("tls.clientCerts: optional, identity delegated to the ACL file's users", () => {
  let b: TestBroker;
  beforeAll(async () => {
    // The ACL file knows device-1 as a user; a certificate client does not need its password.
    const acl = createAclAuth({
      users: [{ username: "device-1", password: await hashPassword("unused", { N: 1024, r: 8, p: 1 }) }],
      rules: [{ users: ["device-1"], allow: { publish: ["t/%u"], subscribe: ["t/%u/#"] } }],
    });
    const backend = createX509Backend(x509Config({ requireUsernameMatch: true }), { policyFor: (client) => acl.policyFor?.(client) });
    b = await startTestBroker({ tls: { port: 0, certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile, clientCerts: "optional" } }, backendAsAuth(backend));
  });
  afterAll(async () => {
    await b?.close();
  });

  it("a device known to the ACL file gets that user's rules", async () => {
    const c = await mqtts(b, device1, "o1");
    try {
      expect((await c.subscribeAsync("t/device-1/#", { qos: 0 })).map((g) => g.qos)).toEqual([0]);
      await expect(c.subscribeAsync("t/device-2/#", { qos: 0 })).rejects.toThrow(/Subscribe error/);
    } finally {
      await c.endAsync();
    }
  });

  it("a certificate identity the ACL file does not know is refused 0x05", async () => {
    await expect(mqtts(b, device2, "o2")).rejects.toThrow(/Not authorized/i);
  });

  it("no certificate: not this backend's (alone: 0x05); a user name that is not the certificate's: 0x04", async () => {
    await expect(mqtts(b, undefined, "o3")).rejects.toThrow(/Not authorized/i);
    await expect(mqtts(b, device1, "o4", "device-2")).rejects.toThrow(/Bad username or password/i);
  });

  it("a certificate that fails verification is not treated as no certificate: the connection is closed", async () => {
    const refusedBefore = b.broker.stats.connectionsRefused;
    expect(await tryConnect(b, rogue)).not.toBe("connack");
    expect(b.broker.stats.connectionsRefused).toBe(refusedBefore + 1);
    // Control: with a certificate-less client the raw CONNECT is answered (0x05 from the lone backend).
    expect(await tryConnect(b, undefined)).toBe("connack");
  });
});

describe("certificate identity", () => {
  const cert = { commonName: "dev-9", altNames: ["DNS:dev-9.fleet", "URI:spiffe://fleet/dev-9", "email:ops@example.com"], fingerprint256: "00" };
  it("CN or the first SAN of the configured type", () => {
    expect(certificateIdentity(cert, "cn")).toBe("dev-9");
    expect(certificateIdentity(cert, "san-dns")).toBe("dev-9.fleet");
    expect(certificateIdentity(cert, "san-uri")).toBe("spiffe://fleet/dev-9");
    expect(certificateIdentity(cert, "san-email")).toBe("ops@example.com");
    expect(certificateIdentity({ altNames: [], fingerprint256: "00" }, "cn")).toBeUndefined();
  });

  it("a certificate without the configured kind of identity is refused; a rules file with bad topics does not load", async () => {
    const backend = createX509Backend(x509Config({ identity: "san-dns" }), { rules: new Map([["*", []]]) });
    const req: AuthRequest = { clientId: "c", protocolVersion: 4, certificate: { commonName: "x", altNames: [], fingerprint256: "00" } };
    expect(await backend.authenticate(req, undefined)).toMatchObject({ kind: "deny", returnCode: 5 });
    expect(() => loadX509Rules("r.json", JSON.stringify({ rules: [{ identities: ["a"], allow: { publish: ["a/#/b"] } }] }))).toThrow(/not a valid topic filter/);
    expect(() => createX509Backend(x509Config())).toThrow(/rulesFile/);
  });
});
