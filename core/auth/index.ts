import { loadAclFile } from "./acl.js";
import { createAllowAll } from "./allow-all.js";
import type { Auth } from "./types.js";
import { PasswordVerifier, VERIFIER_DEFAULTS } from "./verifier.js";

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

export interface CreateAuthOptions {
  mode: "allow-all" | "acl";
  aclFile?: string | undefined;
  /** Password checks (auth.* keys); defaults: VERIFIER_DEFAULTS. */
  hashConcurrency?: number;
  maxPendingAuth?: number;
  maxAuthWaitMs?: number;
  cacheSeconds?: number;
  cacheMaxEntries?: number;
}

/** The Auth for the configured mode. Rejects (AclError) when the ACL file is unusable. */
export async function createAuth(config: CreateAuthOptions): Promise<Auth> {
  switch (config.mode) {
    case "allow-all":
      return createAllowAll();
    case "acl":
      if (config.aclFile === undefined || config.aclFile === "") {
        throw new Error("auth.mode is 'acl' but no ACL file is configured: set auth.aclFile (MQGATE_ACL_FILE)");
      }
      return loadAclFile(
        config.aclFile,
        new PasswordVerifier({
          hashConcurrency: config.hashConcurrency ?? VERIFIER_DEFAULTS.hashConcurrency,
          maxPending: config.maxPendingAuth ?? VERIFIER_DEFAULTS.maxPending,
          maxWaitMs: config.maxAuthWaitMs ?? VERIFIER_DEFAULTS.maxWaitMs,
          cacheSeconds: config.cacheSeconds ?? VERIFIER_DEFAULTS.cacheSeconds,
          cacheMaxEntries: config.cacheMaxEntries ?? VERIFIER_DEFAULTS.cacheMaxEntries,
        }),
      );
    default:
      throw new Error(`unknown auth.mode ${JSON.stringify((config as { mode: unknown }).mode)}: expected 'allow-all' or 'acl'`);
  }
}
