/**
 * JWT backend: the MQTT password carries a JSON Web Token, verified with `jose` against a JWKS URL (keys cached,
 * refetched when an unknown `kid` appears, at most once per cooldown) or a configured key (PEM public key, or an
 * HS256 secret). Claims name the user (`usernameClaim`), the client id it may use (`clientIdClaim`) and its rules
 * (`aclClaim`, EMQX's shapes: core/auth/external-rules.ts). `exp` becomes `expiresAt`: the broker closes the
 * connection when the token expires. A password that is not a JWT is "next" (not mine).
 */
import { readFileSync } from "node:fs";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  exportJWK,
  importSPKI,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from "jose";
import type { JwtAuthConfig } from "../config/types.js";
import type { AuthBackend, AuthRequest, BackendVerdict } from "./backend.js";
import { externalRules } from "./external-rules.js";
import { policyFromRules } from "./rules.js";

export interface JwtBackendDeps {
  /** Reads key files; default: readFileSync. */
  readFile?: (path: string) => string;
}

/** Three base64url parts, the first one a JSON header: cheap enough to ask before verifying. */
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function looksLikeJwt(token: string): boolean {
  if (!JWT_SHAPE.test(token)) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"));
    return header !== null && typeof header === "object" && typeof (header as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}

/** Errors that say "this token is not acceptable" (0x04), as opposed to "cannot check it now" (0x03). */
const TOKEN_ERRORS = new Set([
  "ERR_JWT_EXPIRED",
  "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "ERR_JWT_INVALID",
  "ERR_JWS_INVALID",
  "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
  "ERR_JOSE_ALG_NOT_ALLOWED",
  "ERR_JOSE_NOT_SUPPORTED",
  "ERR_JWK_INVALID",
]);

type Verifier = (token: string, options: JWTVerifyOptions) => Promise<JWTPayload>;

async function keyVerifier(cfg: JwtAuthConfig, readFile: (path: string) => string): Promise<{ verify: Verifier; algorithms: string[] }> {
  if (cfg.jwksUrl !== undefined) {
    const jwks: JWTVerifyGetKey = createRemoteJWKSet(new URL(cfg.jwksUrl), {
      cacheMaxAge: cfg.jwksCacheSeconds * 1000,
      cooldownDuration: cfg.jwksCooldownMs,
      timeoutDuration: cfg.jwksTimeoutMs,
    });
    return { verify: async (t, o) => (await jwtVerify(t, jwks, o)).payload, algorithms: cfg.algorithms ?? ["RS256", "ES256"] };
  }
  if (cfg.publicKeyFile !== undefined) {
    const pem = readFile(cfg.publicKeyFile);
    const algorithms = cfg.algorithms ?? ["RS256", "ES256"];
    // One imported key per accepted algorithm (a key object is bound to its algorithm family).
    const keys = [];
    for (const alg of algorithms) {
      try {
        keys.push({ ...(await exportable(pem, alg)), alg });
      } catch {
        // The key does not fit this algorithm (an EC key for RS256): tokens with that alg fail verification.
      }
    }
    if (keys.length === 0) throw new Error(`auth.jwt.publicKeyFile ${cfg.publicKeyFile}: no usable ${algorithms.join("/")} public key (PEM SPKI expected)`);
    const set = createLocalJWKSet({ keys });
    return { verify: async (t, o) => (await jwtVerify(t, set, o)).payload, algorithms };
  }
  const secret = cfg.secret ?? (cfg.secretFile !== undefined ? readFile(cfg.secretFile).trim() : undefined);
  if (secret === undefined || secret.length < 32) {
    throw new Error("auth.jwt: an HS256 secret of at least 32 characters is needed (MQGATE_JWT_SECRET or auth.jwt.secretFile)");
  }
  const key = new TextEncoder().encode(secret);
  return { verify: async (t, o) => (await jwtVerify(t, key, o)).payload, algorithms: cfg.algorithms ?? ["HS256"] };
}

async function exportable(pem: string, alg: string) {
  return exportJWK(await importSPKI(pem, alg, { extractable: true }));
}

function claimString(payload: JWTPayload, claim: string): string | undefined {
  const v = payload[claim];
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** A client id claim: the exact id, or a prefix ending with "*". */
function clientIdAllowed(claim: string, clientId: string): boolean {
  return claim.endsWith("*") ? clientId.startsWith(claim.slice(0, -1)) : clientId === claim;
}

export async function createJwtBackend(cfg: JwtAuthConfig, deps: JwtBackendDeps = {}): Promise<AuthBackend> {
  const readFile = deps.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const { verify, algorithms } = await keyVerifier(cfg, readFile);
  const options: JWTVerifyOptions = {
    algorithms,
    clockTolerance: cfg.clockToleranceSeconds,
    ...(cfg.issuer !== undefined ? { issuer: cfg.issuer } : {}),
    ...(cfg.audience !== undefined ? { audience: cfg.audience } : {}),
    ...(cfg.requireExp ? { requiredClaims: ["exp"] } : {}),
  };

  return {
    name: "jwt",
    async authenticate(request: AuthRequest, password: Buffer | undefined): Promise<BackendVerdict> {
      if (password === undefined || password.length === 0) return { kind: "next" };
      if (password.length > cfg.maxTokenBytes) {
        // Too big to be one of ours; a JWT that big is refused rather than parsed.
        const head = password.subarray(0, 64).toString("latin1");
        return /^eyJ/.test(head) ? { kind: "deny", returnCode: 4, reason: `JWT longer than ${cfg.maxTokenBytes} bytes` } : { kind: "next" };
      }
      const token = password.toString("latin1");
      if (!looksLikeJwt(token)) return { kind: "next" };
      let payload: JWTPayload;
      try {
        payload = await verify(token, options);
      } catch (err) {
        const code = err instanceof errors.JOSEError ? err.code : undefined;
        if (code !== undefined && TOKEN_ERRORS.has(code)) return { kind: "deny", returnCode: 4, reason: `JWT refused: ${(err as Error).message}` };
        // The JWKS could not be fetched (down, timeout, not a key set): nobody can check the token now.
        return { kind: "deny", returnCode: 3, reason: `JWT not verifiable now: ${err instanceof Error ? err.message : String(err)}` };
      }
      const identity = claimString(payload, cfg.usernameClaim);
      if (identity === undefined) return { kind: "deny", returnCode: 4, reason: `JWT has no '${cfg.usernameClaim}' claim` };
      // The MQTT user name, when not empty, must be the token's subject: a token cannot be presented under another name.
      if (request.username !== undefined && request.username !== "" && request.username !== identity) {
        return { kind: "deny", returnCode: 4, reason: `user name ${JSON.stringify(request.username)} does not match the JWT's ${cfg.usernameClaim}` };
      }
      const allowedClientId = payload[cfg.clientIdClaim];
      if (allowedClientId !== undefined) {
        if (typeof allowedClientId !== "string" || !clientIdAllowed(allowedClientId, request.clientId)) {
          return { kind: "deny", returnCode: 5, reason: `client id ${JSON.stringify(request.clientId)} is not the one the JWT allows` };
        }
      }
      const acl = payload[cfg.aclClaim];
      const rules = acl === undefined ? [] : externalRules(acl);
      if (typeof rules === "string") return { kind: "deny", returnCode: 5, reason: `JWT '${cfg.aclClaim}' claim refused: ${rules}` };
      // Accepted up to exp + clock tolerance, so closed then too.
      const expiresAt = typeof payload.exp === "number" ? (payload.exp + cfg.clockToleranceSeconds) * 1000 : undefined;
      return {
        kind: "allow",
        policy: policyFromRules(rules, request.clientId, identity),
        identity,
        expiresAt,
        // Cached at most until the token expires.
        cacheMs: expiresAt !== undefined ? Math.max(0, expiresAt - Date.now()) : undefined,
      };
    },
  };
}
