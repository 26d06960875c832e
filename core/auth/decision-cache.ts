/**
 * The chain's per-node decision cache (docs/auth.md, "Caching and revocation"). Bounded (least recently used
 * entries go first) with a TTL per entry. The key is client id + user name + an HMAC of the password under a
 * random per-process key (+ the certificate fingerprint): the password itself is never kept, and the key cannot be
 * reversed or precomputed outside this process. Only "allow" decisions are cached: a refused client always meets
 * the backends again (so a user created a moment ago is never refused from the cache).
 */
import { createHmac, randomBytes } from "node:crypto";
import type { AuthRequest } from "./backend.js";
import type { ClientPolicy } from "./types.js";

export interface CachedDecision {
  readonly policy: ClientPolicy;
  /** The backend that allowed it. */
  readonly backend: string;
  readonly username: string | undefined;
  readonly expiresAt: number | undefined;
  /** Epoch ms after which the entry is stale. */
  readonly staleAt: number;
}

export class DecisionCache {
  private readonly secret = randomBytes(32);
  private readonly entries = new Map<string, CachedDecision>();
  /** User name -> keys of its entries, for invalidation. */
  private readonly byUser = new Map<string, Set<string>>();

  constructor(
    readonly ttlMs: number,
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.capacity > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  keyOf(request: AuthRequest, password: Buffer | undefined): string {
    const mac = password === undefined ? "-" : createHmac("sha256", this.secret).update(password).digest("base64");
    return `${request.clientId}\0${request.username ?? "\u0001"}\0${mac}\0${request.certificate?.fingerprint256 ?? ""}`;
  }

  get(key: string): CachedDecision | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    const now = this.now();
    if (e.staleAt <= now || (e.expiresAt !== undefined && e.expiresAt <= now)) {
      this.remove(key, e);
      return undefined;
    }
    this.entries.delete(key); // most recently used last
    this.entries.set(key, e);
    return e;
  }

  /** Caches for min(ttl, `cacheMs`), never beyond `expiresAt`. */
  set(key: string, d: Omit<CachedDecision, "staleAt">, cacheMs: number | undefined): void {
    if (!this.enabled || cacheMs === 0) return;
    const ttl = cacheMs === undefined ? this.ttlMs : Math.min(cacheMs, this.ttlMs);
    const now = this.now();
    const staleAt = Math.min(now + ttl, d.expiresAt ?? Infinity);
    if (staleAt <= now) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    while (this.entries.size >= this.capacity) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, CachedDecision];
      this.remove(oldestKey, oldest);
    }
    // Built field by field, not `{ ...d, staleAt }`: V8 gave every spread copy a hidden class of its own (about
    // 216 bytes of Map and DescriptorArray per cached client, seen in a heap snapshot of 2,000 devices).
    this.entries.set(key, { policy: d.policy, backend: d.backend, username: d.username, expiresAt: d.expiresAt, staleAt });
    if (d.username !== undefined) {
      let keys = this.byUser.get(d.username);
      if (keys === undefined) this.byUser.set(d.username, (keys = new Set()));
      keys.add(key);
    }
  }

  /** Drops the entries of these user names (any backend). */
  forgetUsers(usernames: Iterable<string>): void {
    for (const u of usernames) {
      for (const key of this.byUser.get(u) ?? []) {
        const e = this.entries.get(key);
        if (e !== undefined) this.remove(key, e);
      }
    }
  }

  /** Drops the entries a backend allowed (e.g. every store decision after a role change). */
  forgetBackend(backend: string): void {
    for (const [key, e] of this.entries) if (e.backend === backend) this.remove(key, e);
  }

  clear(): void {
    this.entries.clear();
    this.byUser.clear();
  }

  private remove(key: string, e: CachedDecision): void {
    this.entries.delete(key);
    if (e.username === undefined) return;
    const keys = this.byUser.get(e.username);
    keys?.delete(key);
    if (keys?.size === 0) this.byUser.delete(e.username);
  }
}
