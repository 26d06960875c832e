import { randomBytes } from "node:crypto";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import mqtt from "mqtt";
import { type MqgateEvent, parseEvent } from "../../core/events/index.js";
import type { LocalCluster, LocalNode } from "../../scripts/lib/local-cluster.js";

// Shared by the multi-process cluster tests (three `dist/broker.mjs` processes, redis-server and fauxqs, started by
// scripts/lib/local-cluster.ts): MQTT clients per node, inboxes, polling with a deadline, probes that wait for
// subscriptions to replicate, the REST API and the events queue.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A suffix that keeps client ids and topics of one file run apart from everything else. */
export const runId = (): string => randomBytes(3).toString("hex");

/** Polls `cond` every 20 ms; fails after `timeoutMs` naming `what` and whatever `detail()` says arrived. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, detail: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await sleep(20);
  }
}

/**
 * Subscriptions reach other nodes asynchronously (session broadcasts over SQS). Repeats `send` (a probe publish)
 * every `everyMs` until `arrived()` holds, so the measured traffic starts only once every route is in place.
 */
export async function probeUntil(what: string, send: () => Promise<void>, arrived: () => boolean, timeoutMs = 30_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await send();
    const next = Date.now() + 300;
    while (Date.now() < next) {
      if (arrived()) return;
      await sleep(20);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail?.() ?? ""}`);
  }
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  dup: boolean;
}

/** Everything an `mqtt` client receives, in arrival order. */
export class Inbox {
  readonly all: Received[] = [];

  constructor(client: mqtt.MqttClient) {
    client.on("message", (topic, payload, packet) => this.all.push({ topic, payload: payload.toString(), qos: packet.qos, dup: packet.dup }));
  }

  on(topic: string): Received[] {
    return this.all.filter((m) => m.topic === topic);
  }

  payloads(topic: string): string[] {
    return this.on(topic).map((m) => m.payload);
  }

  /** The last few arrivals, for failure messages. */
  tail(n = 20): string {
    return `${this.all.length} received; last: ${JSON.stringify(this.all.slice(-n))}`;
  }
}

/** `mqtt` clients of one test file, ended (forcibly) by `endAll()`. */
export class Clients {
  private readonly open: mqtt.MqttClient[] = [];

  /** Connects to `node` and waits for the CONNACK; never reconnects by itself. */
  async connect(node: LocalNode, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
    this.open.push(c);
    return c;
  }

  /** Starts connecting without waiting (the caller listens for "connect" itself). */
  start(node: LocalNode, clientId: string, opts: mqtt.IClientOptions = {}): mqtt.MqttClient {
    const c = mqtt.connect({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
    this.open.push(c);
    return c;
  }

  async endAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  }
}

/** `0, 1, ..., n-1` as strings: the payloads of a sequence-numbered stream. */
export function seq(n: number, prefix = ""): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** POST /v1/publish on `node`'s REST API; returns the status and the parsed body. */
export async function restPublish(
  cluster: LocalCluster,
  node: LocalNode,
  body: { topic: string; payload: string; qos: 0 | 1 | 2 },
): Promise<{ status: number; body: { id?: string; matched?: number } & Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/v1/publish`, {
    method: "POST",
    headers: { authorization: `Bearer ${cluster.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { matched?: number } };
}

export interface QueuedEvent {
  raw: string;
  event: MqgateEvent;
}

/**
 * Reads the events queue (ReceiveMessage of up to 10, long poll 1 s; every message deleted once read) until
 * `done(events)` holds for what was read so far; returns everything read, in receive order. The queue is shared
 * by every test of the file: callers filter by clientId.
 */
export async function readEvents(
  client: SQSClient,
  queueUrl: string,
  done: (events: readonly QueuedEvent[]) => boolean,
  timeoutMs = 30_000,
  describe: (events: readonly QueuedEvent[]) => string = () => "",
): Promise<QueuedEvent[]> {
  const events: QueuedEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(events)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms reading the events queue\n${describe(events)}`);
    const out = await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const messages = out.Messages ?? [];
    for (const m of messages) {
      const raw = m.Body ?? "";
      events.push({ raw, event: parseEvent(raw) });
    }
    const entries = messages.filter((m) => m.ReceiptHandle !== undefined).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }));
    if (entries.length > 0) await client.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
  return events;
}

/** The last lines each broker printed on stderr (warnings and errors), for failure messages. */
export function brokerLogs(cluster: LocalCluster, lines = 15): string {
  return cluster.nodes
    .map((n) => `--- ${n.nodeId} ---\n${n.output().trim().split("\n").slice(-lines).join("\n")}`)
    .join("\n");
}
