/**
 * The authentication chain (issue 15; docs/auth.md, "The chain"). `auth.backends` is an ordered list of backends;
 * each answers allow (with a policy), deny, or "next" (not mine). The first allow or deny decides:
 *
 * - allow: CONNACK 0; the policy governs the connection. Cached per node (see decision-cache.ts).
 * - deny 4 / 5: CONNACK 4 / 5. deny 3 (the backend cannot decide: an authorizer that is down): CONNACK 3, via a
 *   rejected promise, which the CONNECT handler answers with 0x03. A backend that throws gets the same answer.
 * - every backend said "next": 0x04 when the client gave a user name (bad user name or password; after a decoy
 *   password check, so unknown user names cost as much as wrong passwords), 0x05 for an anonymous client.
 *
 * `auth.mode` stays as shorthand: without `auth.backends`, mode 'acl' is the chain [acl], 'allow-all' [allow-all].
 */
import type { AuthConfig } from "../config/types.js";
import type { IdentityStore } from "../store/identity-types.js";
import { aclBackend, allowAllBackend } from "./acl-backend.js";
import { loadAclFile } from "./acl.js";
import { createAllowAll } from "./allow-all.js";
import type { AuthBackend, AuthRequest } from "./backend.js";
import { addressKey } from "./address.js";
import { DecisionCache } from "./decision-cache.js";
import { createExternalBackend, isExternalBackend } from "./external-backends.js";
import { decoyFor } from "./password.js";
import { createStoreBackend, type StoreAuthBackend } from "./store-backend.js";
import type { Auth, AuthStats, ClientInfo, ClientPolicy, ConnectDecision } from "./types.js";
import { PasswordVerifier, VERIFIER_DEFAULTS } from "./verifier.js";

/** Defaults of the chain's decision cache (`auth.decisionCacheSeconds`, `auth.decisionCacheSize`) and identity sync. */
export const AUTH_CACHE_DEFAULTS = Object.freeze({ cacheSeconds: 60, cacheSize: 10_000, syncIntervalMs: 250 });

/** A backend could not decide (deny 3, e.g. an authorizer that is down): the client gets CONNACK 0x03. */
export class AuthUnavailableError extends Error {
  override readonly name = "AuthUnavailableError";
  readonly returnCode = 3;
}

/** What the chain knows about a policy it handed out. */
export interface PolicyOrigin {
  readonly backend: string;
  readonly identity: string | undefined;
  readonly expiresAt: number | undefined;
}

export interface ChainOptions {
  cacheSeconds?: number | undefined;
  cacheSize?: number | undefined;
  /** The node's password checks (fair queue and cache of successes, decision 010); the end-of-chain decoy uses it. */
  verifier?: PasswordVerifier | undefined;
  now?: () => number;
}

function refuse(returnCode: 4 | 5, reason: string): ConnectDecision {
  return { ok: false, returnCode, reason };
}

/** Times a decision is asked again when identities changed meanwhile (see `authenticate`). */
const MAX_RETRIES = 2;

/** Unknown users' passwords are checked against it (see the header), through the same queue as real checks. */
const DECOY = decoyFor(undefined);

export class AuthChain implements Auth {
  readonly name: string;
  readonly cache: DecisionCache;
  private readonly origins = new WeakMap<ClientPolicy, PolicyOrigin>();
  /** Bumped by every `invalidate`: decisions begun before it are not cached and are asked again. */
  private generation = 0;
  private readonly verifier: PasswordVerifier;

  constructor(
    readonly backends: readonly AuthBackend[],
    opts: ChainOptions = {},
  ) {
    if (backends.length === 0) throw new Error("the auth chain needs at least one backend");
    this.name = backends.length === 1 ? backends[0]!.name : `chain(${backends.map((b) => b.name).join(",")})`;
    const ttl = (opts.cacheSeconds ?? AUTH_CACHE_DEFAULTS.cacheSeconds) * 1000;
    this.cache = new DecisionCache(ttl, opts.cacheSize ?? AUTH_CACHE_DEFAULTS.cacheSize, opts.now);
    this.verifier = opts.verifier ?? new PasswordVerifier(VERIFIER_DEFAULTS);
  }

  /** Counters of the node's password checks (queue and cache), for metrics. */
  stats(): AuthStats {
    return this.verifier.stats();
  }

  /** The `store` backend, when the chain has one (identity sync re-checks its clients). */
  get storeBackend(): StoreAuthBackend | undefined {
    return this.backends.find((b): b is StoreAuthBackend => b.name === "store" && "revalidate" in b && "forget" in b);
  }

