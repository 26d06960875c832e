import { randomBytes } from "node:crypto";
import { InvalidStoreInput } from "./errors.js";
import { type IdempotencyBegin, type IdempotencyStore, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_IDEMPOTENT_ANSWER_BYTES } from "./idempotency-types.js";
import { idempotencyKey } from "./keys.js";
import { asArray, asInt, asString } from "./redis-replies.js";
import { IDEMPOTENT_ABANDON, IDEMPOTENT_BEGIN, IDEMPOTENT_FINISH } from "./scripts-idempotency.js";
import type { RedisClient } from "./transport.js";
import { checkInt, checkText } from "./validate.js";

/** The idempotency records (idempotency-types.ts) on the memory store and on Redis, with the checks both share. */

const PRINTABLE = /^[\x20-\x7e]+$/;
const FINGERPRINT = /^[0-9a-f]{64}$/;
const TOKEN = /^[0-9a-f]{32}$/;

function fail(message: string): never {
  throw new InvalidStoreInput(message);
}

function checkRecord(scope: string, key: string, fingerprint: string, ms: number): void {
  checkText(scope, "scope");
  if (scope.length === 0) fail("scope must not be empty");
  if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE.test(key)) {
    fail(`an idempotency key is 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`);
  }
  if (!FINGERPRINT.test(fingerprint)) fail("fingerprint must be 64 lower-case hex digits (sha256)");
  checkInt(ms, "ttl", 1);
}

function checkToken(token: string): void {
  if (!TOKEN.test(token)) fail("invalid idempotency token");
}

function checkAnswer(answer: string): void {
  checkText(answer, "answer");
  if (Buffer.byteLength(answer, "utf8") > MAX_IDEMPOTENT_ANSWER_BYTES) fail(`an idempotent answer is at most ${MAX_IDEMPOTENT_ANSWER_BYTES} bytes`);
}

function newToken(): string {
  return randomBytes(16).toString("hex");
}

interface MemRecord {
  fingerprint: string;
  /** Pending: the request's token; done: null. */
  token: string | null;
  answer: string;
  expiresAt: number;
}

/** Records in a map, each with its expiry; expired ones are dropped when met and swept from the oldest on writes. */
export class MemoryIdempotency implements IdempotencyStore {
  private readonly records = new Map<string, MemRecord>();

  constructor(private readonly now: () => number = Date.now) {}

  private live(id: string): MemRecord | undefined {
    const r = this.records.get(id);
    if (r !== undefined && r.expiresAt <= this.now()) {
      this.records.delete(id);
      return undefined;
    }
    return r;
  }

  /** Forgets expired records, oldest first (insertion order), stopping at the first live one. */
  private sweep(): void {
    const now = this.now();
    for (const [id, r] of this.records) {
      if (r.expiresAt > now) break;
      this.records.delete(id);
    }
  }

  private set(id: string, r: MemRecord): void {
    this.records.delete(id);
    this.records.set(id, r);
  }

  async beginIdempotent(scope: string, key: string, fingerprint: string, pendingMs: number): Promise<IdempotencyBegin> {
    checkRecord(scope, key, fingerprint, pendingMs);
    this.sweep();
    const id = idempotencyKey(scope, key);
    const r = this.live(id);
    if (r === undefined) {
      const token = newToken();
      this.set(id, { fingerprint, token, answer: "", expiresAt: this.now() + pendingMs });
      return { state: "new", token };
    }
    if (r.fingerprint !== fingerprint) return { state: "mismatch" };
    return r.token !== null ? { state: "pending" } : { state: "done", answer: r.answer };
  }

  async finishIdempotent(scope: string, key: string, fingerprint: string, token: string, answer: string, ttlMs: number): Promise<boolean> {
    checkRecord(scope, key, fingerprint, ttlMs);
    checkToken(token);
    checkAnswer(answer);
    const id = idempotencyKey(scope, key);
    const r = this.live(id);
    if (r === undefined || r.token !== token || r.fingerprint !== fingerprint) return false;
    this.set(id, { fingerprint, token: null, answer, expiresAt: this.now() + ttlMs });
    return true;
  }

  async abandonIdempotent(scope: string, key: string, fingerprint: string, token: string): Promise<void> {
    checkRecord(scope, key, fingerprint, 1);
    checkToken(token);
    const id = idempotencyKey(scope, key);
    const r = this.live(id);
    if (r !== undefined && r.token === token && r.fingerprint === fingerprint) this.records.delete(id);
  }
}

/** The records on Redis: one string key each with a TTL; each call is one script (one round trip). */
export class RedisIdempotency implements IdempotencyStore {
  constructor(private readonly client: RedisClient) {}

  async beginIdempotent(scope: string, key: string, fingerprint: string, pendingMs: number): Promise<IdempotencyBegin> {
    checkRecord(scope, key, fingerprint, pendingMs);
    const token = newToken();
    const a = asArray(await this.client.eval(IDEMPOTENT_BEGIN, [idempotencyKey(scope, key)], [fingerprint, token, String(pendingMs)]), "idempotent begin");
    const state = asString(a[0], "idempotent state");
    if (state === "new") return { state, token };
    if (state === "pending" || state === "mismatch") return { state };
    if (state === "done") return { state, answer: asString(a[1], "idempotent answer") };
    throw new InvalidStoreInput(`unexpected idempotent state '${state}'`);
  }

  async finishIdempotent(scope: string, key: string, fingerprint: string, token: string, answer: string, ttlMs: number): Promise<boolean> {
    checkRecord(scope, key, fingerprint, ttlMs);
    checkToken(token);
    checkAnswer(answer);
    const r = await this.client.eval(IDEMPOTENT_FINISH, [idempotencyKey(scope, key)], [fingerprint, token, answer, String(ttlMs)]);
    return asInt(r, "idempotent finish") === 1;
  }

  async abandonIdempotent(scope: string, key: string, fingerprint: string, token: string): Promise<void> {
    checkRecord(scope, key, fingerprint, 1);
    checkToken(token);
    await this.client.eval(IDEMPOTENT_ABANDON, [idempotencyKey(scope, key)], [fingerprint, token]);
  }
}
