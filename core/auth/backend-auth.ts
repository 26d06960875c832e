/**
 * One backend used alone as the broker's `Auth` (tests, embedding). The auth chain (core/auth/chain.ts) is the
 * production path: it runs several backends in order and caches their decisions. Here "next" after the only
 * backend means nobody recognised the client: refused with 0x05, as after the last backend of a chain.
 */
import type { AuthBackend, AuthRequest } from "./backend.js";
import type { Auth, ClientInfo, ClientPolicy, ConnectDecision } from "./types.js";

export function backendAsAuth(backend: AuthBackend): Auth {
  return {
    name: backend.name,
    async connect(request: AuthRequest, password: Buffer | undefined): Promise<ConnectDecision> {
      const verdict = await backend.authenticate(request, password);
      switch (verdict.kind) {
        case "allow":
          return { ok: true, policy: verdict.policy, expiresAt: verdict.expiresAt };
        case "deny":
          // 0x03 (server unavailable) is not a refusal of the client: the broker answers it for a thrown error.
          if (verdict.returnCode === 3) throw new Error(verdict.reason);
          return { ok: false, returnCode: verdict.returnCode, reason: verdict.reason };
        case "next":
          return { ok: false, returnCode: 5, reason: `not recognised by the ${backend.name} backend` };
      }
    },
    policyFor(client: ClientInfo): ClientPolicy | null {
      return backend.policyFor?.(client) ?? null;
    },
  };
}
