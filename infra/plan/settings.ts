/**
 * Deployment settings: what an operator chooses per `sst deploy`, read from the deploying shell's environment
 * (MQGATE_DEPLOY_*). These are not broker settings: the broker's own MQGATE_* variables (docs/configuration.md)
 * are computed from them by infra/plan/broker.ts. Read once, validated, every problem reported at once.
 */
import { BROKER_SEMI_SPACE_MIB } from "../../broker/node-flags.js";

/** The broker's auth chain: `store` / `store,acl` read users and roles from the store (issue 15, docs/auth.md). */
export type BrokerAuth = "acl" | "allow-all" | "store" | "store,acl";
export const BROKER_AUTHS: readonly BrokerAuth[] = ["acl", "allow-all", "store", "store,acl"];

/** Does this auth bake the ACL file into the image? */
export function usesAclFile(auth: BrokerAuth): boolean {
  return auth === "acl" || auth === "store,acl";
}

export interface DeploySettings {
  /** Domain of the broker endpoint (Route 53 hosted unless `certificateArn` is set). Enables 8883/tls and wss://. */
  domain?: string;
  /** ACM certificate for `domain` when its DNS is not in Route 53; you then create the DNS record yourself. */
  certificateArn?: string;
  /** Also serve plain MQTT (1883) and ws:// (80). Default true; false requires `domain`. */
  plaintext: boolean;
  /** Broker tasks: autoscaling bounds. */
  minBrokers: number;
  maxBrokers: number;
  /**
   * `acl` (default): users and rules from `aclFile`, baked into the image. `store`: users and roles in the store,
   * changed at runtime over REST / `npm run users`. `store,acl`: both, the store asked first. `allow-all`: anyone.
   */
  auth: BrokerAuth;
  /** ACL file (.yaml, .yml or .json), relative to the repository root. */
  aclFile: string;
  /** Origins (`https://ops.example.com`) allowed to call the REST API from a browser. Empty (default): no CORS. */
  corsOrigins: readonly string[];
  /** API Gateway throttling of the REST API, over all routes: bucket size (requests). */
  apiBurstLimit: number;
  /** API Gateway throttling of the REST API, over all routes: steady requests per second. */
  apiRateLimit: number;
  /** E-mail address subscribed to the alarms' SNS topic (confirm the subscription mail once). */
  alarmEmail?: string;
  /** An existing SNS topic the alarms notify (instead of, or with, `alarmEmail`'s topic). */
  alarmTopicArn?: string;
  /**
   * TLS passthrough: the load balancer forwards 8883 as plain TCP to the brokers' own TLS listener (instead of
   * terminating TLS), so client certificates reach the brokers. Default false. docs/deploy.md.
   */
  tlsPassthrough: boolean;
  /** Client certificates on the brokers' TLS listener (tls.clientCerts); anything but "off" needs tlsPassthrough. */
  clientCerts: "off" | "optional" | "required";
  /**
   * V8's young generation of each broker, MiB per semi-space (`--max-semi-space-size`, given to Node as
   * NODE_OPTIONS). Default 8 (broker/node-flags.ts, decision 051): with Node's own size (up to 64 MiB on Node 24)
   * V8 runs a full GC every few seconds on a broker's heap. Smaller saves memory on small fleets for a few per cent
   * more CPU per message (decision 050).
   */
  brokerSemiSpaceMiB: number;
}

/** The variables, by setting. */
export const DEPLOY_ENV = {
  domain: "MQGATE_DEPLOY_DOMAIN",
  certificateArn: "MQGATE_DEPLOY_CERT_ARN",
  plaintext: "MQGATE_DEPLOY_PLAINTEXT",
  minBrokers: "MQGATE_DEPLOY_MIN_BROKERS",
  maxBrokers: "MQGATE_DEPLOY_MAX_BROKERS",
  auth: "MQGATE_DEPLOY_AUTH",
  aclFile: "MQGATE_DEPLOY_ACL_FILE",
  corsOrigins: "MQGATE_DEPLOY_CORS_ORIGINS",
  apiBurstLimit: "MQGATE_DEPLOY_API_BURST_LIMIT",
  apiRateLimit: "MQGATE_DEPLOY_API_RATE_LIMIT",
  alarmEmail: "MQGATE_DEPLOY_ALARM_EMAIL",
  alarmTopicArn: "MQGATE_DEPLOY_ALARM_TOPIC_ARN",
  tlsPassthrough: "MQGATE_DEPLOY_TLS_PASSTHROUGH",
  clientCerts: "MQGATE_DEPLOY_CLIENT_CERTS",
  brokerSemiSpaceMiB: "MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB",
} as const satisfies Record<keyof DeploySettings, string>;

