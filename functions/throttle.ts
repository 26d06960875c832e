/**
 * Throttling by a service behind the gateway: SQS (the AWS SDK's throttling error names) and Upstash (its request
 * limits, "ERR max requests limit exceeded", "ERR max daily request limit exceeded"). The router answers these as
 * problem+json 429 with Retry-After instead of a 500: the request was fine, only too many came at once.
 */
const SDK_THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "KmsThrottled",
  "KMSThrottlingException",
  "RequestLimitExceeded",
]);
const UPSTASH_LIMIT = /\bmax (daily )?requests? limit exceeded\b|\brate limit exceeded\b/i;

/** True when `err` (or an error in its `cause` chain, at most 5 deep) is a throttling refusal. */
export function isUpstreamThrottle(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (SDK_THROTTLING.has(e.name)) return true;
    const status = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
    if (status === 429) return true;
    if (UPSTASH_LIMIT.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}
