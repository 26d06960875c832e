import type { ClientInfo, ClientPolicy } from "./types.js";

/** A verified client certificate (TLS listener with client certificates), as the auth layer sees it. */
export interface ClientCertificate {
  /** Subject common name, when present. */
  readonly commonName?: string | undefined;
  /** Subject alternative names, e.g. "DNS:device-1.example", "URI:spiffe://...". */
  readonly altNames: readonly string[];
  /** Hex SHA-256 fingerprint of the DER certificate. */
  readonly fingerprint256: string;
}

/** What a backend is asked: the CONNECT's identity and, on TLS with client certificates, the verified certificate. */
export interface AuthRequest extends ClientInfo {
  readonly certificate?: ClientCertificate | undefined;
}

/** A backend's answer. "next" = not mine: the chain asks the next backend (after the last: refused, 0x05). */
export type BackendVerdict =
  | {
      readonly kind: "allow";
      readonly policy: ClientPolicy;
      /** The identity the session belongs to (user name, certificate subject); defaults to the user name. */
      readonly identity?: string | undefined;
      /** Epoch ms after which the connection must be closed (a JWT's exp). */
      readonly expiresAt?: number | undefined;
      /** How long the chain may cache this decision (ms); 0 = do not cache. Defaults to auth.cacheSeconds. */
      readonly cacheMs?: number | undefined;
    }
  | { readonly kind: "deny"; readonly returnCode: 3 | 4 | 5; readonly reason: string }
  | { readonly kind: "next" };

export interface AuthBackend {
  /** Names the backend in `auth.backends` and in logs/metrics: "acl", "store", "jwt", "http", "lambda", "x509". */
  readonly name: string;
  authenticate(request: AuthRequest, password: Buffer | undefined): Promise<BackendVerdict>;
  /** The policy for a known identity without credentials (REST on behalf of an offline client); undefined = not mine. */
  policyFor?(client: ClientInfo): ClientPolicy | null | undefined;
  /** Releases timers and connections. */
  close?(): Promise<void>;
}
