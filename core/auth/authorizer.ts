/**
 * The contract shared by the HTTP and Lambda authorizers: the request the broker sends for each CONNECT, the
 * answers it accepts, and the call discipline (timeout, bounded answer, circuit breaker). docs/auth.md, "HTTP and
 * Lambda authorizers".
 *
 * Request (JSON): { clientId, username, password (base64), remoteAddress, certificate?: { commonName, altNames,
 * fingerprint256 } } plus the AWS IoT Core custom authorizer event fields (protocols, protocolData.mqtt with the
 * same values, protocolData.tls), so an IoT / SST Realtime authorizer reads what it always read.
 *
 * Answers:
 * - ours: { result: "allow" | "deny" | "ignore", publish?, subscribe?, acl?, ttl? (seconds), expiresAt? (epoch s) };
 * - SST Realtime's inner result: { publish: [...], subscribe: [...] } (allow);
 * - AWS IoT Core's: { isAuthenticated, principalId, policyDocuments, disconnectAfterInSeconds, refreshAfterInSeconds }.
 *
 * Outcomes: allow -> the rules; deny -> CONNACK 0x05 (0x04 for { result: "deny", reason: "bad-credentials" });
 * ignore -> next backend; failure (transport error, timeout, 5xx, unreadable answer) or breaker open -> 0x03.
 */
import type { AuthorizerCallConfig } from "../config/types.js";
import type { AuthBackend, AuthRequest, BackendVerdict } from "./backend.js";
import { CircuitBreaker } from "./breaker.js";
import { externalRules } from "./external-rules.js";
import { rulesFromIotPolicies } from "./iot-policy.js";
import { policyFromRules, type RuleInput } from "./rules.js";

/** What a transport brings back: a status (HTTP; Lambda: 200) and the body, already bounded in size. */
export interface AuthorizerReply {
  status: number;
  body: string;
}

/** Sends one request; rejects on transport failure or when `signal` aborts (timeout). */
export type AuthorizerCall = (body: string, signal: AbortSignal) => Promise<AuthorizerReply>;

export function authorizerRequest(request: AuthRequest, password: Buffer | undefined): string {
  const b64 = password?.toString("base64");
  const cert = request.certificate;
  return JSON.stringify({
    clientId: request.clientId,
    username: request.username,
    password: b64,
    remoteAddress: request.remoteAddress,
    protocolVersion: request.protocolVersion,
    certificate: cert === undefined ? undefined : { commonName: cert.commonName, altNames: cert.altNames, fingerprint256: cert.fingerprint256 },
    // AWS IoT Core custom authorizer event shape.
    signatureVerified: false,
    protocols: cert === undefined ? ["mqtt"] : ["tls", "mqtt"],
    protocolData: { mqtt: { username: request.username, password: b64, clientId: request.clientId } },
  });
}

/** A failure of the authorizer (not a decision about the client): counts for the breaker, answers 0x03. */
class AuthorizerFailure extends Error {
  override readonly name = "AuthorizerFailure";
}

type Decision = { kind: "allow"; rules: RuleInput[]; ttlMs?: number | undefined; expiresAt?: number | undefined; identity?: string | undefined } | { kind: "deny"; returnCode: 4 | 5; reason: string } | { kind: "next" };

function seconds(v: unknown, max: number): number | undefined {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.min(v, max) : undefined;
}

function rulesOrFailure(value: unknown): RuleInput[] {
  const rules = externalRules(value);
  if (typeof rules === "string") throw new AuthorizerFailure(`rules refused: ${rules}`);
  return rules;
}

