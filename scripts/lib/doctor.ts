/**
 * `npm run doctor`: checks a setup from the outside, the way an operator would, against the store and the queues
 * the configuration names (a local `npm start` / `npm run cluster`, or a deployed stage: MQGATE_REDIS_URL, the
 * stage's queue prefix, AWS credentials). Every failed check says the first thing to try. Read-only.
 */
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { nodeQueueName } from "../../core/communicator/queue-names.js";
import { describeError, isQueueMissing } from "../../core/communicator/sqs-client.js";
import type { NodeRecord, Store } from "../../core/store/types.js";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** For warn and fail: the first thing to try. */
  fix?: string;
}

export interface DoctorOptions {
  store: Store;
  /** Null: no SQS configured (a single node with the memory communicator): the queue checks are skipped. */
  sqs: SQSClient | null;
  queuePrefix: string;
  /** The events queue's URL when configured; else it is looked up by its deployed name `<prefix>-events.fifo`. */
  eventsQueueUrl?: string | undefined;
  heartbeatMs: number;
  now?: () => number;
  /** How long each call may take before it counts as failed. */
  timeoutMs?: number;
}

/** Messages waiting in a node queue beyond which the node is falling behind. */
const NODE_BACKLOG_WARN = 1000;
/** A node clock this far ahead of ours, or a heartbeat this much older than its interval, is worth a look. */
const SKEW_WARN_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function queueAttributes(sqs: SQSClient, url: string, timeoutMs: number): Promise<Record<string, string>> {
  const res = await withTimeout(
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] })),
    timeoutMs,
    "SQS",
  );
  return res.Attributes ?? {};
}

