import { loadAclFile } from "./acl.js";
import { createAllowAll } from "./allow-all.js";
import type { Auth } from "./types.js";

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

export interface CreateAuthOptions {
  mode: "allow-all" | "acl";
  aclFile?: string | undefined;
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
      return loadAclFile(config.aclFile);
    default:
      throw new Error(`unknown auth.mode ${JSON.stringify((config as { mode: unknown }).mode)}: expected 'allow-all' or 'acl'`);
  }
}
