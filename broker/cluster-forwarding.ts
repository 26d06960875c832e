import type { QoS } from "mqtt-packet";
import type { NodeMessage, WireTarget } from "../core/communicator/types.js";
import { toWireMessage, toWireTarget } from "../core/communicator/wire.js";
import type { RouteView } from "./cluster-types.js";
import type { ForwardSender } from "./forward-sender.js";
import type { Journal } from "./journal.js";
import type { NodeMessageIds } from "./node-message-ids.js";
import type { DropReason, Message } from "./types.js";

/**
 * A forward the receiver matches against its own trie (`only`: just the sessions that came from that node), and
 * gives to one member of each shared subscription group in `groups` (decision 026).
 */
interface PendingMatch {
  match: true;
  only: string | null;
  groups?: string[];
  /** The sessions this node held the message for as it routed it (`ForwardingLinks.holding`). */
  holding?: string[];
}

/** A forwarded message: a `deliver` node message listing target sessions, or one the receiver matches itself. */
export type ForwardMessage = NodeMessage & { type: "deliver" };

/** What forwarding needs of the broker core (broker/broker.ts), read at each use. */
export interface ForwardingHost {
  readonly journal: Journal;
  /** Gives `msg` to one member here of shared subscription group `key`; false when none is left here. */
  deliverSharedHere(key: string, msg: Message): boolean;
  /** Counts and reports a message dropped (here: a shared group with no member left within the hop bound). */
  onDrop(session: null, msg: Message, reason: DropReason): void;
}

/** What forwarding needs of the rest of its node (broker/cluster.ts wires it). */
export interface ForwardingLinks {
  readonly nodeId: string;
  /** Times a delivery is passed on between nodes (ClusterOptions.maxHops). */
  readonly maxHops: number;
  /** The route table (filters -> nodes) of broker/routes.ts. */
  readonly routes: { readonly table: RouteView };
  readonly ids: NodeMessageIds;
  /** Where each node's batch of the tick goes. */
  readonly sender: Pick<ForwardSender, "sendDeliveries">;
  /** The sessions this node holds `msg` for, just routed here, while it settles its claim of them (MoveSettler.holding). */
  holding(msg: Message): string[] | undefined;
}

/**
 * Outbound forwarding to the other nodes of the cluster (docs/cluster.md): deliveries for sessions other nodes own,
 * and publishes of this node once to each node whose routes match, collected per tick and sent as one node message
 * per message and node, with the take-over kicks and replies of the tick behind them (decision 031), by the
 * ForwardSender. The journal batch of a tick (and the acknowledgements waiting for it) completes only once they were
 * taken, or stored instead.
 */
export class Forwarder {
  /** Deliveries collected this tick: node -> message -> targets (one node message per message and node). */
  private pending = new Map<string, Map<Message, WireTarget[] | PendingMatch>>();
  private pendingHops = new Map<Message, number>();
  /** Forwards made while handling a node message: that message's dedup id (kept as `root`) and a derived id. */
  private pendingIds = new Map<Message, { root: string; id: string }>();
  /** The nodes a message was sent to be matched there (`routeRemote`), while the message is referenced. */
  private readonly matchedTo = new WeakMap<Message, string[]>();
  private flushScheduled = false;
  /** Where this tick's forwards went once sent (for the journal's stall report). */
  private tickSending: { nodes: string[] | null } = { nodes: null };
  /** Resolves the journal track of this tick's forwards once they were sent (or stored instead). */
  private settleTick: (() => void) | null = null;
  /** Take-over kicks and their replies, per node: sent behind this tick's forwards to that node (decision 031). */
  private control = new Map<string, NodeMessage[]>();
  /** Settles once this tick's forwards were sent (or stored instead); every batch that forwards waits for it. */
  private tickSent: Promise<void> | null = null;
  /** Scratch set of one publish's matching nodes. */
  private readonly matchedNodes = new Set<string>();
  private readonly collectNode = (node: string): void => void this.matchedNodes.add(node);

  constructor(
    private readonly host: ForwardingHost,
    private readonly links: ForwardingLinks,
  ) {}

