import type { AuthConfig } from "../config/types.js";
import { createAuthChain, type AuthChain, type AuthDeps } from "./chain.js";

export type * from "./types.js";
export { createAllowAll } from "./allow-all.js";
export { denyGuard, DENY_EVERYTHING } from "./guard.js";
export { ANONYMOUS, ANY_USER, AclError, createAclAuth, loadAclFile } from "./acl.js";
export type { AclIssue } from "./acl.js";
export { addRule, compilePolicy, emptyRuleSet, policyFromRules } from "./rules.js";
export type { RuleInput, RuleSet } from "./rules.js";
export {
  hashPassword,
  parsePasswordHash,
  PasswordHashError,
  SCRYPT_DEFAULTS,
  SCRYPT_LIMITS,
  verifyPassword,
} from "./password.js";
export type { HashPasswordOptions, ParsedPasswordHash, ScryptParams } from "./password.js";

export type { AuthBackend, AuthRequest, BackendVerdict, ClientCertificate } from "./backend.js";
export { AUTH_CACHE_DEFAULTS, AuthChain, AuthUnavailableError, configuredBackends, createAuthChain, registerAuthBackend } from "./chain.js";
export type { AuthDeps, BackendFactory, PolicyOrigin } from "./chain.js";
export { createStoreBackend } from "./store-backend.js";
export type { StoreAuthBackend } from "./store-backend.js";

/**
 * The Auth for the configuration: the chain of `auth.backends` (or of `auth.mode` alone). Rejects (AclError,
 * Error) when a backend is unusable, e.g. an unreadable ACL file or 'store' without a store.
 */
export function createAuth(config: AuthConfig, deps: AuthDeps = {}): Promise<AuthChain> {
  return createAuthChain(config, deps);
}
