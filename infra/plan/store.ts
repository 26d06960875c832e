/**
 * The cluster's Redis, as secrets.
 *
 * Functions talk to Upstash over HTTPS (REST URL + token, @upstash/redis): no VPC, no connection to keep warm.
 * Brokers are long-lived processes and use a TCP connection (ioredis) to the SAME database: Upstash's TLS
 * endpoint, `rediss://default:<password>@<name>.upstash.io:6379`. Both transports run the same Lua scripts and
 * keys (core/store), so one database serves both.
 *
 * Upstash over TCP versus ElastiCache (or MemoryDB):
 *   - Upstash: serverless, pay per command (or a fixed plan), reachable from Lambda without a VPC, TLS by default,
 *     multi-zone replication on paid plans. Costs: a round trip over the internet (about 1-2 ms within the same
 *     AWS region), per-command pricing that grows with traffic, and per-database limits (connections, request
 *     size, commands per second) to check against the fleet.
 *   - ElastiCache: sub-millisecond in the VPC, flat hourly price (cache.t4g.micro from about $12 a month per
 *     node, a replica doubles it), no per-command charge. But it is reachable only inside the VPC, and it has no
 *     HTTPS API: the functions would have to join the VPC, use the TCP store, and reach SQS through NAT or VPC
 *     endpoints (about $7 a month per endpoint and zone), which costs cold-start time and money. The broker side
 *     needs nothing but a different `BrokerRedisUrl`; the functions side is the work.
 * This deployment uses Upstash for both. Switch to ElastiCache when per-command charges exceed a flat cluster or
 * the brokers need lower store latency; the store contract suite is what both must pass.
 */

/** `sst secret set <name> <value>` names. */
export const SECRETS = {
  /** Upstash REST URL (https://<name>.upstash.io), for the functions. */
  upstashRestUrl: "UpstashRedisRestUrl",
  /** Upstash REST token, for the functions. */
  upstashRestToken: "UpstashRedisRestToken",
  /** TCP URL of the same database for the brokers (MQGATE_REDIS_URL): rediss://default:<password>@<host>:6379. */
  brokerRedisUrl: "BrokerRedisUrl",
} as const;

export type SecretKey = keyof typeof SECRETS;

/**
 * Why a secret's value cannot work, or undefined when it can. Checked at deploy time, so `sst deploy` stops with
 * a clear message instead of brokers that crash-loop. Never echoes the value (it may hold a password).
 */
export function secretProblem(key: SecretKey, value: string): string | undefined {
  const name = SECRETS[key];
  if (key === "upstashRestToken") return value.trim() === "" ? `${name} is empty` : undefined;
  const url = parseUrl(value);
  if (url === undefined) return `${name} is not a URL`;
  if (key === "upstashRestUrl") {
    return url.protocol === "https:" ? undefined : `${name} must be the https:// REST URL of the Upstash database`;
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return `${name} must be a redis:// or rediss:// URL (Upstash: the TCP endpoint, not the REST URL)`;
  }
  if (url.protocol === "redis:" && url.hostname.endsWith(".upstash.io")) {
    return `${name} must use rediss:// for Upstash: its TCP endpoint requires TLS`;
  }
  return undefined;
}

// The return type is inferred on purpose: SST's platform types (Bun's and Node's) declare two different globals
// named URL, and an explicit annotation would pick one of them.
function parseUrl(value: string) {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}
