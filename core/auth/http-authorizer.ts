/**
 * HTTP authorizer backend: POSTs the CONNECT (core/auth/authorizer.ts, request shape) to `auth.http.url` and
 * follows the answer. Timeout, bounded answers and a circuit breaker; down or timing out -> CONNACK 0x03.
 */
import type { HttpAuthConfig } from "../config/types.js";
import type { AuthBackend } from "./backend.js";
import { type AuthorizerCall, createAuthorizerBackend, readBounded } from "./authorizer.js";
import type { CircuitBreaker } from "./breaker.js";

export interface HttpBackendDeps {
  now?: () => number;
}

export function createHttpBackend(cfg: HttpAuthConfig, deps: HttpBackendDeps = {}): AuthBackend & { readonly breaker: CircuitBreaker } {
  const headers: Record<string, string> = { ...cfg.headers, "content-type": "application/json", accept: "application/json" };
  if (cfg.authorization !== undefined) headers.authorization = cfg.authorization;
  const call: AuthorizerCall = async (body, signal) => {
    const res = await fetch(cfg.url, { method: "POST", headers, body, signal, redirect: "error" });
    return { status: res.status, body: await readBounded(res.body, cfg.maxResponseBytes) };
  };
  return createAuthorizerBackend("http", cfg, call, deps.now);
}
