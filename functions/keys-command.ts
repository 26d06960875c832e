import { parseArgs } from "node:util";
import type { Store } from "../core/store/types.js";
import type { TopicLimits } from "../core/topic/index.js";
import { createApiKey, SCOPES, type Scope } from "./api-keys.js";

/**
 * `npm run keys -- <command>`: create, list and revoke REST API keys in the store (scripts/keys.ts wires it to
 * the process). The key is printed once, on stdout, when created; the store keeps only its sha256.
 */

export const KEYS_USAGE = `usage:
  npm run keys -- create --name NAME --scopes publish,read,admin [--topics PATTERN]...
      --topics is an MQTT topic filter the key is restricted to; repeat it for several; default '#'
      prints the new key on stdout (shown only this once)
  npm run keys -- list [--json]
  npm run keys -- revoke ID
The store is Redis when MQGATE_REDIS_URL is set, else an in-memory store that ends with the command.`;

export interface KeysIo {
  store: Store;
  limits: TopicLimits;
  out(line: string): void;
  err(line: string): void;
}

/** Runs one command; resolves with the process exit code (0 ok, 1 failure, 2 usage). */
export async function runKeysCommand(argv: readonly string[], io: KeysIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "create":
        return await create(rest, io);
      case "list":
        return await list(rest, io);
      case "revoke":
        return await revoke(rest, io);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        io.err(KEYS_USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err(`keys: unknown command '${command}'\n${KEYS_USAGE}`);
        return 2;
    }
  } catch (err) {
    const usage = (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true;
    io.err(`keys: ${(err as Error).message}${usage ? `\n${KEYS_USAGE}` : ""}`);
    return usage ? 2 : 1;
  }
}

async function create(args: readonly string[], io: KeysIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { name: { type: "string" }, scopes: { type: "string" }, topics: { type: "string", multiple: true } },
    strict: true,
    allowPositionals: false,
  });
  if (values.name === undefined) throw usageError("create needs --name");
  if (values.scopes === undefined) throw usageError(`create needs --scopes (${SCOPES.join(", ")}, comma-separated)`);
  const scopes = values.scopes.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const { record, key } = await createApiKey(io.store, { name: values.name, scopes: scopes as Scope[], topics: values.topics ?? ["#"] }, io.limits);
  warnIfMemory(io);
  io.err(`created API key ${record.id} '${record.name}': scopes ${record.scopes.join(",")}, topics ${record.topics.join(" ")}`);
  io.err("the key is shown only now; store it safely:");
  io.out(key);
  return 0;
}

async function list(args: readonly string[], io: KeysIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" } }, strict: true, allowPositionals: false });
  const keys = (await io.store.listApiKeys()).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  if (values.json === true) {
    io.out(JSON.stringify(keys.map(({ hash: _hash, ...k }) => ({ ...k, createdAt: new Date(k.createdAt).toISOString() }))));
    return 0;
  }
  warnIfMemory(io);
  if (keys.length === 0) {
    io.err("no API keys");
    return 0;
  }
  const rows = keys.map((k) => [k.id, k.name, k.scopes.join(","), k.topics.join(" "), new Date(k.createdAt).toISOString()]);
  const head = ["ID", "NAME", "SCOPES", "TOPICS", "CREATED"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const r of [head, ...rows]) io.out(r.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd());
  return 0;
}

async function revoke(args: readonly string[], io: KeysIo): Promise<number> {
  const { positionals } = parseArgs({ args: [...args], options: {}, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw usageError("revoke needs exactly one key id (see `npm run keys -- list`)");
  const id = positionals[0] as string;
  if (!(await io.store.deleteApiKey(id))) {
    io.err(`keys: no API key with id '${id}'`);
    return 1;
  }
  io.err(`revoked API key ${id}`);
  return 0;
}

function usageError(message: string): Error {
  return Object.assign(new Error(message), { code: "ERR_PARSE_ARGS_USAGE" });
}

function warnIfMemory(io: KeysIo): void {
  if (io.store.kind !== "memory") return;
  io.err(
    "warning: MQGATE_REDIS_URL is not set, so this works on an in-memory store that ends with this command. " +
      "For `npm start`, set MQGATE_API_KEY (an admin key) or use the key it prints; with a shared Redis, set MQGATE_REDIS_URL.",
  );
}
