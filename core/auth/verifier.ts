/**
 * Password checks for a node: a short-lived cache of successful verifications in front of a fair, bounded
 * queue (fair-queue.ts) in front of the hash functions (password.ts).
 *
 * The cache key is HMAC-SHA256 under a random key made at start (never stored, never sent) over the user name,
 * the stored hash the password was checked against, and the password: the plain text is never kept, a
 * cache entry cannot be used to test guesses without the process key, and an entry stops matching as soon
 * as the user's stored hash changes. Only successes are cached (a failure costs the full check every time,
 * and an attacker cannot fill the cache). Entries expire after `cacheSeconds`; at most `cacheMaxEntries` are
 * kept, the oldest evicted first.
 */
import { createHmac, randomBytes } from "node:crypto";
import { FairQueue, type FairQueueStats } from "./fair-queue.js";
import { type StoredHash, verifyPassword } from "./password.js";

export interface VerifierOptions {
  /** Hash computations running at once. */
  hashConcurrency: number;
  /** Checks waiting at once. */
  maxPending: number;
  /** Refuse an address's new checks while its oldest waiting one has waited longer than this (ms); 0 = never. */
  maxWaitMs: number;
  /** How long a successful check is remembered; 0 = no cache. */
  cacheSeconds: number;
  cacheMaxEntries: number;
  /** Milliseconds clock, injectable for tests. */
  now?: () => number;
}

export interface AuthStats extends FairQueueStats {
  cacheHits: number;
  cacheMisses: number;
  cacheEntries: number;
}

/** The defaults of the auth.* keys (core/config/schema.ts keeps the same numbers). */
export const VERIFIER_DEFAULTS: Readonly<VerifierOptions> = Object.freeze({
  hashConcurrency: 2,
  maxPending: 10_000,
  maxWaitMs: 5000,
  cacheSeconds: 300,
  cacheMaxEntries: 100_000,
});

export class PasswordVerifier {
  private readonly queue: FairQueue;
  private readonly key = randomBytes(32);
  /** HMAC (base64) -> expiry (ms). Map order is insertion order, so the first entry is the oldest. */
  private readonly cache = new Map<string, number>();
  private readonly now: () => number;
  private hits = 0;
  private misses = 0;

  constructor(private readonly opts: VerifierOptions = VERIFIER_DEFAULTS) {
    this.now = opts.now ?? Date.now;
    this.queue = new FairQueue({
      concurrency: opts.hashConcurrency,
      maxPending: opts.maxPending,
      maxWaitMs: opts.maxWaitMs,
      ...(opts.now !== undefined ? { now: opts.now } : {}),
    });
  }

  /**
   * Does `password` match `stored`? `source` is the fairness key (the client's address). Rejects with
   * AuthBusyError (answer 0x03) or AuthCancelledError (the client left). `cacheable` false for decoy checks.
   */
  async verify(username: string, password: Buffer, stored: StoredHash, source: string, signal?: AbortSignal, cacheable = true): Promise<boolean> {
    const useCache = cacheable && this.opts.cacheSeconds > 0;
    let key = "";
    if (useCache) {
      key = this.cacheKey(username, password, stored);
      const expires = this.cache.get(key);
      if (expires !== undefined) {
        if (expires > this.now()) {
          this.hits++;
          return true;
        }
        this.cache.delete(key);
      }
      this.misses++;
    }
    const ok = await this.queue.run(source, () => verifyPassword(password, stored), signal);
    if (ok && useCache) this.remember(key);
    return ok;
  }

  stats(): AuthStats {
    return { ...this.queue.stats(), cacheHits: this.hits, cacheMisses: this.misses, cacheEntries: this.cache.size };
  }

  private cacheKey(username: string, password: Buffer, stored: StoredHash): string {
    const h = createHmac("sha256", this.key);
    h.update(username).update("\0").update(stored.kind).update("\0").update(stored.salt).update(stored.hash).update("\0").update(password);
    return h.digest("base64");
  }

  private remember(key: string): void {
    this.cache.delete(key);
    while (this.cache.size >= this.opts.cacheMaxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(key, this.now() + this.opts.cacheSeconds * 1000);
  }
}
