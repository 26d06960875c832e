import { createHash, randomUUID } from "node:crypto";
import type { QoS } from "mqtt-packet";
import type { Auth } from "../core/auth/types.js";
import { NodeUnreachable } from "../core/communicator/errors.js";
import type { Communicator, NodeMessage } from "../core/communicator/types.js";
import { toWireMessage } from "../core/communicator/wire.js";
import type { NodeRecord, Store } from "../core/store/types.js";
import type { GatewayBackend, KickResult, PublishMessage, PublishResult } from "./backend.js";
import { ConflictError, NotFoundError, TooManyRequestsError, UnavailableError } from "./errors.js";
import { grantOnBehalf } from "./on-behalf.js";
import { isUpstreamThrottle } from "./throttle.js";

/**
 * The gateway backend of the REST Lambda (docs/cluster.md, "The REST gateway in a cluster"). A Lambda holds no
 * subscription trie and no connections, so:
 * - publish hands the messages to one live broker node through its node queue (`publish` node message); that
 *   node routes them like its own clients' publishes. SQS accepted them = durable: if the node dies before it
 *   routed them, the node that cleans up after it drains its queue and routes them. The node is chosen by the
 *   caller's origin (the API key), so sequential calls with one key stay in one FIFO group: in order.
 *   `matched` is null: routing happens after the answer.
 * - kick, subscriptions and retained deletion write the store and tell the nodes through their queues.
 *   Subscriptions made on behalf of a client are checked against its own rules, computed from the auth
 *   configuration for the session's identity (the brokers' ACL file); the node that holds the client checks them
 *   again against the live connection's policy when the change arrives (Broker.applyRemoteSubscriptions).
 */

export interface ClusterBackendOptions {
  store: Store;
  /** Only `send` is used (the Lambda receives nothing). */
  communicator: Pick<Communicator, "send">;
  maxSubscriptionsPerSession: number;
  /**
   * The brokers' auth configuration, for the rules of clients that subscriptions are made on behalf of; null when
   * the gateway could not load it (`authError` says why): such requests are then refused (409).
   */
  auth: Auth | null;
  authError?: string;
  /** How long the live node list is reused. Default 2 s. */
  nodesCacheMs?: number;
}

