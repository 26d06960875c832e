import type { QoS } from "mqtt-packet";
import type { WireProperties } from "../message-properties.js";

/** The most unacknowledged publishes a `moved` reply lists (the broker stops reading a client at 1,024 pending acks). */
export const MAX_UNACKED = 1024;

/**
 * The Communicator carries work to the broker node that owns a session: from other nodes (cross-node routing,
 * take-over) and from the REST gateway (publish, kick, subscribe on behalf). In-process (single node, the
 * embedded default) and SQS (one queue per node) implementations pass test/contract/communicator.suite.ts.
 */

/** A message body on the wire: payload base64 so node messages are plain JSON (SQS bodies are text). */
export interface WireMessage {
  topic: string;
  /** base64 */
  payload: string;
  qos: QoS;
  retain: boolean;
  /** MQTT 5 properties in their JSON form (core/message-properties.ts), absent when none. */
  props?: WireProperties | undefined;
  /** Epoch ms of publication, with a Message Expiry Interval only. */
  publishedAt?: number | undefined;
  /** The publisher's order key (core/order-key.ts, decision 038). */
  order?: string | undefined;
}

/**
 * A session a `deliver` names, at its delivery QoS (already min(message QoS, granted QoS)), with what the sending
 * node matched for it: the receiver does not match a targeted delivery again. The MQTT 5 fields are written only
 * when present, so a 3.1.1 target keeps its two keys; a node that predates them ignores them (the schema is not
 * strict) and delivers without them, as it always did.
 */
export interface WireTarget {
  clientId: string;
  qos: QoS;
  /** The delivery's RETAIN flag when it is 1: a retained publish through a Retain As Published subscription [MQTT-3.3.1-13]. */
  retain?: boolean | undefined;
  /** MQTT 5 Subscription Identifiers of the session's matching subscriptions, 1 to MAX_SUB_IDS of them [MQTT-3.3.4-3]. */
  subIds?: number[] | undefined;
}

export type NodeMessage =
  /**
   * Deliver a publish to the listed sessions owned by the receiving node, each at its QoS (already
   * min(message QoS, granted QoS)). `origin`/`seq` let the receiver keep per-publisher order.
   */
  | {
      type: "deliver";
      id: string;
      origin: string;
      seq: number;
      msg: WireMessage;
      targets: WireTarget[];
      /** Times this delivery was passed on by a node that no longer owned a target (bounds re-routing loops). */
      hops?: number;
      /**
       * Id of the node message this delivery was passed on from, kept across hops: the store's dedup id, so the
       * same message arriving again by another path (a dead node's queue, drained) is not enqueued twice.
       */
      root?: string;
      /**
       * The receiver matches the message against its own sessions (a publish forwarded once per node whose routes
       * match, decision 017); `targets` is then empty.
       */
      match?: boolean;
      /**
       * With `match`: only the sessions that came to the receiver from this node: a dead node whose queue is
       * drained, or the sender itself, passing on a match forward that reached it late (broker/cluster-inbox.ts).
       */
      only?: string;
      /** With `match`: shared subscription groups (`$share/…`) the receiver gives one member each (decision 026). */
      groups?: string[];
      /**
       * With `match`: sessions the sender holds this message for while it settles its own claim of them
       * (decision 031). It passes its copy on, behind the older ones it holds, once it learns they moved; a
       * receiver that took such a session from the sender and awaits its reply leaves the session out of this copy
       * rather than delivering it ahead of them (broker/move-settle.ts `ahead`, decision 038, seed 96).
       */
      holding?: string[];
    }
  /**
   * A publish from outside MQTT (the REST gateway in a Lambda, which holds no subscription trie): the receiving
   * node routes it to every matching session, in the cluster, as if a client of its own had published it.
   */
  | { type: "publish"; id: string; origin: string; messages: WireMessage[] }
  /** Close the client's connection (REST kick or take-over by another node), optionally discarding its session. */
  | {
      type: "kick";
      id: string;
      clientId: string;
      reason: "takeover" | "kicked";
      discardSession: boolean;
      epoch?: number;
      /** A take-over: the node that claimed the session (the old holder forwards to it for a while, decision 017). */
      node?: string;
      /**
       * A take-over by a CONNECT with Clean Start: the old session ended, so a will waiting out its delay on the old
       * holder is published at once [MQTT-3.1.2-8] instead of dropped. Absent (false) from nodes that predate it.
       */
      sessionEnded?: boolean;
      /**
       * A take-over kick sent again to a holder that stayed silent through the settle wait (broker/silent-holders.ts):
       * in the client's FIFO group, not the claiming node's, where the first one may be held back. Absent (false)
       * from nodes that predate it.
       */
      unordered?: boolean;
    }
  /**
   * The reply to a take-over kick (`node` set, decision 031): the old holder or custodian sends it in its own group
   * once everything that reached it for the session before the kick was passed on (sent before this message), so
   * the new holder releases the deliveries it held meanwhile behind those.
   */
  | {
      type: "moved";
      id: string;
      origin: string;
      clientId: string;
      epoch: number;
      /**
       * The client's QoS 1 publishes the old holder's connection may see re-sent (PUBACKs still held for the store when
       * the kick closed it, and the last ones written lately), oldest first, as [packet id, order key] (decision 045):
       * their re-sends on the new holder keep these keys. At most MAX_UNACKED; absent when none, and from nodes that
       * predate it.
       */
      unacked?: [number, string][];
    }
  /** Subscriptions of a session changed elsewhere (REST or another node): update the in-memory trie. */
  | { type: "subscriptions"; id: string; clientId: string; add: Record<string, QoS>; remove: string[]; deliverRetained: boolean }
  /**
   * Broadcast to every live node when a session's routing state changed (claimed, released, subscriptions): its
   * owner node (null = offline), clean flag and complete subscriptions. Receivers keep the newest `epoch` (the
   * store's fencing epoch), so a late broadcast of an older claim is ignored.
   */
  | {
      type: "session";
      id: string;
      clientId: string;
      node: string | null;
      epoch: number;
      clean: boolean;
      subscriptions: Record<string, QoS>;
      /** The identity that owns the session (absent from nodes that predate it), so every node can refuse another at once. */
      identity?: string | null | undefined;
    };

