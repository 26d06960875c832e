import type { ClientPolicy } from "../core/auth/types.js";
import type { Store, WillRecord } from "../core/store/types.js";
import type { Message } from "./types.js";

/** What the broker knows of a will when its CONNECT is accepted. */
export interface WillTerms {
  clientId: string;
  /** The session claim of the connection. */
  epoch: number;
  /** The `now` that claim was made with (the session's `connectedAt`). */
  claimedAt: number;
  /** Seconds: min(Will Delay Interval, Session Expiry Interval of the CONNECT); 0 for 3.1.1 and sessions that end with the connection. */
  delay: number;
  username: string | null;
  policy: ClientPolicy | null;
}

/**
 * Where the broker keeps its clients' wills (decision 019). The broker core calls a `WillStore` and knows nothing
 * else: a single node keeps them in the connection (`LOCAL_WILLS`, the MQTT behaviour as it always was); a cluster
 * node stores them in the shared store (`StoreWills`), so they outlive the node, and publishes one only after
 * taking it from the store atomically, so every will is published once, by whoever took it. A will with an MQTT 5
 * delay is stored with it (and, once its connection is gone, with the time it is due), so a survivor that takes
 * it waits too (broker/reap-wills.ts, decision 028).
 */
export interface WillStore {
  /**
   * A CONNECT with a will is being accepted; `token` is its connection. CONNACK waits for the promise: it settles
   * once the will is kept (or could not be: then this node alone has it).
   */
  connected(token: object, will: Message, terms: WillTerms): Promise<unknown>;
  /** The connection closed without DISCONNECT and its will waits out its delay until `due` (epoch ms) on this node. */
  waiting(token: object, due: number): void;
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
  waiting() {},
  discarded() {},
  lost(_token, will, publish) {
    publish(will);
  },
};

interface Held {
  clientId: string;
  epoch: number;
  record: WillRecord;
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
    readonly nodeId: string,
    /** The node's current incarnation (its registration's `startedAt`). */
    readonly incarnation: () => number,
    readonly onError: (operation: string, err: Error) => void,
  ) {}

  /** Wills held by this node now. */
  get size(): number {
    return this.held.size;
  }

  /** Whether the lease ran out: this node publishes nothing from the store until it registered again. */
  get isAbandoned(): boolean {
    return this.abandoned;
  }

  /**
   * The lease ran out (broker/lease.ts): connections closed from now on leave their wills in the store, where a
   * survivor (or this node's next incarnation) takes and publishes them. `false` once registered again.
   */
  abandon(abandoned: boolean): void {
    this.abandoned = abandoned;
  }

  connected(token: object, will: Message, terms: WillTerms): Promise<boolean> {
    const { clientId, epoch, delay } = terms;
    const record: WillRecord = { ...will, incarnation: this.incarnation(), username: terms.username, allowed: mayPublish(terms.policy, will.topic) };
    if (delay > 0) Object.assign(record, { delay, claimedAt: terms.claimedAt });
    const stored = this.store.putWill(clientId, epoch, this.nodeId, record).then(
      () => true,
      (err: unknown) => {
        this.onError("putWill", err as Error);
        return false;
      },
    );
    this.held.set(token, { clientId, epoch, record, stored });
    return stored;
  }

  waiting(token: object, due: number): void {
    const held = this.held.get(token);
    if (held === undefined) return;
    // After the put and before any take or clear of this will (they wait for `stored`): a survivor that takes it
    // should this node die waits only what is left of the delay.
    held.stored = held.stored.then(async (ok) => {
      if (!ok) return ok;
      await this.store.replaceWill(held.clientId, held.epoch, this.nodeId, { ...held.record, due }).catch((err: unknown) => this.onError("replaceWill", err as Error));
      return true;
    });
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
      // Taken: this node publishes it. Gone: a survivor took it (this node's lease had run out meanwhile).
      const taken = await this.take(held.clientId, held.epoch);
      if (taken !== null && taken !== undefined) publish(will);
    });
  }

  /**
   * Takes this node's stored will of `clientId` under `epoch`, retrying a failed call a few times: the will, null
   * when it is gone (someone else took it), undefined when the store stayed away (the will stays there: a survivor
   * publishes it once this node's lease expires).
   */
  async take(clientId: string, epoch: number): Promise<WillRecord | null | undefined> {
    for (let attempt = 1; attempt <= TAKE_ATTEMPTS; attempt++) {
      try {
        return await this.store.takeWill(clientId, epoch, this.nodeId);
      } catch (err) {
        this.onError("takeWill", err as Error);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt).unref());
      }
    }
    return undefined;
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
