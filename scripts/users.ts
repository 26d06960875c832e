/**
 * Manages the users and roles of the `store` auth backend in the configured store (Redis when MQGATE_REDIS_URL is
 * set). See scripts/lib/users-command.ts for the commands and docs/auth.md.
 *
 *   echo 's3cret' | npm run users -- add sensor-1 --password-stdin --roles sensors
 *   npm run users -- role-set sensors --allow-publish 'sensors/%u/#' --allow-subscribe 'commands/%u/#'
 *   npm run users -- import /etc/mosquitto/dynamic-security.json --format dynsec
 */
import { ConfigError, loadConfig } from "../core/config/index.js";
import { createStore } from "../core/store/index.js";
import { runUsersCommand } from "./lib/users-command.js";

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(0x0a) || Buffer.concat(chunks).length > 8192) break;
  }
  return (Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "").slice(0, 4096);
}

let code = 1;
try {
  const config = await loadConfig();
  if (config.redisUrl === undefined) process.stderr.write("users: MQGATE_REDIS_URL is not set: using an in-memory store that is gone when this command ends\n");
  const store = await createStore({ redisUrl: config.redisUrl ?? null });
  try {
    code = await runUsersCommand(process.argv.slice(2), {
      store,
      readPassword: firstLineOfStdin,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    await store.close();
  }
} catch (err) {
  process.stderr.write(err instanceof ConfigError ? `users: invalid configuration\n${err.message}\n` : `users: ${(err as Error).message}\n`);
  code = err instanceof ConfigError ? 2 : 1;
}
process.exit(code);