export function clusterBackend(opts: ClusterBackendOptions): GatewayBackend {
  const { store, communicator } = opts;
  const cacheMs = opts.nodesCacheMs ?? 2000;
  let cached: { at: number; nodes: NodeRecord[] } | null = null;

  async function liveNodes(): Promise<NodeRecord[]> {
    const now = Date.now();
    if (cached === null || now - cached.at > cacheMs) cached = { at: now, nodes: await store.listNodes(now) };
    return cached.nodes;
  }

  function newId(): string {
    return `rest:${randomUUID()}`;
  }

  /** Sends to the node that holds the session (its custodian, decision 017); none, or gone: nothing to update. */
  async function toCustodian(clientId: string, messages: NodeMessage[]): Promise<void> {
    const custodian = await store.custodianOf(clientId);
    if (custodian === null) return;
    await communicator.send(custodian, messages).catch((err: unknown) => {
      if (!(err instanceof NodeUnreachable)) throw err;
    });
  }

  async function sessionOrThrow(clientId: string) {
    const snapshot = await store.getSession(clientId);
    if (snapshot === null) throw new NotFoundError(`no session for client '${clientId}'`);
    return snapshot;
  }

  return {
    store,

    async publish(messages: readonly PublishMessage[], origin = "rest", requestId?: string): Promise<PublishResult[]> {
      const nodes = await liveNodes();
      if (nodes.length === 0) throw new UnavailableError("no broker node is alive to route the message; nothing was published");
      // One node per origin (stable while the node set is): one FIFO group, so one key's publishes stay in order.
      const start = createHash("sha256").update(origin).digest().readUInt32BE(0) % nodes.length;
      const message: NodeMessage = {
        type: "publish",
        // A retried request with an Idempotency-Key repeats its id: SQS FIFO drops the repeat (same group, 5 min)
        // and a node that handles a redelivery recognises it (decision 022).
        id: requestId ?? newId(),
        origin,
        messages: messages.map((m) => toWireMessage(m)),
      };
      let lastError: unknown = null;
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[(start + i) % nodes.length] as NodeRecord;
        try {
          await communicator.send(node.nodeId, [message]);
          return messages.map(() => ({ id: randomUUID(), matched: null }));
        } catch (err) {
          lastError = err;
          if (!(err instanceof NodeUnreachable)) break;
          cached = null; // that node is gone: try the next one
        }
      }
      if (isUpstreamThrottle(lastError)) throw new TooManyRequestsError("SQS is throttling the broker nodes' queues; nothing was published, retry after the Retry-After delay");
      throw new UnavailableError(`the broker nodes did not accept the message (${lastError instanceof Error ? lastError.message : String(lastError)}); nothing was published`);
    },

    async kick(clientId: string, discardSession: boolean): Promise<KickResult> {
      const snapshot = await sessionOrThrow(clientId);
      let disconnected = false;
      if (snapshot.node !== null) {
        const kick: NodeMessage = { type: "kick", id: newId(), clientId, reason: "kicked", discardSession, epoch: snapshot.epoch + 1 };
        try {
          await communicator.send(snapshot.node, [kick]);
          disconnected = true;
        } catch (err) {
          if (!(err instanceof NodeUnreachable)) throw err; // a node without a queue holds no connection
        }
      }
      if (!discardSession) return { disconnected, sessionDiscarded: false };
      const custodian = await store.custodianOf(clientId);
      const deleted = await store.deleteSession(clientId);
      // The node that holds the session drops it and its routes.
      if (custodian !== null && custodian !== snapshot.node) {
        const drop: NodeMessage = { type: "kick", id: newId(), clientId, reason: "kicked", discardSession: true, epoch: snapshot.epoch };
        await communicator.send(custodian, [drop]).catch((err: unknown) => {
          if (!(err instanceof NodeUnreachable)) throw err;
        });
      }
      return { disconnected, sessionDiscarded: deleted || (await store.getSession(clientId)) === null };
    },

    async subscribe(clientId: string, add: Readonly<Record<string, QoS>>): Promise<Record<string, QoS>> {
      const snapshot = await sessionOrThrow(clientId);
      const current = Object.keys(snapshot.subscriptions);
      const max = opts.maxSubscriptionsPerSession;
      const added = Object.keys(add).filter((f) => !(f in snapshot.subscriptions)).length;
      if (current.length + added > max) {
        throw new ConflictError(`client '${clientId}' has ${current.length} subscriptions; ${added} more would exceed the limit of ${max}`, [
          { pointer: "#/subscriptions", detail: `at most ${max - current.length} new filters can be added` },
        ]);
      }
      const who = { clientId, username: snapshot.username ?? undefined, protocolVersion: 4 } as const;
      const auth = opts.auth;
      const policy = auth?.resolvePolicy !== undefined ? await auth.resolvePolicy(who) : (auth?.policyFor?.(who) ?? null);
      const why = opts.auth === null ? (opts.authError ?? "the REST gateway has no auth configuration") : undefined;
      const granted = grantOnBehalf(clientId, snapshot.username, policy, add, why);
      if (!(await store.updateSubscriptions(clientId, null, granted, []))) throw new NotFoundError(`no session for client '${clientId}'`);
      // The node holding the session updates its trie and routes, and sends the retained messages when connected.
      await toCustodian(clientId, [{ type: "subscriptions", id: newId(), clientId, add: granted, remove: [], deliverRetained: true }]);
      return granted;
    },

    async unsubscribe(clientId: string, filters: readonly string[]): Promise<string[]> {
      const snapshot = await sessionOrThrow(clientId);
      const removed = filters.filter((f) => f in snapshot.subscriptions);
      if (removed.length === 0) return [];
      await store.updateSubscriptions(clientId, null, {}, removed);
      await toCustodian(clientId, [{ type: "subscriptions", id: newId(), clientId, add: {}, remove: removed, deliverRetained: false }]);
      return removed;
    },

    async deleteRetained(topic: string): Promise<boolean> {
      // Nodes of a cluster read retained messages from the store when a subscription needs them.
      const existed = (await store.getRetained(topic)) !== null;
      await store.apply([{ op: "retained.delete", topic }]);
      return existed;
    },
  };
}