/** Interprets an answer body (any accepted shape); throws AuthorizerFailure when it is none of them. */
export function interpretAnswer(text: string): Decision {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AuthorizerFailure("answer is not JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new AuthorizerFailure("answer is not a JSON object");
  const o = body as Record<string, unknown>;
  if ("isAuthenticated" in o) {
    if (o.isAuthenticated !== true) return { kind: "deny", returnCode: 5, reason: "authorizer: isAuthenticated false" };
    const rules = rulesFromIotPolicies(o.policyDocuments ?? []);
    if (typeof rules === "string") throw new AuthorizerFailure(rules);
    const disconnect = seconds(o.disconnectAfterInSeconds, 86_400 * 365);
    const refresh = seconds(o.refreshAfterInSeconds, 86_400);
    return {
      kind: "allow",
      rules,
      ttlMs: refresh !== undefined ? refresh * 1000 : undefined,
      expiresAt: disconnect !== undefined ? Date.now() + disconnect * 1000 : undefined,
      identity: typeof o.principalId === "string" && o.principalId !== "" ? o.principalId : undefined,
    };
  }
  if ("result" in o) {
    const ttl = seconds(o.ttl, 86_400);
    switch (o.result) {
      case "allow": {
        const rules = [...(o.acl !== undefined ? rulesOrFailure(o.acl) : [])];
        if (o.publish !== undefined || o.subscribe !== undefined) rules.push(...rulesOrFailure({ publish: o.publish ?? [], subscribe: o.subscribe ?? [] }));
        const exp = seconds(o.expiresAt, Number.MAX_SAFE_INTEGER / 1000);
        return { kind: "allow", rules, ttlMs: ttl !== undefined ? ttl * 1000 : undefined, expiresAt: exp !== undefined ? exp * 1000 : undefined };
      }
      case "deny":
        return { kind: "deny", returnCode: o.reason === "bad-credentials" ? 4 : 5, reason: `authorizer denied${typeof o.reason === "string" ? `: ${o.reason.slice(0, 200)}` : ""}` };
      case "ignore":
        return { kind: "next" };
      default:
        throw new AuthorizerFailure(`unknown result ${JSON.stringify(o.result)?.slice(0, 50)}`);
    }
  }
  if ("publish" in o || "subscribe" in o) {
    // SST Realtime's authorizer result: the topic lists it grants.
    return { kind: "allow", rules: rulesOrFailure({ publish: o.publish ?? [], subscribe: o.subscribe ?? [] }) };
  }
  throw new AuthorizerFailure("answer has none of result, isAuthenticated, publish/subscribe");
}

/** `p`, or a rejection when `signal` aborts first (a transport that ignores the signal cannot hold a CONNECT). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** An AuthBackend over `call`, with timeout and circuit breaker. */
export function createAuthorizerBackend(name: string, cfg: AuthorizerCallConfig, call: AuthorizerCall, now: () => number = Date.now): AuthBackend & { readonly breaker: CircuitBreaker } {
  const breaker = new CircuitBreaker(cfg.breakerFailures, cfg.breakerOpenSeconds * 1000, now);
  let inFlight = 0;
  return {
    name,
    breaker,
    async authenticate(request: AuthRequest, password: Buffer | undefined): Promise<BackendVerdict> {
      // A CONNECT flood must not become an unbounded number of calls (sockets, memory) to the authorizer.
      if (inFlight >= cfg.maxInFlight) return { kind: "deny", returnCode: 3, reason: `${name} authorizer busy (${cfg.maxInFlight} calls in flight)` };
      if (!breaker.tryAcquire()) return { kind: "deny", returnCode: 3, reason: `${name} authorizer unavailable (circuit breaker open)` };
      let decision: Decision;
      inFlight++;
      try {
        const signal = AbortSignal.timeout(cfg.timeoutMs);
        const reply = await abortable(call(authorizerRequest(request, password), signal), signal);
        if (reply.status === 204) decision = { kind: "next" };
        else if (reply.status === 401) decision = { kind: "deny", returnCode: 4, reason: `${name} authorizer: 401` };
        else if (reply.status === 403) decision = { kind: "deny", returnCode: 5, reason: `${name} authorizer: 403` };
        else if (reply.status < 200 || reply.status > 299) throw new AuthorizerFailure(`status ${reply.status}`);
        else decision = interpretAnswer(reply.body);
      } catch (err) {
        breaker.failure();
        const why = err instanceof Error ? (err.name === "TimeoutError" ? `timed out after ${cfg.timeoutMs} ms` : err.message) : String(err);
        return { kind: "deny", returnCode: 3, reason: `${name} authorizer failed: ${why}` };
      } finally {
        inFlight--;
      }
      breaker.success();
      if (decision.kind !== "allow") return decision;
      const identity = decision.identity ?? request.username;
      const ttlMs = decision.ttlMs ?? cfg.defaultTtlSeconds * 1000;
      return {
        kind: "allow",
        policy: policyFromRules(decision.rules, request.clientId, request.username),
        identity,
        expiresAt: decision.expiresAt,
        cacheMs: decision.expiresAt !== undefined ? Math.min(ttlMs, Math.max(0, decision.expiresAt - now())) : ttlMs,
      };
    },
  };
}

/** Reads at most `max` bytes of a response body; more is a failure (an authorizer answer is small). */
export async function readBounded(body: ReadableStream<Uint8Array> | null, max: number): Promise<string> {
  if (body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new AuthorizerFailure(`answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function tooLarge(size: number, max: number): AuthorizerFailure {
  return new AuthorizerFailure(`answer larger than ${max} bytes (${size})`);
}