/** How a message reached its handler through a queue (absent for a direct link, where it arrives at once). */
export interface Arrival {
  /** Times the queue delivered it, this one included: above 1 when an earlier handling did not finish. */
  attempts: number;
  /** How long it was in the queue before this delivery, ms (a stopped receiver, a FIFO group held behind one). */
  waitedMs: number;
}

/**
 * Receives a batch of this node's messages, in queue order. Resolve = done: the messages are deleted. Reject =
 * the whole batch is delivered again later (bounded attempts), so handling must tolerate a repeat of messages
 * already applied (the `id` of each message identifies it). `arrivals` says how each came, where the transport
 * knows it.
 */
export type NodeMessageHandler = (messages: NodeMessage[], arrivals?: ReadonlyMap<NodeMessage, Arrival>) => Promise<void>;

/** What `drainQueue` did. */
export interface DrainResult {
  /** Messages handed to the handler and deleted. */
  drained: number;
  /** Malformed bodies deleted (each also reported through onError). */
  malformed: number;
  /**
   * Messages known to be left after the drain. Always 0: a drain ends when a receive returns nothing. Messages in
   * flight (received by the dead node and never deleted, or locked behind one in its FIFO group) are invisible
   * until their visibility timeout ends, so a caller drains again after it before deleting the queue
   * (broker/cluster-maintenance.ts keeps a dead node's queue for `cluster.deadQueueGraceMs`, decision 020).
   */
  remaining: number;
}

export interface Communicator {
  readonly kind: "memory" | "sqs";
  /** Starts receiving this node's messages (creates its queue for SQS) and returns its address (queue URL). */
  start(nodeId: string, handler: NodeMessageHandler): Promise<string>;
  /**
   * Sends messages to one node, batched (10 per SQS call). Resolves once the transport accepted all of them.
   * Messages of successive or overlapping calls to the same node keep their call order per ordering group (see
   * docs/decisions/004-sqs-node-queues.md). Rejects with NodeUnreachable (no queue), PayloadTooLarge (checked
   * before anything is sent), BufferFull or SendFailed.
   */
  send(nodeId: string, messages: NodeMessage[]): Promise<void>;
  /**
   * Stops receiving: aborts the long poll and waits for the batch being handled. Without `deleteQueue` the queue
   * stays and keeps accepting messages (a later `start` or `drainQueue` gets them); with it (graceful shutdown)
   * the queue and whatever is left in it are removed.
   */
  stop(opts?: { deleteQueue?: boolean }): Promise<void>;
  /**
   * The node lost its lease: what it received and has not finished handling is handed back to the queue (visible
   * again within seconds, for a survivor draining it or this node once registered again) rather than holding its
   * FIFO groups back until the visibility timeout; `stop` no longer waits for those batches. Absent where nothing
   * stays in flight (the in-process communicator).
   */
  handBack?(): void;
  /**
   * Failure handling: hands what is left in another (dead) node's queue to `handler`, batch by batch, deleting
   * each batch once the handler resolved. Not for a node that is still receiving. Rejects with NodeUnreachable
   * when the queue does not exist (already drained and deleted by someone else).
   */
  drainQueue(nodeId: string, handler: NodeMessageHandler): Promise<DrainResult>;
  /** Removes a node's queue and its messages (a dead node's, after draining). Idempotent. */
  deleteNodeQueue(nodeId: string): Promise<void>;
}
