/**
 * X.509 client certificates: the TLS listener verifies them against `tls.caFile` (Node's TLS does the chain and
 * validity checks); this module turns a verified peer certificate into the auth layer's `ClientCertificate`, and
 * the `x509` backend turns its subject (CN, or a SAN by configuration) into the client's identity and rules:
 *
 * - with `auth.x509.rulesFile`: the rules listed there for that identity (or for "*", any verified certificate);
 * - without: the rules of the user of that name in the other backends (`deps.policyFor`, wired by the auth chain),
 *   so a device's certificate and a user entry with roles in the store go together.
 *
 * No certificate: "next" (the client authenticates some other way). docs/auth.md, "X.509 client certificates".
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { TLSSocket } from "node:tls";
import { parse as parseYaml } from "yaml";
import * as z from "zod";
import type { X509AuthConfig } from "../config/types.js";
import type { AuthBackend, AuthRequest, BackendVerdict, ClientCertificate } from "./backend.js";
import { externalRules } from "./external-rules.js";
import { policyFromRules, type RuleInput } from "./rules.js";
import type { ClientInfo, ClientPolicy } from "./types.js";

/**
 * The verified client certificate of a TLS socket: undefined when the client sent none, null when it sent one that
 * failed verification (the listener then closes the socket: "optional" means optional, not unchecked).
 */
export function verifiedCertificate(socket: TLSSocket): ClientCertificate | undefined | null {
  const peer = socket.getPeerCertificate();
  if (peer === null || typeof peer !== "object" || peer.raw === undefined) return undefined;
  if (!socket.authorized) return null;
  const cn = peer.subject?.CN as string | string[] | undefined;
  return {
    commonName: Array.isArray(cn) ? cn[0] : cn,
    altNames: peer.subjectaltname === undefined || peer.subjectaltname === "" ? [] : peer.subjectaltname.split(", "),
    fingerprint256: createHash("sha256").update(peer.raw).digest("hex"),
  };
}

const SAN_PREFIX = { "san-dns": "DNS:", "san-uri": "URI:", "san-email": "email:" } as const;

/** The certificate's identity per `auth.x509.identity`, or undefined when it has none of that kind. */
export function certificateIdentity(cert: ClientCertificate, identity: X509AuthConfig["identity"]): string | undefined {
  if (identity === "cn") return cert.commonName !== undefined && cert.commonName !== "" ? cert.commonName : undefined;
  const prefix = SAN_PREFIX[identity];
  const san = cert.altNames.find((n) => n.startsWith(prefix));
  return san === undefined || san.length === prefix.length ? undefined : san.slice(prefix.length);
}

export const ANY_CERTIFICATE = "*";

const fileSchema = z.strictObject({
  rules: z.array(z.strictObject({ identities: z.array(z.string().min(1)).min(1), allow: z.unknown().optional(), deny: z.unknown().optional() })).max(100_000),
});

/** Rules per identity from an `auth.x509.rulesFile` (YAML or JSON). Throws with every reason when unusable. */
export function loadX509Rules(path: string, text = readFileSync(path, "utf8")): Map<string, RuleInput[]> {
  const doc: unknown = extname(path).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) throw new Error(`auth.x509.rulesFile ${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const out = new Map<string, RuleInput[]>();
  for (const [i, r] of parsed.data.rules.entries()) {
    const rules = externalRules({ ...(r.allow !== undefined ? { allow: r.allow } : {}), ...(r.deny !== undefined ? { deny: r.deny } : {}) });
    if (typeof rules === "string") throw new Error(`auth.x509.rulesFile ${path}: rules.${i}: ${rules}`);
    for (const id of r.identities) out.set(id, [...(out.get(id) ?? []), ...rules]);
  }
  return out;
}

export interface X509BackendDeps {
  /** The policy of a user of that name in the other backends (the chain's policyFor); used without rulesFile. */
  policyFor?: ((client: ClientInfo) => ClientPolicy | null | undefined | Promise<ClientPolicy | null | undefined>) | undefined;
  /** Rules already loaded (tests); default: read from cfg.rulesFile. */
  rules?: Map<string, RuleInput[]> | undefined;
}

export function createX509Backend(cfg: X509AuthConfig, deps: X509BackendDeps = {}): AuthBackend {
  const table = deps.rules ?? (cfg.rulesFile !== undefined ? loadX509Rules(cfg.rulesFile) : undefined);
  const delegate = deps.policyFor;
  if (table === undefined && delegate === undefined) {
    throw new Error("the x509 backend needs auth.x509.rulesFile, or another backend (store, acl) after it that knows the certificate identities");
  }
  const policyFor = async (client: ClientInfo, identity: string): Promise<ClientPolicy | null> => {
    if (table !== undefined) {
      const rules = [...(table.get(identity) ?? []), ...(table.get(ANY_CERTIFICATE) ?? [])];
      if (!table.has(identity) && !table.has(ANY_CERTIFICATE)) return null;
      return policyFromRules(rules, client.clientId, identity);
    }
    return (await delegate?.({ ...client, username: identity })) ?? null;
  };
  return {
    name: "x509",
    async authenticate(request: AuthRequest): Promise<BackendVerdict> {
      const cert = request.certificate;
      if (cert === undefined) return { kind: "next" };
      const identity = certificateIdentity(cert, cfg.identity);
      if (identity === undefined) return { kind: "deny", returnCode: 5, reason: `client certificate has no ${cfg.identity} to take the identity from` };
      if (cfg.requireUsernameMatch && request.username !== undefined && request.username !== "" && request.username !== identity) {
        return { kind: "deny", returnCode: 4, reason: `user name ${JSON.stringify(request.username)} is not the certificate's ${JSON.stringify(identity)}` };
      }
      const policy = await policyFor(request, identity);
      if (policy === null) return { kind: "deny", returnCode: 5, reason: `certificate identity ${JSON.stringify(identity)} has no rules` };
      return { kind: "allow", policy, identity };
    },
  };
}