export const DEFAULT_SETTINGS: Readonly<DeploySettings> = Object.freeze({
  plaintext: true,
  minBrokers: 2,
  maxBrokers: 10,
  auth: "acl",
  aclFile: "mqgate.acl.yaml",
  corsOrigins: Object.freeze([]),
  // Far below the account-wide default (10,000 rps, burst 5,000): one stage cannot starve the others, and a
  // runaway client hits API Gateway's 429 before it costs Lambda invocations and store requests.
  apiBurstLimit: 200,
  apiRateLimit: 100,
  tlsPassthrough: false,
  clientCerts: "off",
  brokerSemiSpaceMiB: BROKER_SEMI_SPACE_MIB,
});

/** Upper bound of the throttling settings: API Gateway's default account quota. */
export const MAX_API_RATE = 10_000;

/** Upper bound of `brokerSemiSpaceMiB`: Node 24's own maximum on a large host; more only costs memory. */
export const MAX_SEMI_SPACE_MIB = 64;

/** Upper bound for `maxBrokers`: beyond it, revisit the Redis plan and the SQS quotas first. */
export const MAX_BROKERS_LIMIT = 100;

export class DeploySettingsError extends Error {
  override readonly name = "DeploySettingsError";
  constructor(readonly issues: readonly string[]) {
    super(`Invalid deployment settings (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  - ${i}`).join("\n")}`);
  }
}

const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
/** A browser origin: scheme, host, optional port; no path, no wildcard (API Gateway matches origins exactly). */
const ORIGIN = /^https?:\/\/(localhost|(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+)(:\d{1,5})?$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[a-z]{2,}$/i;
const SNS_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const ACL_FILE = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+\.(ya?ml|json)$/;

/** Reads and validates the MQGATE_DEPLOY_* variables; throws DeploySettingsError listing every problem. */
export function deploySettings(env: Readonly<Record<string, string | undefined>>): DeploySettings {
  const issues: string[] = [];
  const get = (key: keyof DeploySettings): string | undefined => {
    const v = env[DEPLOY_ENV[key]]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const int = (key: "minBrokers" | "maxBrokers" | "apiBurstLimit" | "apiRateLimit", max: number): number => {
    const raw = get(key);
    if (raw === undefined) return DEFAULT_SETTINGS[key];
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1 && n <= max)) issues.push(`${DEPLOY_ENV[key]} must be an integer 1..${max}, got '${raw}'`);
    return n;
  };

  const settings: DeploySettings = {
    ...DEFAULT_SETTINGS,
    minBrokers: int("minBrokers", MAX_BROKERS_LIMIT),
    maxBrokers: int("maxBrokers", MAX_BROKERS_LIMIT),
    corsOrigins: [],
    apiBurstLimit: int("apiBurstLimit", MAX_API_RATE),
    apiRateLimit: int("apiRateLimit", MAX_API_RATE),
  };

  const domain = get("domain")?.toLowerCase();
  if (domain !== undefined) {
    if (DOMAIN.test(domain)) settings.domain = domain;
    else issues.push(`${DEPLOY_ENV.domain} must be a domain name such as mqtt.example.com, got '${domain}'`);
  }
  const cert = get("certificateArn");
  if (cert !== undefined) {
    if (!ACM_ARN.test(cert)) issues.push(`${DEPLOY_ENV.certificateArn} must be an ACM certificate ARN, got '${cert}'`);
    else if (domain === undefined) issues.push(`${DEPLOY_ENV.certificateArn} needs ${DEPLOY_ENV.domain}`);
    else settings.certificateArn = cert;
  }
  const plaintext = get("plaintext");
  if (plaintext !== undefined) {
    if (plaintext === "true" || plaintext === "false") settings.plaintext = plaintext === "true";
    else issues.push(`${DEPLOY_ENV.plaintext} must be 'true' or 'false', got '${plaintext}'`);
  }
  const passthrough = get("tlsPassthrough");
  if (passthrough !== undefined) {
    if (passthrough === "true" || passthrough === "false") settings.tlsPassthrough = passthrough === "true";
    else issues.push(`${DEPLOY_ENV.tlsPassthrough} must be 'true' or 'false', got '${passthrough}'`);
  }
  const clientCerts = get("clientCerts");
  if (clientCerts !== undefined) {
    if (clientCerts === "off" || clientCerts === "optional" || clientCerts === "required") settings.clientCerts = clientCerts;
    else issues.push(`${DEPLOY_ENV.clientCerts} must be 'off', 'optional' or 'required', got '${clientCerts}'`);
  }
  if (settings.clientCerts !== "off" && !settings.tlsPassthrough) {
    issues.push(`${DEPLOY_ENV.clientCerts}=${settings.clientCerts} needs ${DEPLOY_ENV.tlsPassthrough}=true: a load balancer that ends TLS never passes client certificates on`);
  }
  if (!settings.plaintext && domain === undefined && !settings.tlsPassthrough) {
    issues.push(`${DEPLOY_ENV.plaintext}=false needs ${DEPLOY_ENV.domain} or ${DEPLOY_ENV.tlsPassthrough}=true: otherwise there is no TLS endpoint`);
  }
  if (settings.minBrokers > settings.maxBrokers) {
    issues.push(`${DEPLOY_ENV.minBrokers} (${settings.minBrokers}) must not exceed ${DEPLOY_ENV.maxBrokers} (${settings.maxBrokers})`);
  }
  const auth = get("auth");
  if (auth !== undefined) {
    const chosen = BROKER_AUTHS.find((a) => a === auth.replace(/\s+/g, ""));
    if (chosen !== undefined) settings.auth = chosen;
    else issues.push(`${DEPLOY_ENV.auth} must be one of ${BROKER_AUTHS.map((a) => `'${a}'`).join(", ")}, got '${auth}'`);
  }
  const aclFile = get("aclFile");
  if (aclFile !== undefined) {
    if (ACL_FILE.test(aclFile)) settings.aclFile = aclFile;
    else issues.push(`${DEPLOY_ENV.aclFile} must be a relative path inside the repository ending in .yaml, .yml or .json, got '${aclFile}'`);
  }

  const origins = get("corsOrigins");
  if (origins !== undefined) {
    const valid: string[] = [];
    settings.corsOrigins = valid;
    for (const origin of origins.split(",").map((o) => o.trim().replace(/\/$/, "")).filter((o) => o !== "")) {
      if (ORIGIN.test(origin)) valid.push(origin);
      else issues.push(`${DEPLOY_ENV.corsOrigins} must be a comma-separated list of origins such as https://ops.example.com (no path, no '*'), got '${origin}'`);
    }
  }
  const email = get("alarmEmail");
  if (email !== undefined) {
    if (EMAIL.test(email)) settings.alarmEmail = email;
    else issues.push(`${DEPLOY_ENV.alarmEmail} must be an e-mail address, got '${email}'`);
  }
  const topic = get("alarmTopicArn");
  if (topic !== undefined) {
    if (SNS_ARN.test(topic)) settings.alarmTopicArn = topic;
    else issues.push(`${DEPLOY_ENV.alarmTopicArn} must be an SNS topic ARN, got '${topic}'`);
  }
  const semiSpace = get("brokerSemiSpaceMiB");
  if (semiSpace !== undefined) {
    const n = /^\d+$/.test(semiSpace) ? Number(semiSpace) : NaN;
    if (n >= 1 && n <= MAX_SEMI_SPACE_MIB) settings.brokerSemiSpaceMiB = n;
    else issues.push(`${DEPLOY_ENV.brokerSemiSpaceMiB} must be an integer 1..${MAX_SEMI_SPACE_MIB} (MiB), got '${semiSpace}'`);
  }

  if (issues.length > 0) throw new DeploySettingsError(issues);
  return settings;
}
