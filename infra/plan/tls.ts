/**
 * TLS passthrough (docs/deploy.md): the brokers' own TLS listener needs a certificate, its private key and, for
 * client certificates, the CA bundle. They are `sst secret`s, stored as SSM SecureStrings and injected into the
 * task as environment variables (never in the image, never in the task definition's plain environment); a few
 * lines of shell before the broker starts write them to files only the broker's user can read, unset the
 * variables, and exec the broker, which reads the files like any other (tls.certFile, tls.keyFile, tls.caFile).
 */
import { BROKER_COMMAND } from "./broker.js";

/** The secrets, by role: `npx sst secret set BrokerTlsKey "$(cat server.key)" --stage prod`. */
export const TLS_SECRETS = { cert: "BrokerTlsCert", key: "BrokerTlsKey", ca: "BrokerTlsCa" } as const;
export type TlsSecretKey = keyof typeof TLS_SECRETS;

/** The environment variables the task receives the PEM texts in (removed before the broker starts). */
export const TLS_PEM_ENV = { cert: "MQGATE_TLS_CERT_PEM", key: "MQGATE_TLS_KEY_PEM", ca: "MQGATE_TLS_CA_PEM" } as const;

/** Where the files are written in the task: tmpfs-like scratch space, writable by the image's "node" user. */
export const TLS_RUNTIME_DIR = "/tmp/mqgate-tls";

/** Why a secret's value cannot work, or undefined. Never echoes the value. */
export function tlsSecretProblem(key: TlsSecretKey, value: string): string | undefined {
  const name = TLS_SECRETS[key];
  const kinds = [...value.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  const ends = [...value.matchAll(/-----END ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  if (kinds.length === 0 || kinds.join() !== ends.join()) return `${name} is not PEM text (-----BEGIN ...----- ... -----END ...-----)`;
  if (key === "key") return kinds.length === 1 && kinds[0]!.endsWith("PRIVATE KEY") ? undefined : `${name} must hold exactly one PEM private key`;
  return kinds.length > 0 && kinds.every((k) => k === "CERTIFICATE") ? undefined : `${name} must hold PEM certificates only`;
}

/** The roles the deployment needs: the CA bundle only with client certificates. */
export function tlsSecretKeys(clientCerts: "off" | "optional" | "required"): TlsSecretKey[] {
  return clientCerts === "off" ? ["cert", "key"] : ["cert", "key", "ca"];
}

/** Shell that writes the PEM variables to files (mode 600) and removes them from the environment. */
export function tlsSetupScript(keys: readonly TlsSecretKey[], dir: string = TLS_RUNTIME_DIR): string {
  const file = { cert: "server.crt", key: "server.key", ca: "ca.crt" } as const;
  const lines = ["set -eu", "umask 077", `mkdir -p ${dir}`];
  for (const k of keys) lines.push(`printf '%s\\n' "$${TLS_PEM_ENV[k]}" > ${dir}/${file[k]}`);
  lines.push(`unset ${keys.map((k) => TLS_PEM_ENV[k]).join(" ")}`);
  return lines.join("\n");
}

/** The container command with TLS passthrough: the setup above, then exactly the image's command. */
export function tlsBrokerCommand(keys: readonly TlsSecretKey[]): string[] {
  return ["sh", "-c", `${tlsSetupScript(keys)}\nexec ${BROKER_COMMAND.join(" ")}`];
}
