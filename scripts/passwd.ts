/**
 * Prints an scrypt hash for the ACL file's `password` field.
 *
 *   npm run passwd -- 'secret'        # from the argument (ends up in shell history)
 *   printf %s 'secret' | npm run passwd   # from stdin (one trailing newline is stripped)
 */
import { hashPassword } from "../core/auth/password.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

const args = process.argv.slice(2);
if (args.length > 1 || args[0] === "-h" || args[0] === "--help") {
  process.stderr.write("usage: passwd <password>   or   passwd < file-with-password\n");
  process.exit(2);
}
if (args.length === 0 && process.stdin.isTTY) process.stderr.write("password (then Ctrl-D): ");
const password = args[0] ?? (await readStdin());
if (password.length === 0) {
  process.stderr.write("passwd: empty password\n");
  process.exit(2);
}
process.stdout.write(`${await hashPassword(password)}\n`);