  /**
   * Sends a delivery to the node that owns the session (another node: Cluster.forward keeps this node's own). Collected
   * per tick and sent as one node message per message and node; the journal batch of this tick (and the
   * acknowledgements waiting for it) completes only once the node queue accepted them, or the store took them
   * instead. `retain` and `subIds` are the delivery's as this node matched it (the receiver does not match a
   * delivery that names its session) [MQTT-3.3.4-3].
   */
  forward(clientId: string, node: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined, hops = 0): void {
    let byMessage = this.pending.get(node);
    if (byMessage === undefined) {
      byMessage = new Map();
      this.pending.set(node, byMessage);
    }
    let targets = byMessage.get(msg);
    // A publish of this node (no dedup id) that went to `node` to be matched there: that node finds the session
    // itself, and a targeted copy would be a second delivery. Only if it went there: the route table may name
    // `node` now and not when the message was routed (seed 206 of the CI faults: a session claimed on `node` while
    // its offline enqueue here was on its way to the store, answered "owned").
    if (targets === undefined && this.host.journal.dedupId === null && this.matchedTo.get(msg)?.includes(node) === true) return;
    if (targets !== undefined && !Array.isArray(targets)) {
      // Already forwarded there to be matched: that node finds this session itself.
      return;
    }
    if (targets === undefined) {
      targets = [];
      byMessage.set(msg, targets);
      if (hops > 0) this.pendingHops.set(msg, hops);
      const dedupId = this.host.journal.dedupId;
      if (dedupId !== null) this.pendingIds.set(msg, { root: dedupId, id: this.links.ids.derivedId(dedupId) });
    }
    targets.push(toWireTarget(clientId, qos, retain, subIds));
    this.scheduleFlush();
  }

  /**
   * A message published on this node (or drained from a dead node's queue, `only` = that node): one node message
   * to each other node with a matching route; the receiver matches its own trie. Collected per tick like forward().
   */
  routeRemote(msg: Message, only: string | null): void {
    const nodes = this.matchedNodes;
    this.links.routes.table.match(msg.topic, this.collectNode);
    if (nodes.size === 0) return;
    // Routed here just before (Router.routeInCluster): a receiver that claimed one of these sessions from this node
    // leaves it out of its copy; this node passes its own on, behind the older ones it holds (decision 038, seed 96).
    const holding = this.links.holding(msg);
    for (const node of nodes) {
      // The dead node itself is named only when it came back (its routes were cleared before its queue is drained,
      // so it wrote them again as a new incarnation): its sessions may be there again.
      if (node === this.links.nodeId) continue;
      this.pendingFor(node, msg, holding === undefined ? { match: true, only } : { match: true, only, holding });
    }
    nodes.clear();
  }

  /**
   * `msg` to `node`, for one member of its shared subscription group `key`: with the match forward the message
   * may already have to that node (one node message), else as its own match forward (the receiver's other
   * subscribers it did not know of get it too, which is right).
   */
  forwardShared(node: string, msg: Message, key: string, hops: number): void {
    const existing = this.pending.get(node)?.get(msg);
    if (existing !== undefined && !Array.isArray(existing)) {
      (existing.groups ??= []).push(key);
      return;
    }
    if (hops > 0) this.pendingHops.set(msg, hops);
    this.pendingFor(node, msg, { match: true, only: null, groups: [key] });
  }

  /**
   * Shared subscription groups a node sent this message here for: one member of each; a group with no member here
   * any more goes to another node that has members, within the hop bound, else it is dropped (counted).
   */
  deliverGroups(msg: Message, groups: readonly string[], hops: number): void {
    for (const key of groups) {
      if (this.host.deliverSharedHere(key, msg)) continue;
      const others: string[] = [];
      this.links.routes.table.matchShared(msg.topic, (r) => {
        if (r.key === key && r.node !== this.links.nodeId && !others.includes(r.node)) others.push(r.node);
      });
      const next = others[Math.floor(Math.random() * others.length)];
      if (next === undefined || hops >= this.links.maxHops) this.host.onDrop(null, msg, "no-subscriber");
      else this.forwardShared(next, msg, key, hops + 1);
    }
  }

