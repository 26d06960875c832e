import { startLocalCluster } from "./lib/local-cluster.js";

/**
 * `npm run cluster -- --nodes 3`: a local mqgate cluster (redis-server, fauxqs, N broker processes with their
 * REST APIs). Prints where to connect; Ctrl-C stops everything. See docs/cluster.md.
 */

function parseNodes(argv: string[]): number {
  const i = argv.findIndex((a) => a === "--nodes" || a.startsWith("--nodes="));
  if (i === -1) return 3;
  const raw = argv[i]?.includes("=") ? argv[i]?.split("=")[1] : argv[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 16) {
    process.stderr.write(`mqgate cluster: --nodes must be an integer 1..16, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const nodes = parseNodes(process.argv.slice(2));
  const verbose = process.argv.includes("--verbose");
  process.stderr.write(`mqgate cluster: starting redis-server, fauxqs and ${nodes} broker nodes...\n`);
  const cluster = await startLocalCluster({
    nodes,
    apiKey: process.env.MQGATE_API_KEY,
    onOutput: (nodeId, line) => {
      if (verbose || /"level":(40|50|60)/.test(line)) process.stderr.write(`[${nodeId}] ${line}\n`);
    },
  });
  const lines = [
    "",
    `mqgate local cluster is up (queue prefix ${cluster.queuePrefix})`,
    `  redis:        ${cluster.redis.url}`,
    `  SQS emulator: ${cluster.sqs.endpoint}`,
    `  events queue: ${cluster.eventsQueueUrl}`,
    `  API key:      ${cluster.apiKey}  (admin; same on every node)`,
    "",
    ...cluster.nodes.map((n) => `  ${n.nodeId}: mqtt://127.0.0.1:${n.mqttPort}   REST http://127.0.0.1:${n.httpPort}/v1`),
    "",
    "Try:",
    `  mosquitto_sub -p ${cluster.nodes[0]?.mqttPort} -t 'demo/#' -v &`,
    `  mosquitto_pub -p ${cluster.nodes[cluster.nodes.length - 1]?.mqttPort} -t demo/hello -m 'across nodes' -q 1`,
    `  curl -s -H 'Authorization: Bearer ${cluster.apiKey}' http://127.0.0.1:${cluster.nodes[0]?.httpPort}/v1/nodes`,
    `  MQGATE_REDIS_URL=${cluster.redis.url} MQGATE_SQS_ENDPOINT=${cluster.sqs.endpoint} MQGATE_EVENTS_QUEUE_URL=${cluster.eventsQueueUrl} npm run doctor -- --prefix ${cluster.queuePrefix}`,
    "",
    "Ctrl-C stops the cluster.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
  for (const n of cluster.nodes) {
    void n.exited.then((code) => process.stderr.write(`mqgate cluster: ${n.nodeId} exited (${code})\n`));
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write("\nmqgate cluster: stopping...\n");
    cluster.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`mqgate cluster: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`mqgate cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
