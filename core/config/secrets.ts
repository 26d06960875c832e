/**
 * Which configuration values are secret, in one place for everything that shows a value: the environment's parse
 * errors (core/config/env.ts), the schema's issues (core/config/load-issues.ts) and `redactConfig`
 * (core/config/load.ts). A secret value is never echoed; a URL's password is masked wherever a value is shown.
 */

/** Key paths whose values are secret. A key under one of them is secret too (a header under `auth.http.headers`). */
export const SECRET_KEY_PATHS: readonly string[] = ["apiKey", "redisUrl", "cluster.linkSecret", "auth.jwt.secret", "auth.http.authorization", "auth.http.headers"];

/** Key paths whose values are URLs: shown with the password replaced (`redactConfig`), the rest kept readable. */
export const URL_KEY_PATHS: readonly string[] = ["redisUrl", "sqsEndpoint", "events.queueUrl", "auth.jwt.jwksUrl", "auth.http.url"];

/** A key whose last name says it holds a secret (`…password`, `…Token`), wherever it is. */
const SECRET_NAME = /password|secret|token|credential|authorization/i;
/** …unless the name ends in a unit: a limit on a secret (`auth.jwt.maxTokenBytes`) is a number, shown as any other. */
const MEASURE_NAME = /(Bytes|Ms|Seconds|Size|Count)$/;

/** Whether the value at `keyPath` (`auth.http.headers.x-api-key`, say) must never be shown. */
export function isSecretKey(keyPath: string): boolean {
  for (const k of SECRET_KEY_PATHS) if (keyPath === k || keyPath.startsWith(`${k}.`)) return true;
  const last = keyPath.slice(keyPath.lastIndexOf(".") + 1);
  return SECRET_NAME.test(last) && !MEASURE_NAME.test(last);
}

/** `scheme://user:password@host` → `scheme://user:***@host`, for every URL in `text`; other text unchanged. */
export function maskUrlPasswords(text: string): string {
  // The password runs to the last "@" before the path, as a URL parser reads it ("u:p@ss@host": host "host").
  return text.replace(/(\/\/[^/?#@\s:]*):[^/?#\s]*@/g, "$1:***@");
}
