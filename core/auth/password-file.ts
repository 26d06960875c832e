/**
 * Mosquitto's password file (`password_file`, written by `mosquitto_passwd`): one `username:hash` per line,
 * `#` starts a comment line, blank lines are skipped. The ACL file names it with `passwordFile`, so an
 * existing Mosquitto deployment's users import as they are. Hashes are `$7$` (PBKDF2-SHA512), `$6$` (SHA-512)
 * or mqgate's `scrypt$...`; a plain-text password (a file never run through `mosquitto_passwd -U`) is refused.
 */
import { parseStoredHash, type StoredHash } from "./password.js";

export interface PasswordFileEntry {
  username: string;
  hash: StoredHash;
  /** 1-based line number, for messages. */
  line: number;
}

export interface PasswordFileIssue {
  line: number;
  message: string;
}

/** Entries and problems of a password file's text (every problem is reported, none echoes a password). */
export function parsePasswordFile(text: string): { entries: PasswordFileEntry[]; issues: PasswordFileIssue[] } {
  const entries: PasswordFileEntry[] = [];
  const issues: PasswordFileIssue[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i]!.replace(/\r$/, "").trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const colon = raw.indexOf(":");
    if (colon <= 0) {
      issues.push({ line, message: "expected 'username:hash'" });
      continue;
    }
    const username = raw.slice(0, colon);
    const encoded = raw.slice(colon + 1);
    if (encoded.includes(":")) {
      issues.push({ line, message: `user ${JSON.stringify(username)}: expected 'username:hash' with one ':'` });
      continue;
    }
    if (username === "*" || username === "$anonymous") {
      issues.push({ line, message: `'${username}' is reserved for rules` });
      continue;
    }
    try {
      entries.push({ username, hash: parseStoredHash(encoded), line });
    } catch (err) {
      const plain = !encoded.startsWith("$") && !encoded.startsWith("scrypt$");
      issues.push({
        line,
        message: plain
          ? `user ${JSON.stringify(username)}: plain-text password; hash the file first (mosquitto_passwd -U <file>, or npm run passwd -- --pbkdf2)`
          : `user ${JSON.stringify(username)}: ${(err as Error).message}`,
      });
    }
  }
  return { entries, issues };
}