  /** Whether this node's route table names another node for `topic`. */
  routesElsewhere(topic: string): boolean {
    let found = false;
    const nodeId = this.links.nodeId;
    this.links.routes.table.match(topic, (n) => (found ||= n !== nodeId));
    if (!found) this.links.routes.table.matchShared(topic, (r) => (found ||= r.node !== nodeId));
    return found;
  }

  private pendingFor(node: string, msg: Message, entry: PendingMatch): void {
    let byMessage = this.pending.get(node);
    if (byMessage === undefined) {
      byMessage = new Map();
      this.pending.set(node, byMessage);
    }
    const existing = byMessage.get(msg);
    if (existing !== undefined && !Array.isArray(existing)) return;
    const sent = this.matchedTo.get(msg);
    if (sent === undefined) this.matchedTo.set(msg, [node]);
    else sent.push(node);
    // Targets collected first (a moved session's copy, routed before the other nodes) give way: `node` matches the
    // message against its own trie, which finds those sessions too (like forward() does the other way round).
    byMessage.set(msg, entry);
    if (existing !== undefined) return;
    const dedupId = this.host.journal.dedupId;
    if (dedupId !== null && !this.pendingIds.has(msg)) this.pendingIds.set(msg, { root: dedupId, id: this.links.ids.derivedId(dedupId) });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    const journal = this.host.journal;
    if (this.settleTick === null) {
      const tick = new Promise<void>((resolve) => (this.settleTick = resolve));
      const sent = (this.tickSending = { nodes: null as string[] | null });
      this.tickSent = tick;
      journal.label(tick, () => (sent.nodes === null ? "forwards not sent yet" : `forwards to ${sent.nodes.join(", ")}, not yet taken by a link or a node queue`));
    }
    // Every batch that forwards this tick (the one being filled, one whose results are handed out) waits for it.
    journal.trackOnce(this.tickSent as Promise<void>);
    this.scheduleSend();
  }

  /** Sends `m` to `node` behind the forwards collected for it this tick. */
  sendControl(node: string, m: NodeMessage): void {
    const list = this.control.get(node);
    if (list === undefined) this.control.set(node, [m]);
    else list.push(m);
    this.scheduleSend();
  }

  /** `flush` once this turn's I/O is handled (forwards and control messages of the turn leave together). */
  private scheduleSend(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(flushForwards, this);
    }
  }

  /** Sends this tick's forwards (called from setImmediate). */
  flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    const hops = this.pendingHops;
    const ids = this.pendingIds;
    const settle = this.settleTick;
    const sending = this.tickSending;
    const control = this.control;
    this.control = new Map();
    this.pending = new Map();
    this.pendingHops = new Map();
    this.pendingIds = new Map();
    this.settleTick = null;
    const sends: Promise<void>[] = [];
    // One dedup id per message across the nodes it goes to: a copy re-routed by one node to another (a session
    // that moved) is recognised by the store as the same message.
    const roots = new Map<Message, string>();
    for (const [node, byMessage] of pending) {
      const messages: ForwardMessage[] = [];
      for (const [msg, entry] of byMessage) {
        const seq = this.links.ids.nextSeq();
        const derived = ids.get(msg);
        const m: ForwardMessage = {
          type: "deliver",
          id: derived?.id ?? this.links.ids.plain(seq),
          origin: this.links.nodeId,
          seq,
          msg: toWireMessage(msg),
          targets: Array.isArray(entry) ? entry : [],
        };
        if (!Array.isArray(entry)) {
          m.match = true;
          if (entry.only !== null) m.only = entry.only;
          if (entry.groups !== undefined) m.groups = entry.groups;
          if (entry.holding !== undefined) m.holding = entry.holding;
        }
        const h = hops.get(msg);
        if (h !== undefined) m.hops = h;
        let root = derived?.root ?? roots.get(msg);
        if (root === undefined) roots.set(msg, (root = m.id));
        if (root !== m.id) m.root = root;
        messages.push(m);
      }
      sends.push(this.links.sender.sendDeliveries(node, [...messages, ...(control.get(node) ?? [])]));
      control.delete(node);
    }
    for (const [node, messages] of control) void this.links.sender.sendDeliveries(node, messages);
    sending.nodes = [...pending.keys()];
    void Promise.all(sends).then(() => settle?.());
  }
}

function flushForwards(forwarder: Forwarder): void {
  forwarder.flush();
}
