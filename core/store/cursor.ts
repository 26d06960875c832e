import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { InvalidStoreInput } from "./errors.js";

const PREFIX = "s1.";
const IV = 12;
const TAG = 16;

/**
 * Sealed page cursors: AES-256-GCM under a secret only the store's servers know (kept in the store itself, see
 * docs/store.md), so a cursor handed to a REST caller reveals nothing (not the last topic scanned, which may lie
 * outside what the caller may read) and cannot be forged or altered. A cursor is bound to the lookup it continues.
 */
export class CursorSeal {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new InvalidStoreInput("cursor secret must be 32 bytes");
  }

  static random(): CursorSeal {
    return new CursorSeal(randomBytes(32));
  }

  /** `context` (the lookup, e.g. the filter) is authenticated, not stored: the cursor only opens with it. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(IV);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    c.setAAD(Buffer.from(context));
    const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), body]).toString("base64url");
  }

  /** The sealed text; InvalidStoreInput for anything this store did not seal for this context. */
  open(cursor: string, context: string): string {
    const raw = cursor.startsWith(PREFIX) && /^[A-Za-z0-9_-]+$/.test(cursor.slice(PREFIX.length)) ? Buffer.from(cursor.slice(PREFIX.length), "base64url") : null;
    if (raw === null || raw.length < IV + TAG) throw new InvalidStoreInput("invalid cursor");
    try {
      const d = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV));
      d.setAAD(Buffer.from(context));
      d.setAuthTag(raw.subarray(IV, IV + TAG));
      return Buffer.concat([d.update(raw.subarray(IV + TAG)), d.final()]).toString("utf8");
    } catch {
      throw new InvalidStoreInput("invalid cursor");
    }
  }
}