async function queueUrlByName(sqs: SQSClient, name: string, timeoutMs: number): Promise<string | null> {
  try {
    return (await withTimeout(sqs.send(new GetQueueUrlCommand({ QueueName: name })), timeoutMs, "SQS")).QueueUrl ?? null;
  } catch (err) {
    if (isQueueMissing(err)) return null;
    throw err;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function runDoctor(o: DoctorOptions): Promise<CheckResult[]> {
  const now = o.now ?? Date.now;
  const timeoutMs = o.timeoutMs ?? 5000;
  const results: CheckResult[] = [];
  const add = (r: CheckResult) => results.push(r);

  // ---- store -------------------------------------------------------------------------------------------------
  const started = performance.now();
  let reachable = false;
  try {
    reachable = await withTimeout(o.store.ping(), timeoutMs, "the store");
  } catch (err) {
    add({ check: "store", status: "fail", detail: `${o.store.kind} store unreachable: ${describeError(err)}`, fix: storeFix(o.store.kind) });
  }
  if (reachable) add({ check: "store", status: "ok", detail: `${o.store.kind} store reachable (${Math.round(performance.now() - started)} ms)` });
  else if (results.length === 0) add({ check: "store", status: "fail", detail: `${o.store.kind} store did not answer its ping`, fix: storeFix(o.store.kind) });
  if (o.store.kind === "memory") {
    add({ check: "store", status: "warn", detail: "memory store: this command sees its own empty store, not a broker's", fix: "Set MQGATE_REDIS_URL to the store of the setup to check (the stage's BrokerRedisUrl secret when deployed)." });
  }

  // ---- nodes: lease ages, clocks, versions -------------------------------------------------------------------
  let live: NodeRecord[] = [];
  if (reachable) {
    const t = now();
    live = await o.store.listNodes(t);
    const expired = await o.store.expiredNodes(t);
    if (live.length === 0) {
      add({ check: "nodes", status: "fail", detail: "no live nodes", fix: "Start the brokers (npm start / npm run cluster); deployed: read the ECS service's events and its stopped tasks' reasons." });
    } else {
      const ages = live.map((n) => `${n.nodeId} (${n.address}) lease age ${seconds(t - n.heartbeatAt)}${n.stats === undefined ? "" : `, ${n.stats.connections} connections, v${n.stats.version}`}`);
      add({ check: "nodes", status: "ok", detail: `${live.length} live: ${ages.join("; ")}` });
    }
    if (expired.length > 0) {
      add({
        check: "nodes",
        status: "warn",
        detail: `${expired.length} expired node${expired.length === 1 ? "" : "s"} not cleaned up yet: ${expired.map((n) => `${n.nodeId} (last heartbeat ${seconds(t - n.heartbeatAt)} ago)`).join(", ")}`,
        fix: live.length > 0 ? "A live node cleans them up at its next heartbeat; if they stay, check the live nodes' logs for 'cluster operation failed'." : "Start a broker: the first live node cleans them up (their sessions go offline, their queues are drained).",
      });
    }
    const ahead = live.filter((n) => n.heartbeatAt - t > SKEW_WARN_MS);
    const late = live.filter((n) => t - n.heartbeatAt > o.heartbeatMs + SKEW_WARN_MS);
    if (ahead.length > 0 || late.length > 0) {
      add({
        check: "clocks",
        status: "warn",
        detail: [
          ...ahead.map((n) => `${n.nodeId}'s clock is ${seconds(n.heartbeatAt - t)} ahead of this machine's`),
          ...late.map((n) => `${n.nodeId}'s last heartbeat is ${seconds(t - n.heartbeatAt)} old (interval ${seconds(o.heartbeatMs)}): its clock is behind, or its event loop stalls`),
        ].join("; "),
        fix: "Check NTP on the hosts (deployed tasks use Amazon Time Sync) and this machine's clock; a stalling node shows high CPU.",
      });
    } else if (live.length > 0) {
      add({ check: "clocks", status: "ok", detail: `heartbeats within ${seconds(o.heartbeatMs + SKEW_WARN_MS)} of this machine's clock` });
    }
    const versions = [...new Set(live.flatMap((n) => (n.stats === undefined ? [] : [n.stats.version])))].sort();
    if (versions.length > 1) {
      add({ check: "versions", status: "warn", detail: `mixed versions: ${versions.join(", ")}`, fix: "A rolling deploy in progress, or a task stuck on an old image: wait for the deploy, else check the ECS deployment." });
    } else if (versions.length === 1) {
      add({ check: "versions", status: "ok", detail: `every node runs ${versions[0]!}` });
    }
  }

  // ---- queues ------------------------------------------------------------------------------------------------
  if (o.sqs === null) {
    add({ check: "queues", status: "skip", detail: "no SQS configured (single node): no node queues or events queue to check" });
    return results;
  }
  const sqs = o.sqs;
  const clustered = live.filter((n) => n.queueUrl !== null);
  for (const n of clustered) {
    try {
      const a = await queueAttributes(sqs, n.queueUrl!, timeoutMs);
      const waiting = Number(a.ApproximateNumberOfMessages ?? 0);
      add(
        waiting > NODE_BACKLOG_WARN
          ? { check: "node queues", status: "warn", detail: `${n.nodeId}: ${waiting} messages waiting`, fix: "The node is falling behind: check its CPU and the store's latency." }
          : { check: "node queues", status: "ok", detail: `${n.nodeId}: queue present, ${waiting} waiting` },
      );
    } catch (err) {
      add(
        isQueueMissing(err)
          ? { check: "node queues", status: "fail", detail: `${n.nodeId}: its queue ${nodeQueueName(o.queuePrefix, n.nodeId)} is missing`, fix: "Restart that node (it creates its queue at start); deployed: stop its ECS task, the service starts a new one." }
          : { check: "node queues", status: "fail", detail: `${n.nodeId}: ${describeError(err)}`, fix: sqsFix() },
      );
    }
  }
  try {
    const listed = await withTimeout(sqs.send(new ListQueuesCommand({ QueueNamePrefix: `${o.queuePrefix}-node-`, MaxResults: 1000 })), timeoutMs, "SQS");
    const liveUrls = new Set(clustered.map((n) => n.queueUrl));
    const orphans = (listed.QueueUrls ?? []).filter((u) => !liveUrls.has(u));
    if (orphans.length > 0) {
      add({ check: "node queues", status: "warn", detail: `${orphans.length} node queue${orphans.length === 1 ? "" : "s"} without a live node: ${orphans.map((u) => u.split("/").pop()).join(", ")}`, fix: "Left by nodes that crashed: a live node drains and deletes them when it cleans up the dead node; otherwise delete them (aws sqs delete-queue)." });
    }
  } catch (err) {
    add({ check: "node queues", status: "fail", detail: `cannot list the node queues: ${describeError(err)}`, fix: sqsFix() });
  }

  for (const [label, name, configured] of [
    ["events queue", `${o.queuePrefix}-events.fifo`, o.eventsQueueUrl],
    ["dead letters", `${o.queuePrefix}-events-dlq.fifo`, undefined],
  ] as const) {
    try {
      const url = configured ?? (await queueUrlByName(sqs, name, timeoutMs));
      if (url === null) {
        add(
          label === "events queue"
            ? { check: label, status: "fail", detail: `${name} is missing`, fix: "Deployed: run sst deploy (it creates the queue). Locally: set MQGATE_EVENTS_QUEUE_URL to an existing queue, or leave events off." }
            : { check: label, status: "skip", detail: `no dead-letter queue ${name}` },
        );
        continue;
      }
      const waiting = Number((await queueAttributes(sqs, url, timeoutMs)).ApproximateNumberOfMessages ?? 0);
      if (label === "dead letters" && waiting > 0) {
        add({ check: label, status: "warn", detail: `${waiting} events in ${name}`, fix: "The events consumer failed them 5 times: read one and the consumer's error log, fix, then redrive." });
      } else {
        add({ check: label, status: "ok", detail: `${url.split("/").pop() ?? name} present, ${waiting} waiting` });
      }
    } catch (err) {
      add(
        isQueueMissing(err)
          ? { check: label, status: "fail", detail: `${configured ?? name} is missing`, fix: "Check MQGATE_EVENTS_QUEUE_URL; deployed: run sst deploy." }
          : { check: label, status: "fail", detail: describeError(err), fix: sqsFix() },
      );
    }
  }
  return results;
}

function storeFix(kind: string): string {
  return kind === "memory"
    ? "Set MQGATE_REDIS_URL to the setup's Redis."
    : "Check MQGATE_REDIS_URL (rediss:// with the password for Upstash), that the host is reachable from here, and Upstash's status and limits.";
}

function sqsFix(): string {
  return "Check AWS credentials and region (AWS_PROFILE, AWS_REGION or MQGATE_SQS_REGION), or MQGATE_SQS_ENDPOINT for a local emulator.";
}

const MARK: Record<CheckStatus, string> = { ok: "ok  ", warn: "WARN", fail: "FAIL", skip: "skip" };

/** Human-readable report: one line per check, the first step to try under each warning and failure. */
export function formatReport(results: readonly CheckResult[]): string {
  const lines = results.map((r) => `${MARK[r.status]}  ${r.check}: ${r.detail}${r.fix === undefined ? "" : `\n      first try: ${r.fix}`}`);
  const failed = results.filter((r) => r.status === "fail").length;
  const warned = results.filter((r) => r.status === "warn").length;
  lines.push(failed > 0 ? `${failed} failed, ${warned} warning${warned === 1 ? "" : "s"}` : `healthy${warned > 0 ? ` (${warned} warning${warned === 1 ? "" : "s"})` : ""}`);
  return lines.join("\n");
}
