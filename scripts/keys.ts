/**
 * Manages REST API keys in the store (Redis when MQGATE_REDIS_URL is set, else an in-memory store):
 *
 *   npm run keys -- create --name ci --scopes publish,read --topics 'devices/#'
 *   npm run keys -- list
 *   npm run keys -- revoke k_1a2b3c4d5e6f
 */
import { ConfigError, loadConfig } from "../core/config/index.js";
import { createStore } from "../core/store/index.js";
import { runKeysCommand } from "../functions/keys-command.js";

let code = 1;
try {
  const config = await loadConfig();
  const store = await createStore({ redisUrl: config.redisUrl ?? null });
  try {
    code = await runKeysCommand(process.argv.slice(2), {
      store,
      limits: { maxTopicLength: config.limits.maxTopicLength, maxTopicLevels: config.limits.maxTopicLevels },
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    await store.close();
  }
} catch (err) {
  process.stderr.write(err instanceof ConfigError ? `keys: invalid configuration\n${err.message}\n` : `keys: ${(err as Error).message}\n`);
  code = err instanceof ConfigError ? 2 : 1;
}
process.exit(code);
