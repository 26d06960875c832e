/**
 * TLS passthrough's key material (infra/plan/tls.ts): `sst secret`s checked at deploy time, stored as SSM
 * SecureStrings (Advanced tier: a certificate chain can exceed the Standard tier's 4 KB) that ECS injects into the
 * broker tasks. Created only when MQGATE_DEPLOY_TLS_PASSTHROUGH=true.
 */
import { TLS_PEM_ENV, TLS_SECRETS, tlsSecretKeys, tlsSecretProblem, type TlsSecretKey } from "./plan/tls.js";
import { settings } from "./settings.js";

function parameter(key: TlsSecretKey) {
  const value = new sst.Secret(TLS_SECRETS[key]).value.apply((v) => {
    const problem = tlsSecretProblem(key, v);
    if (problem !== undefined) throw new Error(`${problem}. Fix: npx sst secret set ${TLS_SECRETS[key]} "$(cat <file>)" --stage ${$app.stage}`);
    return v;
  });
  return new aws.ssm.Parameter(`${TLS_SECRETS[key]}Parameter`, {
    type: "SecureString",
    tier: "Advanced",
    value,
    description: `mqgate ${$app.stage}: ${TLS_PEM_ENV[key]} of the broker tasks, from the ${TLS_SECRETS[key]} secret`,
  });
}

/** Environment variable → SSM parameter ARN, for the broker service's `ssm` (empty without TLS passthrough). */
export const brokerTlsSsm: Record<string, $util.Output<string>> = settings.tlsPassthrough
  ? Object.fromEntries(tlsSecretKeys(settings.clientCerts).map((k) => [TLS_PEM_ENV[k], parameter(k).arn]))
  : {};

export const brokerTlsKeys: TlsSecretKey[] = settings.tlsPassthrough ? tlsSecretKeys(settings.clientCerts) : [];
