/**
 * Checks a running setup: store reachable, live nodes and their lease ages, clocks, versions, node queues, the
 * events queue and its dead letters; prints the first thing to try for each problem (scripts/lib/doctor.ts).
 *
 *   npm run doctor                                   # the setup of this shell's MQGATE_* (npm start, npm run cluster)
 *   MQGATE_REDIS_URL=rediss://… npm run doctor -- --prefix mqgate-prod    # a deployed stage (AWS credentials)
 *   npm run doctor -- --json
 *
 * Exit code: 0 healthy (warnings allowed), 1 a check failed, 2 invalid configuration or usage.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../core/config/index.js";
import { createSqsClient, EMULATOR_CREDENTIALS } from "../core/communicator/sqs-client.js";
import { createStore } from "../core/store/index.js";
import { type CheckResult, formatReport, runDoctor } from "./lib/doctor.js";

const USAGE = `usage: npm run doctor -- [--prefix QUEUE_PREFIX] [--json]
  --prefix   the deployment's queue prefix (<app>-<stage>, e.g. mqgate-prod); default cluster.queuePrefix
  --json     print the checks as JSON
Reads the store from MQGATE_REDIS_URL and SQS from the AWS environment (or MQGATE_SQS_ENDPOINT).`;

function isLocal(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  return ["localhost", "127.0.0.1", "::1", "[::1]"].includes(new URL(endpoint).hostname);
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { prefix: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } }).values;
  } catch (err) {
    process.stderr.write(`doctor: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = await loadConfig();
  const prefix = args.prefix ?? config.cluster.queuePrefix;
  const wantSqs = args.prefix !== undefined || config.cluster.communicator === "sqs" || config.sqsEndpoint !== undefined || config.events.queueUrl !== undefined;
  const sqs = wantSqs
    ? createSqsClient({
        endpoint: config.sqsEndpoint,
        region: config.cluster.sqsRegion,
        credentials: isLocal(config.sqsEndpoint) && process.env.AWS_ACCESS_KEY_ID === undefined ? EMULATOR_CREDENTIALS : undefined,
        maxAttempts: 1,
      })
    : null;
  let results: CheckResult[];
  try {
    const store = await createStore({ redisUrl: config.redisUrl ?? null });
    try {
      results = await runDoctor({ store, sqs, queuePrefix: prefix, eventsQueueUrl: config.events.queueUrl, heartbeatMs: config.cluster.heartbeatMs });
    } finally {
      await store.close();
    }
  } catch (err) {
    results = [{ check: "store", status: "fail", detail: `cannot connect: ${(err as Error).message}`, fix: "Check MQGATE_REDIS_URL and that the host is reachable from here." }];
  } finally {
    sqs?.destroy();
  }
  process.stdout.write(args.json === true ? `${JSON.stringify(results, null, 2)}\n` : `${formatReport(results)}\n`);
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(err instanceof ConfigError ? `doctor: invalid configuration\n${err.message}\n` : `doctor: ${(err as Error).message}\n`);
  code = err instanceof ConfigError ? 2 : 1;
}
process.exit(code);
