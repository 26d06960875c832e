import mqtt from "mqtt";
import { afterEach } from "vitest";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import type { NodeMessage } from "../../core/communicator/types.js";
import type { ClusterConfig } from "../../core/config/types.js";
import { MemoryEventSink } from "../../core/events/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

/**
 * Broker nodes in this process for the cluster tests (in-process, durability, routes): one shared memory store, node
 * queues through the in-process communicator, events in memory. `useInProcessCluster()` registers the clean-up.
 */

export interface Member {
  broker: TestBroker;
  comm: MemoryCommunicator;
  events: MemoryEventSink;
}

export interface InProcessCluster {
  /** The nodes, node-1 first. */
  nodes: TestBroker[];
  /** The same nodes with their communicator and event sink. */
  members: Member[];
  store: MemoryStore;
  registry: MemoryRegistry;
}

export interface ClusterOptions {
  cluster?: Partial<ClusterConfig>;
  /** A metrics listener on a free port (default: none). */
  metrics?: boolean;
  /** The node queues (default: a plain MemoryCommunicator). */
  communicator?: (registry: MemoryRegistry) => MemoryCommunicator;
}

export function useInProcessCluster(): {
  cluster(n: number, opts?: ClusterOptions): Promise<InProcessCluster>;
  connect(node: TestBroker, clientId: string, opts?: mqtt.IClientOptions): Promise<mqtt.MqttClient>;
  /** Clients made elsewhere, ended after each test. */
  clients: mqtt.MqttClient[];
} {
  const started: TestBroker[] = [];
  const clients: mqtt.MqttClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
    // A test may have closed a node itself (a node that dies).
    await Promise.all(started.splice(0).map((b) => b.close().catch(() => undefined)));
  });
  return {
    clients,
    async cluster(n, opts = {}) {
      const store = new MemoryStore();
      const registry = new MemoryRegistry();
      const members: Member[] = [];
      for (let i = 0; i < n; i++) {
        const events = new MemoryEventSink();
        const comm = opts.communicator?.(registry) ?? new MemoryCommunicator({ registry });
        const metrics = opts.metrics === true ? { host: "127.0.0.1", port: 0 } : { port: null };
        const broker = await startTestBroker({ nodeId: `node-${i + 1}`, cluster: { heartbeatMs: 200, nodeTtlMs: 1000, ...opts.cluster }, metrics }, undefined, store, {
          communicator: comm,
          events,
        });
        started.push(broker);
        members.push({ broker, comm, events });
      }
      return { nodes: members.map((m) => m.broker), members, store, registry };
    },
    async connect(node, clientId, opts = {}) {
      const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, ...opts });
      clients.push(c);
      return c;
    },
  };
}

/** The payloads `c` receives, as text, in arrival order (filled as messages come). */
export function payloads(c: mqtt.MqttClient): string[] {
  const got: string[] = [];
  c.on("message", (_topic, payload) => got.push(payload.toString()));
  return got;
}

/**
 * A node that died a minute ago ("ghost"): registered, with an expired heartbeat, owning the persistent session
 * `clientId` subscribed to `filter` at QoS 1; its node queue exists (nothing reads it). Returns when it was alive.
 */
export async function ghostNode(store: MemoryStore, registry: MemoryRegistry, clientId: string, filter: string): Promise<number> {
  const ghost = new MemoryCommunicator({ registry });
  await ghost.start("ghost", async () => {
    throw new Error("dead");
  });
  await ghost.stop();
  const T = Date.now() - 60_000;
  await store.registerNode({ nodeId: "ghost", address: "nowhere:1", queueUrl: null, startedAt: T, heartbeatAt: T }, 1000);
  await store.claimSession(clientId, { node: "ghost", clean: false, username: null, now: T });
  await store.updateSubscriptions(clientId, null, { [filter]: 1 }, []);
  return T;
}

/** Makes the store's session claims wait until `release()` (a slow store while a client reconnects). */
export function slowClaims(store: MemoryStore): { release(): void } {
  const claim = store.claimSession.bind(store);
  let release: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (release = resolve));
  store.claimSession = async (...args) => {
    await opened;
    return claim(...args);
  };
  return { release: () => release() };
}

/**
 * Holds a communicator's sends of deliveries to other nodes until `open()` (a slow SQS, a node that dies before
 * they go out); other node messages (session broadcasts) pass.
 */
export function gate(communicator: MemoryCommunicator): { open(): void; held(): number } {
  const send = communicator.send.bind(communicator);
  let release: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (release = resolve));
  let held = 0;
  communicator.send = async (node, messages) => {
    if (messages.some((m) => m.type === "deliver")) {
      held++;
      await opened;
    }
    return send(node, messages);
  };
  return { open: release, held: () => held };
}

/** Stops `node` reading the route log until `open()`: its view of the other nodes' routes goes stale. */
export function holdRoutes(node: TestBroker): { open(): Promise<void> } {
  const routes = (node.broker.cluster as NonNullable<typeof node.broker.cluster>).routes;
  const poll = routes.poll.bind(routes);
  routes.poll = async () => undefined;
  return {
    open: async () => {
      routes.poll = poll;
      await poll();
    },
  };
}

/**
 * A slow reader of one node's messages at another: from `close()` on, what `communicator` sends to `to` is taken
 * (the send resolves: the queue accepted it) but reaches `to` only at `open()`, in the order it was sent, as a FIFO
 * group that its reader is behind on.
 */
export function slowGroup(communicator: MemoryCommunicator, to: string): { close(): void; open(): Promise<void>; waiting(): NodeMessage[] } {
  const send = communicator.send.bind(communicator);
  let queued: NodeMessage[][] | null = null;
  communicator.send = async (node, messages) => {
    if (node !== to || queued === null) return send(node, messages);
    queued.push(messages);
  };
  return {
    close: () => {
      queued = [];
    },
    open: async () => {
      const list = queued ?? [];
      queued = null;
      for (const messages of list) await send(to, messages);
    },
    waiting: () => (queued ?? []).flat(),
  };
}
