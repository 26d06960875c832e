import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createEventsQueue } from "../../core/events/sqs-sink.js";
import { type Fauxqs, startFauxqs } from "./fauxqs.js";
import { brokerNodeFlags, withBrokerEnv } from "../../broker/node-flags.js";
import { freePort } from "./ports.js";
import { type RedisServer, startRedisServer } from "./redis-server.js";

/**
 * A whole mqgate cluster on one machine (`npm run cluster`, and the multi-process tests): a private
 * redis-server and fauxqs (the SQS emulator) on free ports, an events queue, and N broker processes
 * (`dist/broker.mjs`, built first) each with its MQTT port and its REST port, talking through node links (a
 * secret generated per cluster) and node queues.
 */

/** A node could not bind a port freePort() gave: another process took it first. */
class PortTaken extends Error {}

export interface LocalClusterOptions {
  nodes: number;
  /** Heartbeat and node TTL (defaults: 1 s and 3 s, so a dead node is noticed quickly). */
  heartbeatMs?: number;
  nodeTtlMs?: number;
  /** Admin API key of every node's REST API. Default: a random one. */
  apiKey?: string;
  /** Extra MQGATE_* variables for every broker. */
  env?: Record<string, string>;
  /** Receives each line a broker prints on stderr, prefixed by its node id. */
  onOutput?: (nodeId: string, line: string) => void;
}

export interface LocalNode {
  readonly nodeId: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** Its stderr so far. */
  output(): string;
  /** SIGKILL, as a crash: no session handed back, queue left behind. */
  crash(): Promise<void>;
  /** SIGTERM (graceful shutdown) and wait for the exit. */
  stop(): Promise<number | string>;
}

export interface LocalCluster {
  readonly redis: RedisServer;
  readonly sqs: Fauxqs;
  readonly eventsQueueUrl: string;
  readonly queuePrefix: string;
  readonly apiKey: string;
  readonly nodes: LocalNode[];
  /** Starts one more broker node (ids continue node-1, node-2, ...). */
  addNode(): Promise<LocalNode>;
  /** Stops every broker (SIGTERM), then fauxqs and Redis. */
  stop(): Promise<void>;
}

/** dist/broker.mjs of this checkout: the nearest one above this module (sources, dist/ or a cached bundle). */
function findBroker(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "dist", "broker.mjs");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("dist/broker.mjs not found: run npm run build first");
    dir = parent;
  }
}