  connect(client: ClientInfo, password: Buffer | undefined, signal?: AbortSignal): Promise<ConnectDecision> {
    return this.authenticate(client, password, signal);
  }

  /** `signal` fires when the client's connection closes: its queued password checks are dropped. */
  async authenticate(request: AuthRequest, password: Buffer | undefined, signal?: AbortSignal): Promise<ConnectDecision> {
    const key = this.cache.enabled ? this.cache.keyOf(request, password) : "";
    const hit = key === "" ? undefined : this.cache.get(key);
    if (hit !== undefined) return this.allowed(hit.policy, request);
    // An identity change noticed while a backend was answering may have made its answer stale (it read the store
    // before the change): ask again, so the connection never starts with rules older than the last change seen.
    for (let attempt = 0; ; attempt++) {
      const generation = this.generation;
      const decision = await this.ask(request, password, key, signal);
      if (this.generation === generation || attempt >= MAX_RETRIES || !decision.ok) return decision;
    }
  }

  private async ask(request: AuthRequest, password: Buffer | undefined, key: string, signal: AbortSignal | undefined): Promise<ConnectDecision> {
    const generation = this.generation;
    for (const backend of this.backends) {
      const v = await backend.authenticate(request, password, signal);
      if (v.kind === "next") continue;
      if (v.kind === "deny") {
        if (v.returnCode === 3) throw new AuthUnavailableError(`${backend.name}: ${v.reason}`);
        return refuse(v.returnCode, v.reason);
      }
      const identity = v.identity ?? request.username;
      this.origins.set(v.policy, { backend: backend.name, identity, expiresAt: v.expiresAt });
      if (key !== "" && this.generation === generation) {
        this.cache.set(key, { policy: v.policy, backend: backend.name, username: request.username, expiresAt: v.expiresAt }, v.cacheMs);
      }
      return this.allowed(v.policy, request);
    }
    if (request.username === undefined) return refuse(5, "anonymous clients are not allowed");
    if (password !== undefined) {
      await this.verifier.verify(request.username, password, DECOY, addressKey(request.remoteAddress ?? "unknown"), signal, false);
    }
    return refuse(4, `unknown user ${JSON.stringify(request.username)}`);
  }

  /** The first backend that knows the identity decides; null when none does. */
  policyFor(client: ClientInfo): ClientPolicy | null {
    for (const b of this.backends) {
      const p = b.policyFor?.(client);
      if (p !== undefined) return p;
    }
    return null;
  }

  /** `policyFor`, reading users of the `store` backend from the store (REST acting for an offline client). */
  async resolvePolicy(client: ClientInfo): Promise<ClientPolicy | null> {
    for (const b of this.backends) {
      const p = b === this.storeBackend ? await (b as StoreAuthBackend).resolve(client) : b.policyFor?.(client);
      if (p !== undefined) return p;
    }
    return null;
  }

  /**
   * The CONNECT decision for a policy this chain handed out: the credentials' expiry (the broker closes the
   * connection then), and who owns the client's sessions when that is not the user name (core/auth/identity.ts):
   * a certificate's subject (`cert:<subject>`), or the identity a token names for a client without user name.
   */
  private allowed(policy: ClientPolicy, request: AuthRequest): ConnectDecision {
    const origin = this.origins.get(policy);
    const identity = origin?.identity ?? request.username;
    const backend = origin?.backend;
    // Each kind of credential owns its own sessions: a token whose subject is "alice" is not the user alice of
    // the ACL file or the store (`user:alice`), and so cannot resume or take over her sessions.
    const owner =
      identity === undefined
        ? undefined
        : backend === "x509"
          ? `cert:${identity}`
          : backend === "jwt" || backend === "http" || backend === "lambda"
            ? `${backend}:${identity}`
            : identity !== request.username
              ? `user:${identity}`
              : undefined;
    return {
      ok: true,
      policy,
      ...(owner !== undefined ? { identity: owner } : {}),
      ...(origin?.expiresAt !== undefined ? { expiresAt: origin.expiresAt } : {}),
    };
  }

  /** Which backend handed out `policy` (and the identity, expiry), if this chain did. */
  originOf(policy: ClientPolicy): PolicyOrigin | undefined {
    return this.origins.get(policy);
  }

  /** Users or roles changed in the store: drop what depends on them (a role change drops every store decision). */
  invalidate(change: { users: readonly string[]; roles: readonly string[]; complete: boolean }): void {
    this.generation++;
    const store = this.storeBackend;
    if (!change.complete) {
      this.cache.clear();
      store?.forget();
      return;
    }
    this.cache.forgetUsers(change.users);
    store?.forget(change.users);
    // A certificate's rules may come from a store user of its subject's name: those decisions carry no user name.
    this.cache.forgetBackend("x509");
    if (change.roles.length > 0) {
      this.cache.forgetBackend("store");
      store?.forget();
    }
  }

