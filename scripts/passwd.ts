/**
 * Prints a password hash for the ACL file's `password` field (or a Mosquitto password file's line).
 *
 *   npm run passwd -- 'secret'                     # scrypt (for passwords people choose)
 *   printf %s 'secret' | npm run passwd            # from stdin (one trailing newline is stripped)
 *   npm run passwd -- --pbkdf2 "$DEVICE_TOKEN"     # PBKDF2-SHA512 in mosquitto_passwd's $7$ format
 *   npm run passwd -- --pbkdf2 --iterations 210000 'secret'
 *   npm run passwd -- --pbkdf2 --user device-1 "$TOKEN"   # a whole `device-1:$7$...` password-file line
 *
 * PBKDF2 with few iterations is for machine credentials (long random secrets): see docs/auth.md.
 */
import { hashPbkdf2, MOSQUITTO_HASH_LIMITS, PBKDF2_DEFAULTS } from "../core/auth/mosquitto-hash.js";
import { hashPassword } from "../core/auth/password.js";

const USAGE = `usage: passwd [--pbkdf2 [--iterations N]] [--user NAME] [<password>]   (password from stdin when omitted)
  --pbkdf2         PBKDF2-SHA512, Mosquitto's $7$ format (default: scrypt)
  --iterations N   PBKDF2 iterations, 1..${MOSQUITTO_HASH_LIMITS.maxIterations} (default ${PBKDF2_DEFAULTS.iterations})
  --user NAME      print a password-file line NAME:<hash>
`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function fail(message: string): never {
  process.stderr.write(`passwd: ${message}\n${USAGE}`);
  process.exit(2);
}

const args = process.argv.slice(2);
let pbkdf2 = false;
let iterations: number | undefined;
let user: string | undefined;
const rest: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === "-h" || a === "--help") fail("help");
  else if (a === "--pbkdf2") pbkdf2 = true;
  else if (a === "--iterations") {
    const n = Number(args[++i]);
    if (!Number.isInteger(n) || n < 1 || n > MOSQUITTO_HASH_LIMITS.maxIterations) fail(`--iterations must be an integer 1..${MOSQUITTO_HASH_LIMITS.maxIterations}`);
    iterations = n;
  } else if (a === "--user") {
    user = args[++i];
    if (user === undefined || user === "" || user.includes(":")) fail("--user needs a name without ':'");
  } else if (a.startsWith("--")) fail(`unknown option ${a}`);
  else rest.push(a);
}
if (rest.length > 1) fail("one password at most");
if (iterations !== undefined && !pbkdf2) fail("--iterations goes with --pbkdf2");
if (rest.length === 0 && process.stdin.isTTY) process.stderr.write("password (then Ctrl-D): ");
const password = rest[0] ?? (await readStdin());
if (password.length === 0) fail("empty password");
const hash = pbkdf2 ? await hashPbkdf2(password, iterations !== undefined ? { iterations } : {}) : await hashPassword(password);
process.stdout.write(user !== undefined ? `${user}:${hash}\n` : `${hash}\n`);