const READY_MS = 20_000;
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const broker = findBroker();
  const redis = await startRedisServer();
  let sqs: Fauxqs;
  try {
    sqs = await startFauxqs();
  } catch (err) {
    await redis.stop();
    throw err;
  }
  const queuePrefix = `local-${randomBytes(3).toString("hex")}`;
  const client = sqs.client();
  const eventsQueueUrl = await createEventsQueue(client, `${queuePrefix}-events.fifo`);
  // The node queues' dead-letter queue, as the deployment creates it (infra/queues.ts, decision 020).
  const dlq = await client.send(new CreateQueueCommand({ QueueName: `${queuePrefix}-nodes-dlq.fifo`, Attributes: { FifoQueue: "true" } }));
  const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
  client.destroy();
  const apiKey = opts.apiKey ?? `mqg_local_${randomBytes(12).toString("hex")}`;
  // The nodes' fast lane (docs/cluster.md, "Fast lane"): one secret per cluster, links on loopback.
  const linkSecret = randomBytes(32).toString("base64url");
  const nodes: LocalNode[] = [];
  let counter = 0;

  const env = (nodeId: string, mqttPort: number, httpPort: number): NodeJS.ProcessEnv => {
    const childEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MQGATE_")) childEnv[k] = v;
    return Object.assign(childEnv, {
      MQGATE_NODE_ID: nodeId,
      MQGATE_HOST: "127.0.0.1",
      MQGATE_MQTT_PORT: String(mqttPort),
      MQGATE_WS_PORT: "off",
      MQGATE_HTTP_PORT: String(httpPort),
      MQGATE_METRICS_PORT: "off",
      MQGATE_SYS_INTERVAL: "0",
      MQGATE_LOG_LEVEL: "warn",
      MQGATE_REDIS_URL: redis.url,
      MQGATE_SQS_ENDPOINT: sqs.endpoint,
      MQGATE_COMMUNICATOR: "sqs",
      MQGATE_QUEUE_PREFIX: queuePrefix,
      MQGATE_EVENTS_QUEUE_URL: eventsQueueUrl,
      MQGATE_API_KEY: apiKey,
      MQGATE_HEARTBEAT_MS: String(opts.heartbeatMs ?? 1000),
      MQGATE_NODE_TTL_MS: String(opts.nodeTtlMs ?? 3000),
      MQGATE_CLUSTER__LINK_HOST: "127.0.0.1",
      MQGATE_CLUSTER__LINK_SECRET: linkSecret,
      // A dead node's queue is kept this long after its sessions were released: past the node queues' 30 s
      // visibility timeout (what the dead node had received reappears), shorter than the 90 s of a deployment.
      MQGATE_CLUSTER__DEAD_QUEUE_GRACE_MS: "35000",
      ...(dlqArn === undefined ? {} : { MQGATE_CLUSTER__DEAD_LETTER_QUEUE_ARN: dlqArn }),
      ...opts.env,
    });
  };

  const addNode = async (): Promise<LocalNode> => {
    const nodeId = `node-${++counter}`;
    // A free port may be taken by another process before the node binds it (tests run in parallel): new ports then.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startNode(nodeId);
      } catch (err) {
        if (!(err instanceof PortTaken) || attempt >= 3) throw err;
      }
    }
  };

  const startNode = async (nodeId: string): Promise<LocalNode> => {
    const mqttPort = await freePort();
    const httpPort = await freePort();
    // stderr: start-up lines and failures; stdout: the JSON log (warnings and errors at the level set above).
    const nodeEnv = withBrokerEnv(env(nodeId, mqttPort, httpPort));
    const child = spawn(process.execPath, [...brokerNodeFlags(nodeEnv), broker], { env: nodeEnv, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    const follow = (stream: NodeJS.ReadableStream | null): void => {
      let partial = "";
      stream?.on("data", (d: Buffer) => {
        const text = d.toString();
        out = (out + text).slice(-200_000);
        if (opts.onOutput === undefined) return;
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) opts.onOutput(nodeId, line);
      });
    };
    follow(child.stderr);
    follow(child.stdout);
    const exited = new Promise<number | string>((resolve) =>
      child.once("exit", (code, signal) => {
        children.delete(child);
        resolve(code ?? signal ?? "unknown");
      }),
    );
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + READY_MS;
    while (!(out.includes("REST API ready") && out.includes("cluster node")) && !gone) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`broker ${nodeId} not ready within ${READY_MS} ms:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (gone && out.includes("is already in use")) throw new PortTaken(`broker ${nodeId}: a port was taken meanwhile:\n${out}`);
    if (gone) throw new Error(`broker ${nodeId} exited before it was ready:\n${out}`);
    const node: LocalNode = {
      nodeId,
      mqttPort,
      httpPort,
      child,
      exited,
      output: () => out,
      async crash() {
        child.kill("SIGKILL");
        await exited;
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        return exited;
      },
    };
    nodes.push(node);
    return node;
  };

  try {
    for (let i = 0; i < opts.nodes; i++) await addNode();
  } catch (err) {
    for (const n of nodes) await n.crash();
    await sqs.stop();
    await redis.stop();
    throw err;
  }
  return {
    redis,
    sqs,
    eventsQueueUrl,
    queuePrefix,
    apiKey,
    nodes,
    addNode,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await sqs.stop();
      await redis.stop();
    },
  };
}
