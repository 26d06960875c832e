/**
 * Redis (Upstash) credentials: three `sst secret`s, checked at deploy time. The functions get the REST URL and
 * token through the `Upstash` link; the brokers get the TCP URL from an SSM SecureString (infra/plan/store.ts
 * explains Upstash over TCP versus ElastiCache).
 */
import { type SecretKey, secretProblem, SECRETS } from "./plan/store.js";

/** The secret's value, or a deploy-time error naming the problem and the command that fixes it (never the value). */
function checkedSecret(key: SecretKey) {
  return new sst.Secret(SECRETS[key]).value.apply((value) => {
    const problem = secretProblem(key, value);
    if (problem !== undefined) throw new Error(`${problem}. Fix: npx sst secret set ${SECRETS[key]} <value> --stage ${$app.stage}`);
    return value;
  });
}

/** Linked to the functions: `Resource.Upstash.restUrl` and `Resource.Upstash.restToken`. */
export const upstash = new sst.Linkable("Upstash", {
  properties: {
    restUrl: checkedSecret("upstashRestUrl"),
    restToken: checkedSecret("upstashRestToken"),
  },
});

/**
 * The brokers' MQGATE_REDIS_URL as an SSM SecureString (AWS-managed key): ECS injects it when the task starts,
 * so it never appears in the task definition's plain environment.
 */
export const brokerRedisUrlParameter = new aws.ssm.Parameter("BrokerRedisUrlParameter", {
  type: "SecureString",
  value: checkedSecret("brokerRedisUrl"),
  description: `mqgate ${$app.stage}: MQGATE_REDIS_URL of the broker tasks, from the ${SECRETS.brokerRedisUrl} secret`,
});
