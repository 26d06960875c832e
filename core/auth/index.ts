import { createAuthChain, type AuthChain, type AuthChainConfig, type AuthDeps } from "./chain.js";

export type * from "./types.js";
export { createAllowAll } from "./allow-all.js";
export { denyGuard, DENY_EVERYTHING } from "./guard.js";
export { ANONYMOUS, ANY_USER, AclError, createAclAuth, loadAclFile } from "./acl.js";
export type { AclAuthOptions, AclIssue } from "./acl.js";
export { addressKey } from "./address.js";
export { AuthBusyError, AuthCancelledError, FairQueue } from "./fair-queue.js";
export { hashPbkdf2, MOSQUITTO_HASH_LIMITS, PBKDF2_DEFAULTS } from "./mosquitto-hash.js";
export type { Pbkdf2Hash, Sha512Hash } from "./mosquitto-hash.js";
export { addRule, compilePolicy, emptyRuleSet, policyFromRules } from "./rules.js";
export type { RuleInput, RuleSet } from "./rules.js";
export {
  hashPassword,
  parsePasswordHash,
  parseStoredHash,
  PasswordHashError,
  SCRYPT_DEFAULTS,
  SCRYPT_LIMITS,
  verifyPassword,
} from "./password.js";
export type { HashPasswordOptions, ParsedPasswordHash, ScryptParams, StoredHash } from "./password.js";
export { PasswordVerifier, VERIFIER_DEFAULTS } from "./verifier.js";
export type { VerifierOptions } from "./verifier.js";

export type { AuthBackend, AuthRequest, BackendVerdict, ClientCertificate } from "./backend.js";
export { AUTH_CACHE_DEFAULTS, AuthChain, AuthUnavailableError, configuredBackends, createAuthChain, registerAuthBackend } from "./chain.js";
export type { AuthDeps, BackendFactory, PolicyOrigin } from "./chain.js";
export { createStoreBackend } from "./store-backend.js";
export type { StoreAuthBackend } from "./store-backend.js";

/**
 * The Auth for the configuration: the chain of `auth.backends` (or of `auth.mode` alone). Rejects (AclError,
 * Error) when a backend is unusable, e.g. an unreadable ACL file or 'store' without a store.
 */
export function createAuth(config: AuthChainConfig, deps: AuthDeps = {}): Promise<AuthChain> {
  return createAuthChain(config, deps);
}
