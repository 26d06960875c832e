import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { CreateQueueCommand, DeleteQueueCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import { loadConfig } from "../../core/config/index.js";
import { createStore } from "../../core/store/index.js";
import type { Store } from "../../core/store/types.js";
import { createClusterParts } from "../../broker/cluster-setup.js";
import { type RunningBroker, startBroker } from "../../broker/server.js";
import { type CheckResult, formatReport, runDoctor } from "../../scripts/lib/doctor.js";
import { type Fauxqs, startFauxqs } from "../helpers/fauxqs.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";

// npm run doctor against a real setup: redis-server, fauxqs and a cluster node (SQS node queue, events queue), healthy
// first, then with the events queue and the node's queue deleted. The command itself (dist/doctor.mjs) too.

const root = new URL("../..", import.meta.url).pathname;
const run = promisify(execFile);
const PREFIX = "doctor-test";

let redis: RedisServer;
let fauxqs: Fauxqs;
let admin: SQSClient;
let store: Store;
let node: RunningBroker;
let destroyParts: () => void;
let eventsUrl: string;
let env: Record<string, string>;

beforeAll(async () => {
  [redis, fauxqs] = await Promise.all([startRedisServer(), startFauxqs()]);
  admin = fauxqs.client();
  const created = await admin.send(new CreateQueueCommand({ QueueName: `${PREFIX}-events.fifo`, Attributes: { FifoQueue: "true", ContentBasedDeduplication: "false" } }));
  eventsUrl = created.QueueUrl!;
  await admin.send(new CreateQueueCommand({ QueueName: `${PREFIX}-events-dlq.fifo`, Attributes: { FifoQueue: "true" } }));
  env = {
    MQGATE_REDIS_URL: redis.url,
    MQGATE_SQS_ENDPOINT: fauxqs.endpoint,
    MQGATE_COMMUNICATOR: "sqs",
    MQGATE_CLUSTER__LINK_SECRET: randomBytes(32).toString("hex"),
    MQGATE_QUEUE_PREFIX: PREFIX,
    MQGATE_EVENTS_QUEUE_URL: eventsUrl,
  };
  const config = await loadConfig({
    env,
    overrides: { nodeId: "doctor-node-1", mqtt: { host: "127.0.0.1", port: 0 }, ws: { port: null }, http: { port: null }, log: { level: "silent" }, sysIntervalSeconds: 0, cluster: { heartbeatMs: 500, nodeTtlMs: 3000 } },
  });
  const parts = await createClusterParts(config, () => {});
  destroyParts = parts.destroy;
  node = await startBroker(config, createAllowAll(), await createStore({ redisUrl: redis.url }), parts.parts);
  store = await createStore({ redisUrl: redis.url });
}, 60_000);

afterAll(async () => {
  await node?.close();
  destroyParts?.();
  await store?.close();
  admin?.destroy();
  await Promise.all([fauxqs?.stop(), redis?.stop()]);
}, 30_000);

const doctor = () => runDoctor({ store, sqs: admin, queuePrefix: PREFIX, eventsQueueUrl: undefined, heartbeatMs: 500 });
const byCheck = (results: CheckResult[], check: string) => results.filter((r) => r.check === check);

async function command(): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [join(root, "dist/doctor.mjs")], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

describe("npm run doctor", () => {
  it("a healthy setup: store, the live node with its lease age and version, its queue, the events queue; exit 0", async () => {
    const results = await doctor();
    expect(results.filter((r) => r.status === "fail")).toEqual([]);
    expect(byCheck(results, "store")[0]).toMatchObject({ status: "ok", detail: expect.stringMatching(/^redis store reachable/) });
    expect(byCheck(results, "nodes")[0]).toMatchObject({ status: "ok", detail: expect.stringMatching(/^1 live: doctor-node-1 \(.*\) lease age \d+\.\d s, 0 connections, v/) });
    expect(byCheck(results, "clocks")[0]?.status).toBe("ok");
    expect(byCheck(results, "versions")[0]?.status).toBe("ok");
    expect(byCheck(results, "node queues")).toEqual([{ check: "node queues", status: "ok", detail: "doctor-node-1: queue present, 0 waiting" }]);
    expect(byCheck(results, "events queue")[0]).toMatchObject({ status: "ok", detail: `${PREFIX}-events.fifo present, 0 waiting` });
    expect(byCheck(results, "dead letters")[0]?.status).toBe("ok");
    expect(formatReport(results)).toMatch(/\nhealthy/);

    const cmd = await command();
    expect(cmd.out).toMatch(/^ok {4}store: redis store reachable/m);
    expect(cmd.code).toBe(0);
  }, 60_000);

  it("a broken setup: the events queue and the node's queue missing, each with the first thing to try; exit 1", async () => {
    await admin.send(new DeleteQueueCommand({ QueueUrl: eventsUrl }));
    const nodeQueue = (await store.listNodes(Date.now()))[0]!.queueUrl!;
    await admin.send(new DeleteQueueCommand({ QueueUrl: nodeQueue }));
    const results = await doctor();
    expect(byCheck(results, "events queue")).toEqual([
      { check: "events queue", status: "fail", detail: `${PREFIX}-events.fifo is missing`, fix: expect.stringContaining("sst deploy") },
    ]);
    expect(byCheck(results, "node queues")[0]).toMatchObject({ status: "fail", detail: `doctor-node-1: its queue ${PREFIX}-node-doctor-node-1.fifo is missing`, fix: expect.stringContaining("Restart that node") });
    expect(formatReport(results)).toMatch(/FAIL {2}events queue: .*\n {6}first try: /);

    const cmd = await command();
    expect(cmd.code).toBe(1);
    expect(cmd.out).toMatch(/^FAIL {2}events queue: .*is missing/m);
    expect(cmd.out).toMatch(/\d+ failed/);
  }, 60_000);

  it("a store nobody answers on, and no live nodes", async () => {
    const down = await startRedisServer();
    const empty = await createStore({ redisUrl: down.url });
    try {
      const results = await runDoctor({ store: empty, sqs: null, queuePrefix: PREFIX, heartbeatMs: 500 });
      expect(byCheck(results, "nodes")[0]).toMatchObject({ status: "fail", detail: "no live nodes" });
      expect(byCheck(results, "queues")[0]?.status).toBe("skip");
      await down.crash();
      const unreachable = await runDoctor({ store: empty, sqs: null, queuePrefix: PREFIX, heartbeatMs: 500, timeoutMs: 1000 });
      expect(unreachable[0]).toMatchObject({ check: "store", status: "fail", fix: expect.stringContaining("MQGATE_REDIS_URL") });
    } finally {
      await empty.close().catch(() => {});
      await down.stop().catch(() => {});
    }
  }, 60_000);
});
