import type { QoS } from "mqtt-packet";
import { MAX_SUB_IDS, NO_LOCAL, RETAIN_AS_PUBLISHED } from "../core/subscription-word.js";
import type { RemoteRoutes } from "./broker-types.js";
import type { RouteMemo } from "./route-memo.js";
import type { Session } from "./session.js";
import type { SharedGroup } from "./shared.js";
import type { Subscription, SubscriptionIndex } from "./subscription-index.js";
import { TargetSet } from "./target-set.js";
import type { DropReason, Message } from "./types.js";

/** In a routing pass: the session matched a subscription whose guard refused the message (deny wins). */
const DENIED = -1;
/** In a routing target: deliver with the message's RETAIN flag (a matching subscription has Retain As Published). */
const RAP = 4;

/** What a routing pass reports to the broker (counters and events are the broker's). */
export interface RoutingHost {
  onDeliveryDenied(session: Session, msg: Message): void;
  onDrop(session: Session | null, msg: Message, reason: DropReason): void;
}

/**
 * Routing to the sessions of this node: a message is matched once against the subscription index; overlapping
 * subscriptions of one session collapse to one delivery at the highest granted QoS [MQTT-3.3.5-1]. The pass
 * allocates no closure or promise per message: its state lives in fields read by `collectTarget`.
 */
export class LocalRouter {
  /**
   * Scratch set for one routing pass: session -> highest granted QoS (one copy per session [MQTT-3.3.5-1]), or
   * DENIED once a guarded subscription of the session refused the message (broker/target-set.ts).
   */
  private readonly scratch = new TargetSet<Session>();
  private targets = this.scratch;
  /** The topic of the routing pass in progress (read by `collectTarget`, so it needs no closure per message). */
  private routedTopic = "";
  private routing = false;
  /**
   * The session whose client is publishing (MQTT 5 No Local skips its subscriptions [MQTT-3.8.3-3]), or null
   * (a message from another node, the REST gateway, or a will).
   */
  private publisher: Session | null = null;
  /** Subscription Identifiers per session for the routing pass in progress, allocated once one is met. */
  private targetIds: Map<Session, number[]> | null = null;
  /** Shared subscription groups matched by the routing pass in progress, or null. */
  private targetGroups: SharedGroup[] | null = null;
  private readonly collectTarget = (sub: Subscription): void => {
    // MQTT 5 options (and shared subscriptions) cost a 3.1.1 subscription one comparison.
    if (sub.options !== 0 || sub.id !== 0) {
      this.collectOptions(sub);
      return;
    }
    const session = sub.session as Session;
    const prev = this.targets.get(session);
    if (prev === DENIED) return;
    // Exact authorization (docs/auth.md): only subscriptions that overlap a deny pattern pay this check.
    if (sub.guard !== null && sub.guard.refuses(this.routedTopic)) this.targets.set(session, DENIED);
    else if (prev === undefined || sub.qos > (prev & 3)) this.targets.set(session, prev === undefined ? sub.qos : sub.qos | (prev & RAP));
  };

  /** The memo `match` is filling (read by `recordTarget`), or null. */
  private recording: RouteMemo | null = null;
  private readonly recordTarget = (sub: Subscription): void => {
    (this.recording as RouteMemo).keep(sub);
    this.collectTarget(sub);
  };

  constructor(
    private readonly index: SubscriptionIndex,
    private readonly host: RoutingHost,
  ) {}

  /** Makes `session` the publisher of the routing passes that follow (null: none); returns the one it replaces. */
  swapPublisher(session: Session | null): Session | null {
    const outer = this.publisher;
    this.publisher = session;
    return outer;
  }

  /**
   * An MQTT 5 subscription matched: No Local, Retain As Published (the RAP bit of the session's target, set when
   * any matching subscription has it [MQTT-3.3.1-12]) and its Subscription Identifier (every matching
   * subscription's, 3.3.4).
   */
  private collectOptions(sub: Subscription): void {
    if (sub.group !== null) {
      (this.targetGroups ??= []).push(sub.group);
      return;
    }
    const session = sub.session as Session;
    const prev = this.targets.get(session);
    if (prev === DENIED) return;
    if (sub.guard !== null && sub.guard.refuses(this.routedTopic)) {
      this.targets.set(session, DENIED);
      return;
    }
    if ((sub.options & NO_LOCAL) !== 0 && session === this.publisher) return;
    const rap = (sub.options & RETAIN_AS_PUBLISHED) !== 0 ? RAP : 0;
    const next = prev === undefined ? sub.qos | rap : Math.max(prev & 3, sub.qos) | (prev & RAP) | rap;
    this.targets.set(session, next);
    if (sub.id !== 0) {
      const ids = (this.targetIds ??= new Map<Session, number[]>());
      const list = ids.get(session);
      // At most MAX_SUB_IDS per delivery (docs/security.md): a client cannot make one message carry (and every
      // store copy of it hold) an identifier for each of its up to maxSubscriptionsPerSession overlapping filters.
      if (list === undefined) ids.set(session, [sub.id]);
      else if (list.length < MAX_SUB_IDS && !list.includes(sub.id)) list.push(sub.id);
    }
  }

