import type { ClientInfo, ClientPolicy } from "../core/auth/types.js";
import type { Store, TakenWill } from "../core/store/types.js";
import type { Broker } from "./broker.js";
import type { Message } from "./types.js";

/**
 * Where the broker keeps its clients' wills (decision 019). The broker core calls a `WillStore` and knows nothing
 * else: a single node keeps them in the connection (`LOCAL_WILLS`, the MQTT behaviour as it always was); a cluster
 * node stores them in the shared store (`StoreWills`), so they outlive the node, and publishes one only after
 * taking it from the store atomically, so every will is published once, by whoever took it.
 */
export interface WillStore {
  /**
   * A CONNECT with a will is being accepted; `token` is its connection, `epoch` its session claim. CONNACK waits
   * for the promise: it settles once the will is kept (or could not be: then this node alone has it).
   */
  connected(token: object, clientId: string, epoch: number, will: Message, username: string | null, policy: ClientPolicy | null): Promise<unknown>;
  /** The connection ended with its will discarded (DISCONNECT [MQTT-3.14.4-3], or revoked rules): forget it. */
  discarded(token: object): void;
  /** The connection ended without DISCONNECT [MQTT-3.1.2-8]: calls `publish` unless the will is not this node's to publish. */
  lost(token: object, will: Message, publish: (will: Message) => void): void;
}

const KEPT: Promise<unknown> = Promise.resolve();

/** A single node: the will lives and dies with the connection. */
export const LOCAL_WILLS: WillStore = {
  connected() {
    return KEPT;
  },
  discarded() {},
  lost(_token, will, publish) {
    publish(will);
  },
};

interface Held {
  clientId: string;
  epoch: number;
  /** Settles once the will is in the store (true) or could not be stored (false: this node alone has it). */
  stored: Promise<boolean>;
}

const TAKE_ATTEMPTS = 3;

/** Wills in the shared store, for a cluster node. */
export class StoreWills implements WillStore {
  /** Connection -> its stored will; bounded by the connections of this node. */
  private readonly held = new Map<object, Held>();
  private abandoned = false;

  constructor(
    private readonly store: Store,
    private readonly nodeId: string,
    /** The node's current incarnation (its registration's `startedAt`). */
    private readonly incarnation: () => number,
    private readonly onError: (operation: string, err: Error) => void,
  ) {}

  /** Wills held by this node now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * The lease ran out (broker/lease.ts): connections closed from now on leave their wills in the store, where a
   * survivor (or this node's next incarnation) takes and publishes them. `false` once registered again.
   */
  abandon(abandoned: boolean): void {
    this.abandoned = abandoned;
  }

  connected(token: object, clientId: string, epoch: number, will: Message, username: string | null, policy: ClientPolicy | null): Promise<boolean> {
    const record = { ...will, incarnation: this.incarnation(), username, allowed: mayPublish(policy, will.topic) };
    const stored = this.store.putWill(clientId, epoch, this.nodeId, record).then(
      () => true,
      (err: unknown) => {
        this.onError("putWill", err as Error);
        return false;
      },
    );
    this.held.set(token, { clientId, epoch, stored });
    return stored;
  }

  discarded(token: object): void {
    const held = this.held.get(token);
    if (held === undefined) return;
    this.held.delete(token);
    if (this.abandoned) return;
    void held.stored
      .then((ok) => (ok ? this.store.clearWill(held.clientId, held.epoch, this.nodeId) : false))
      .catch((err: unknown) => this.onError("clearWill", err as Error));
  }

  lost(token: object, will: Message, publish: (will: Message) => void): void {
    const held = this.held.get(token);
    if (held === undefined) {
      publish(will); // never stored (a connection without a session claim): nobody else can have it
      return;
    }
    this.held.delete(token);
    if (this.abandoned) return;
    void held.stored.then(async (ok) => {
      if (!ok) {
        publish(will); // the store never had it: this node is the only one that can publish it
        return;
      }
      for (let attempt = 1; attempt <= TAKE_ATTEMPTS; attempt++) {
        try {
          // Taken: this node publishes it. Gone: a survivor took it (this node's lease had run out meanwhile).
          if ((await this.store.takeWill(held.clientId, held.epoch, this.nodeId)) !== null) publish(will);
          return;
        } catch (err) {
          this.onError("takeWill", err as Error);
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt).unref());
        }
      }
      // Still in the store: published by a survivor once this node's lease expires, if the store stays away.
    });
  }
}

/** The decision at CONNECT, kept for a survivor that cannot read the client's rules (an authorizer that throws denies). */
function mayPublish(policy: ClientPolicy | null, topic: string): boolean {
  try {
    return policy !== null && policy.canPublish(topic);
  } catch {
    return false;
  }
}

/** Wills taken per store call, and published concurrently. */
const REAP_BATCH = 100;

/**
 * Publishes the wills a node left in the store, from its incarnations up to `upTo`: a dead node's (its lease
 * expired), or this node's own earlier incarnations after it registered again. Each is authorized against its
 * client's current rules when they can be read (`Auth.resolvePolicy` / `policyFor`), else as decided at CONNECT.
 * Returns how many were published.
 */
export async function reapWills(broker: Broker, node: string, upTo: number): Promise<number> {
  let published = 0;
  for (;;) {
    const batch = await broker.store.takeWillsOf(node, REAP_BATCH, upTo);
    const results = await Promise.all(batch.map((t) => publishTaken(broker, t)));
    published += results.filter(Boolean).length;
    if (batch.length < REAP_BATCH) return published;
  }
}

async function publishTaken(broker: Broker, taken: TakenWill): Promise<boolean> {
  const w = taken.will;
  const msg: Message =
    w.props === undefined && w.publishedAt === undefined
      ? { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain }
      : { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, props: w.props, publishedAt: w.publishedAt };
  const info: ClientInfo = { clientId: taken.clientId, username: w.username ?? undefined, protocolVersion: 4 };
  let policy: ClientPolicy | null = null;
  try {
    policy = (await broker.auth.resolvePolicy?.(info)) ?? broker.auth.policyFor?.(info) ?? null;
  } catch {
    policy = null;
  }
  const allowed = !w.topic.startsWith("$SYS") && (policy !== null ? policy.canPublish(w.topic) : w.allowed);
  if (!allowed) {
    broker.onDrop(null, msg, "not-authorized");
    return false;
  }
  await broker.publishExternal(msg);
  return true;
}
