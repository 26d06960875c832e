/**
 * Deployment settings: what an operator chooses per `sst deploy`, read from the deploying shell's environment
 * (MQGATE_DEPLOY_*). These are not broker settings: the broker's own MQGATE_* variables (docs/configuration.md)
 * are computed from them by infra/plan/broker.ts. Read once, validated, every problem reported at once.
 */

export type BrokerAuth = "acl" | "allow-all";

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
  /** `acl` (default): users and rules from `aclFile`, baked into the image. `allow-all`: anyone may connect. */
  auth: BrokerAuth;
  /** ACL file (.yaml, .yml or .json), relative to the repository root. */
  aclFile: string;
  /**
   * TLS passthrough: the load balancer forwards 8883 as plain TCP to the brokers' own TLS listener (instead of
   * terminating TLS), so client certificates reach the brokers. Default false. docs/deploy.md.
   */
  tlsPassthrough: boolean;
  /** Client certificates on the brokers' TLS listener (tls.clientCerts); anything but "off" needs tlsPassthrough. */
  clientCerts: "off" | "optional" | "required";
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
  tlsPassthrough: "MQGATE_DEPLOY_TLS_PASSTHROUGH",
  clientCerts: "MQGATE_DEPLOY_CLIENT_CERTS",
} as const satisfies Record<keyof DeploySettings, string>;

export const DEFAULT_SETTINGS: Readonly<DeploySettings> = Object.freeze({
  plaintext: true,
  minBrokers: 2,
  maxBrokers: 10,
  auth: "acl",
  aclFile: "mqgate.acl.yaml",
  tlsPassthrough: false,
  clientCerts: "off",
});

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
const ACL_FILE = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._/-]+\.(ya?ml|json)$/;

/** Reads and validates the MQGATE_DEPLOY_* variables; throws DeploySettingsError listing every problem. */
export function deploySettings(env: Readonly<Record<string, string | undefined>>): DeploySettings {
  const issues: string[] = [];
  const get = (key: keyof DeploySettings): string | undefined => {
    const v = env[DEPLOY_ENV[key]]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const int = (key: "minBrokers" | "maxBrokers"): number => {
    const raw = get(key);
    if (raw === undefined) return DEFAULT_SETTINGS[key];
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1 && n <= MAX_BROKERS_LIMIT)) issues.push(`${DEPLOY_ENV[key]} must be an integer 1..${MAX_BROKERS_LIMIT}, got '${raw}'`);
    return n;
  };

  const settings: DeploySettings = { ...DEFAULT_SETTINGS, minBrokers: int("minBrokers"), maxBrokers: int("maxBrokers") };

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
    if (auth === "acl" || auth === "allow-all") settings.auth = auth;
    else issues.push(`${DEPLOY_ENV.auth} must be 'acl' or 'allow-all', got '${auth}'`);
  }
  const aclFile = get("aclFile");
  if (aclFile !== undefined) {
    if (ACL_FILE.test(aclFile)) settings.aclFile = aclFile;
    else issues.push(`${DEPLOY_ENV.aclFile} must be a relative path inside the repository ending in .yaml, .yml or .json, got '${aclFile}'`);
  }

  if (issues.length > 0) throw new DeploySettingsError(issues);
  return settings;
}