  /**
   * Collects the targets of `topic`: from the publisher's memo when it holds the topic at the index's version
   * (decision 057), else from the index, remembered for the publisher's next publish.
   */
  private match(topic: string): void {
    const memo = this.publisher?.routeMemo() ?? null;
    if (memo === null) {
      this.index.match(topic, this.collectTarget);
      return;
    }
    const version = this.index.version;
    if (memo.holds(topic, version)) {
      if (!memo.replay(this.collectTarget)) this.index.match(topic, this.collectTarget);
      return;
    }
    memo.begin(topic, version);
    const outer = this.recording;
    this.recording = memo;
    // A flag and finally, not catch-and-rethrow: with a catch here bench/instr-count.mjs counted about 5 % more
    // instructions per message (25,269 and 25,544 against 24,046 and 24,047), for the same behaviour.
    let walked = false;
    try {
      this.index.match(topic, this.recordTarget);
      walked = true;
    } finally {
      this.recording = outer;
      // A walk cut short by a throw left part of the list: the next publish walks again.
      if (!walked) memo.forget();
    }
  }

  /** Broker.routeLocal: delivers `msg` to the matching sessions of this node only (see there for the arguments). */
  route(msg: Message, only: ReadonlySet<string> | null, orStored: boolean, shared: "deliver" | "skip" | SharedGroup[]): number {
    // A publish from inside a delivery (an event listener publishing) gets its own scratch set.
    const targets = this.routing ? new TargetSet<Session>() : this.scratch;
    this.targets = targets;
    const outerIds = this.targetIds;
    const outerGroups = this.targetGroups;
    this.targetIds = null;
    this.targetGroups = null;
    const outerTopic = this.routedTopic;
    this.routedTopic = msg.topic;
    let ids: Map<Session, number[]> | null;
    let groups: SharedGroup[] | null;
    try {
      this.match(msg.topic);
    } catch (err) {
      // A walk cut short (a subscription's authorization check threw) delivers nothing, and leaves nothing in the
      // scratch set for the next publish to deliver.
      targets.clear();
      throw err;
    } finally {
      this.routedTopic = outerTopic;
      ids = this.targetIds as Map<Session, number[]> | null;
      groups = this.targetGroups as SharedGroup[] | null;
      this.targetIds = outerIds;
      this.targetGroups = outerGroups;
    }
    let matched = 0;
    // Shared subscription groups: delivered here on a single node; in a cluster the publishing node picks the node
    // (`shared` is its list) and a forwarded copy skips them. A dead node's drained queue never involves them.
    if (groups !== null && only === null && shared !== "skip") {
      if (shared !== "deliver") shared.push(...groups);
      else for (const group of groups) if (this.index.shared.deliver(group, msg, null)) matched++;
    }
    if (targets.size === 0) return matched;
    const outer = this.routing;
    this.routing = true;
    const qos = msg.qos;
    try {
      for (let i = 0; i < targets.size; i++) {
        const session = targets.keyAt(i);
        const target = targets.wordAt(i);
        const granted = target & 3;
        if (only !== null && !only.has(session.clientId) && !(orStored && session.persistent && target !== DENIED && granted > 0 && qos > 0)) continue;
        if (target === DENIED) {
          this.host.onDeliveryDenied(session, msg);
          continue;
        }
        matched++;
        // RETAIN is 0 on a live delivery [MQTT-3.3.1-9], unless the subscription keeps it [MQTT-3.3.1-12].
        const retain = target >= RAP && msg.retain;
        session.deliver(msg, (granted < qos ? granted : qos) as QoS, retain, ids?.get(session));
      }
    } finally {
      targets.clear();
      this.routing = outer;
    }
    return matched;
  }

  /**
   * A publish of this node in a cluster: delivered here, sent once to each other node whose routes match, and
   * given to each matching shared subscription group once in the cluster (here or on one of its other nodes, in
   * turn). Returns the matched count.
   */
  routeInCluster(msg: Message, remote: RemoteRoutes): number {
    const groups: SharedGroup[] = [];
    let matched = this.route(msg, null, false, groups);
    // In a cluster: once to each other node whose routes match; that node matches its own sessions.
    remote.publish(msg);
    const elsewhere = new Map<string, string[]>();
    remote.sharedNodes(msg.topic, (key, node) => {
      const nodes = elsewhere.get(key);
      if (nodes === undefined) elsewhere.set(key, [node]);
      else if (!nodes.includes(node)) nodes.push(node);
    });
    for (const group of groups) {
      if (this.index.shared.offer(group.key, msg, null, elsewhere.get(group.key) ?? [], true)) matched++;
      elsewhere.delete(group.key);
    }
    for (const [key, nodes] of elsewhere) if (this.index.shared.offer(key, msg, null, nodes, true)) matched++;
    return matched;
  }

  /**
   * What a shared subscription member whose session ended was not sent (or did not acknowledge at QoS 1) goes to
   * the other members of its group (4.8.2), here or on another node; dropped when there is none.
   */
  handBack(entries: Iterable<{ msg: Message; group: string }>, session: Session, remote: RemoteRoutes | null): void {
    for (const { msg, group } of entries) {
      const nodes: string[] = [];
      remote?.sharedNodes(msg.topic, (key, node) => key === group && !nodes.includes(node) && nodes.push(node));
      if (!this.index.shared.offer(group, msg, session, nodes, false)) this.host.onDrop(null, msg, "no-subscriber");
    }
  }

  /** A message another node sent here for one member of group `key`; false when no member is here any more. */
  deliverShared(key: string, msg: Message): boolean {
    const group = this.index.shared.get(key);
    return group !== undefined && this.index.shared.deliver(group, msg, null);
  }
}
