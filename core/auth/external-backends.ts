/**
 * The external backends by name, for the auth chain's registry (`auth.backends`): each factory takes its own config
 * section. A name whose section is missing is a startup error naming the key to set.
 */
import type { AuthConfig } from "../config/types.js";
import type { AuthBackend } from "./backend.js";
import { createHttpBackend } from "./http-authorizer.js";
import { createJwtBackend } from "./jwt.js";
import { createLambdaBackend, type LambdaInvoke } from "./lambda-authorizer.js";
import type { ClientInfo, ClientPolicy } from "./types.js";
import { createX509Backend } from "./x509.js";

export { createHttpBackend } from "./http-authorizer.js";
export { createJwtBackend } from "./jwt.js";
export { createLambdaBackend } from "./lambda-authorizer.js";
export { createX509Backend } from "./x509.js";
export { backendAsAuth } from "./backend-auth.js";

export const EXTERNAL_BACKENDS = ["jwt", "http", "lambda", "x509"] as const;
export type ExternalBackendName = (typeof EXTERNAL_BACKENDS)[number];

export interface ExternalBackendDeps {
  /** For x509 without a rules file: the policy of a user of that name in the chain's other backends. */
  policyFor?: ((client: ClientInfo) => ClientPolicy | null | undefined | Promise<ClientPolicy | null | undefined>) | undefined;
  /** Lambda Invoke override (tests). */
  invoke?: LambdaInvoke | undefined;
}

export function isExternalBackend(name: string): name is ExternalBackendName {
  return (EXTERNAL_BACKENDS as readonly string[]).includes(name);
}

/** Builds the named backend from its `auth.<name>` section; throws when the section is missing or unusable. */
export async function createExternalBackend(
  name: ExternalBackendName,
  auth: Pick<Partial<AuthConfig>, "jwt" | "http" | "lambda" | "x509">,
  deps: ExternalBackendDeps = {},
): Promise<AuthBackend> {
  const missing = (key: string, env?: string): Error =>
    new Error(`auth backend '${name}' is listed but not configured: set ${key}${env !== undefined ? ` (${env})` : ""}`);
  switch (name) {
    case "jwt":
      if (auth.jwt === undefined) throw missing("auth.jwt.jwksUrl, publicKeyFile, secret or secretFile", "MQGATE_JWT_JWKS_URL or MQGATE_JWT_SECRET");
      return createJwtBackend(auth.jwt);
    case "http":
      if (auth.http === undefined) throw missing("auth.http.url", "MQGATE_AUTH_HTTP_URL");
      return createHttpBackend(auth.http);
    case "lambda":
      if (auth.lambda === undefined) throw missing("auth.lambda.functionName", "MQGATE_AUTH_LAMBDA_FUNCTION");
      return createLambdaBackend(auth.lambda, deps.invoke !== undefined ? { invoke: deps.invoke } : {});
    case "x509":
      return createX509Backend(auth.x509 ?? { identity: "cn", requireUsernameMatch: false }, { policyFor: deps.policyFor });
  }
}
