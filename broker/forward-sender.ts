import type { QoS } from "mqtt-packet";
import type { LimitsConfig } from "../core/config/types.js";
import { NodeUnreachable } from "../core/communicator/errors.js";
import type { NodeMessage } from "../core/communicator/types.js";
import { fromWireMessage } from "../core/communicator/wire.js";
import type { Store, StoredOutgoing, StoreOp, StoreOpResult } from "../core/store/types.js";
import { retryPause, sendUntilTaken } from "./send-retry.js";
import type { Message } from "./types.js";

/** The queue limits a delivery stored for a session is enqueued under. */
export type QueueLimits = Pick<LimitsConfig, "maxQueued" | "queueDropPolicy">;

/** What the sender needs of the broker core (broker/broker.ts), read at each use. */
export interface SenderHost {
  readonly store: Pick<Store, "apply">;
  readonly config: { readonly limits: QueueLimits };
}

/** Where batches go, and who hears of what could not go (broker/cluster.ts wires it). */
export interface SenderLinks {
  /** Sends node messages to `node`: over a node link, falling back to its node queue. */
  send(node: string, messages: NodeMessage[]): Promise<void>;
  /** A take-over kick could not reach `node`: no reply is coming (MoveSettler.unreachable, decision 040). */
  unreachable(clientId: string, node: string, epoch: number): void;
  onError(operation: string, err: Error): void;
}

/** Tries for a batch of QoS 0 forwards (or any batch once the node stops) before it is given up. */
const MAX_QOS0_SEND_ATTEMPTS = 3;

/**
 * Sends a tick's batch of forwards (and the kicks and replies behind them) to one node, waiting out an outage
 * (decision 032); what cannot go, because the node is gone, goes to the store for its sessions instead.
 */
export class ForwardSender {
  private stopped = false;

  constructor(
    private readonly host: SenderHost,
    private readonly links: SenderLinks,
  ) {}

  /** The node stops: a batch that cannot go is given up after a few tries, and so is its store fallback. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * The one place forwards leave this node: `deliver` node messages to one node. A match forward that cannot be
   * sent (the node's queue is gone: it died and was cleaned up while this node's route table still named it) is
   * lost for that node's sessions, which by then were adopted elsewhere; see docs/cluster.md.
   */
  async sendDeliveries(node: string, messages: NodeMessage[]): Promise<void> {
    // QoS 0 is at most once, and nothing slows a QoS 0 publisher down (no acknowledgement waits for its forwards):
    // held through an outage, its forwards would pile up without bound. A batch of QoS 0 messages only (no kick,
    // no reply) gets MAX_QOS0_SEND_ATTEMPTS, then is dropped like one whose node is gone.
    const atMostOnce = messages.every((m) => m.type === "deliver" && m.msg.qos === 0);
    try {
      // SQS refusing (an outage, this node cut off) is waited out, as a store batch is (decision 032): a match
      // forward names no session, so the store cannot take it instead, and the publish is acknowledged only once
      // its forwards went out. A publisher with 1,024 acknowledgements (or 4 MiB of them) waiting is no longer
      // read from (broker/durable-acks.ts), which bounds what each one can have held here.
      await sendUntilTaken(() => this.links.send(node, messages), {
        giveUp: (err, attempt) => err instanceof NodeUnreachable || ((this.stopped || atMostOnce) && attempt >= MAX_QOS0_SEND_ATTEMPTS),
        onError: (err) => this.links.onError(`send to node ${node}`, err),
      });
    } catch (err) {
      // The node's queue is gone (it shut down or died and was cleaned up), or this node stopped: what was meant
      // for it goes to the store (QoS 0 is dropped), where the session finds it when it is next claimed. Under
      // the delivery's dedup id, as the receiving node would have enqueued it.
      this.links.onError(`send to node ${node}`, err as Error);
      const ops: StoreOp[] = [];
      for (const m of messages) {
        // A take-over kick that cannot reach its node: no reply is coming (its connection is gone with it), and it
        // may have died before kicking the holders before it (decision 040).
        if (m.type === "kick") this.links.unreachable(m.clientId, node, m.epoch ?? 0);
        if (m.type !== "deliver") continue;
        const msg: Message = fromWireMessage(m.msg);
        for (const t of m.targets) {
          if (t.qos === 0) continue;
          const op = enqueueOp(this.host.config.limits, t.clientId, msg, t.qos, t.retain === true, t.subIds, false);
          if (op.op === "enqueue") op.dedupId = m.root ?? m.id;
          ops.push(op);
        }
      }
      if (ops.length > 0) await this.applyWithRetry(ops, `store deliveries for node ${node}`);
    }
  }

  /** Outside the journal (whose batch waits for this), retried until the store takes it or the node stops. */
  private async applyWithRetry(ops: StoreOp[], what: string): Promise<StoreOpResult[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.host.store.apply(ops);
      } catch (err) {
        this.links.onError(what, err as Error);
        if (this.stopped && attempt >= 3) return [];
        await retryPause(attempt);
      }
    }
  }
}

/** A store enqueue of a targeted delivery, with its RETAIN flag and Subscription Identifiers (sent when it is). */
export function enqueueOp(limits: QueueLimits, clientId: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, unowned: boolean): StoreOp {
  const entry: Omit<StoredOutgoing, "seq" | "state"> = { msg, qos, retain, packetId: 0 };
  if (subIds !== undefined) entry.subIds = [...subIds];
  const op: StoreOp = { op: "enqueue", clientId, entry, maxQueued: limits.maxQueued, dropPolicy: limits.queueDropPolicy };
  if (unowned) op.unowned = true;
  return op;
}
