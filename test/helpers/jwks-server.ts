import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";

export interface SigningKey {
  readonly kid: string;
  readonly alg: "RS256" | "ES256";
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export async function makeKey(kid: string, alg: "RS256" | "ES256" = "RS256"): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, jwk };
}

/** A JWKS endpoint on a free loopback port; `keys` can be replaced (rotation), `down` makes it answer 503. */
export class JwksServer {
  keys: SigningKey[] = [];
  requests = 0;
  down = false;
  private constructor(private readonly server: Server) {}

  static async start(keys: SigningKey[]): Promise<JwksServer> {
    const ref: { self?: JwksServer } = {};
    const server = createServer((_req, res) => {
      const s = ref.self!;
      s.requests++;
      if (s.down) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: s.keys.map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const self = new JwksServer(server);
    self.keys = keys;
    ref.self = self;
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