  async close(): Promise<void> {
    for (const b of this.backends) await b.close?.();
  }
}

export interface AuthDeps {
  /** Users and roles for the `store` backend. */
  store?: IdentityStore | null;
  /** The node's password checks; by default one built from the `auth.*` keys of the configuration. */
  verifier?: PasswordVerifier;
}

/** The node's password checks from the `auth.*` keys (decision 010). */
export function verifierFor(config: AuthChainConfig): PasswordVerifier {
  return new PasswordVerifier({
    hashConcurrency: config.hashConcurrency ?? VERIFIER_DEFAULTS.hashConcurrency,
    maxPending: config.maxPendingAuth ?? VERIFIER_DEFAULTS.maxPending,
    maxWaitMs: config.maxAuthWaitMs ?? VERIFIER_DEFAULTS.maxWaitMs,
    cacheSeconds: config.cacheSeconds ?? VERIFIER_DEFAULTS.cacheSeconds,
    cacheMaxEntries: config.cacheMaxEntries ?? VERIFIER_DEFAULTS.cacheMaxEntries,
  });
}

/** Backends built elsewhere (jwt, http, lambda, x509: issue 15's other half) register here by name. */
export type BackendFactory = (config: AuthChainConfig, deps: AuthDeps) => Promise<AuthBackend> | AuthBackend;
const EXTRA_FACTORIES = new Map<string, BackendFactory>();

export function registerAuthBackend(name: string, factory: BackendFactory): void {
  EXTRA_FACTORIES.set(name, factory);
}

/** The backend names a configuration asks for, in order. */
export function configuredBackends(config: AuthChainConfig): readonly string[] {
  return config.backends ?? [config.mode];
}

/** `resolveOthers`: the chain's `resolvePolicy`, once the chain exists (clients connect only after that). */
async function buildBackend(
  name: string,
  config: AuthChainConfig,
  deps: AuthDeps,
  verifier: PasswordVerifier,
  resolveOthers: (client: ClientInfo) => Promise<ClientPolicy | null>,
): Promise<AuthBackend> {
  switch (name) {
    case "acl":
      if (config.aclFile === undefined || config.aclFile === "") {
        throw new Error("the 'acl' auth backend needs an ACL file but no ACL file is configured: set auth.aclFile (MQGATE_ACL_FILE)");
      }
      return aclBackend(await loadAclFile(config.aclFile, verifier));
    case "allow-all":
      return allowAllBackend(createAllowAll());
    case "store":
      if (deps.store === undefined || deps.store === null) throw new Error("the 'store' auth backend needs the store (internal: pass deps.store)");
      return createStoreBackend({ store: deps.store, verifier });
    default: {
      if (isExternalBackend(name)) {
        // x509 without a rules file takes the rules of the user of that name in the chain's other backends, read
        // from the store for store users (the x509 backend itself has no policyFor, so this never loops).
        return createExternalBackend(name, config, { policyFor: resolveOthers });
      }
      const factory = EXTRA_FACTORIES.get(name);
      if (factory !== undefined) return factory(config, deps);
      if (config.backends === undefined) throw new Error(`unknown auth.mode ${JSON.stringify(name)}: expected 'allow-all' or 'acl'`);
      throw new Error(`auth backend '${name}' is not available in this build (auth.backends)`);
    }
  }
}

/** An auth configuration as the loader returns it, or a partial one (tests, tools): missing keys take defaults. */
export type AuthChainConfig = Partial<AuthConfig> & Pick<AuthConfig, "mode">;

/** Builds the configured chain. Rejects (AclError, Error) when a backend cannot start. */
export async function createAuthChain(config: AuthChainConfig, deps: AuthDeps = {}): Promise<AuthChain> {
  const verifier = deps.verifier ?? verifierFor(config);
  const backends: AuthBackend[] = [];
  let chain: AuthChain | null = null;
  const resolveOthers = async (client: ClientInfo): Promise<ClientPolicy | null> => (chain === null ? null : chain.resolvePolicy(client));
  for (const name of configuredBackends(config)) backends.push(await buildBackend(name, config, deps, verifier, resolveOthers));
  return (chain = new AuthChain(backends, { cacheSeconds: config.decisionCacheSeconds, cacheSize: config.decisionCacheSize, verifier }));
}
