import type { ClientInfo, ClientPolicy } from "../core/auth/types.js";
import type { TakenWill, WillRecord } from "../core/store/types.js";
import type { Broker } from "./broker.js";
import type { WillRelease } from "./delayed-wills.js";
import type { Message } from "./types.js";
import type { StoreWills } from "./wills.js";

/** Wills taken per store call, and handled concurrently. */
const REAP_BATCH = 100;

/** What the store says of a delayed will's client since the connection the will belongs to. */
type ClientState = "back" | "ended" | "away";

/**
 * Publishes the wills a node left in the store (decision 019), from its incarnations up to `upTo`: a dead node's
 * (its lease expired), or this node's own earlier incarnations after it registered again. Each is authorized
 * against its client's current rules when they can be read (`Auth.resolvePolicy` / `policyFor`), else as decided
 * at CONNECT.
 *
 * A will with an MQTT 5 delay (decision 028) is published only once its delay ran out [MQTT-3.1.2-8], and not at
 * all when its client came back to its session first [MQTT-3.1.3-9], on whatever node. The delay counts from the
 * time the store recorded as due (the node started the wait when the connection closed), else from now, when
 * this node took it: the connection ended at the latest when its node died, up to one lease before. Waiting, the
 * will is stored again under this node (so if this node dies too, the next survivor takes it, with the same due
 * time) and in `broker.delayedWills` (so a reconnection here drops it, or publishes it at once with Clean Start).
 * When it is due it is taken from the store again (exactly once, whoever takes it) and published unless the store
 * shows a later claim of the client id: a claim records a new `connectedAt`, which adopting the session from a
 * dead node does not (it bumps the epoch, which is why the epoch cannot tell). Waiting wills are bounded by the
 * connections the dead nodes had.
 */
export class WillReaper {
  /** Wills published, at once or when due. */
  published = 0;

  constructor(
    private readonly broker: Broker,
    private readonly wills: StoreWills,
  ) {}

  /** Takes and handles the wills of `node`'s incarnations up to `upTo`; resolves once each is published or waiting. */
  async reap(node: string, upTo: number): Promise<void> {
    for (;;) {
      const batch = await this.broker.store.takeWillsOf(node, REAP_BATCH, upTo);
      await Promise.all(batch.map((t) => this.taken(t)));
      if (batch.length < REAP_BATCH) return;
    }
  }

  private async taken(t: TakenWill): Promise<void> {
    if ((t.will.delay ?? 0) > 0) {
      const state = await this.clientState(t);
      if (state === "back") return; // reconnected in time [MQTT-3.1.3-9]
      if (state === "away") {
        this.hold(t, ...(await this.keep(t)));
        return;
      }
      // "ended": the session is gone (expired or deleted), and the will goes with it (3.1.3.2.2).
    }
    await this.publish(t.clientId, t.will);
  }

  /** Stores the will again under this node, with its due time; `stored` false when the store refused (only this node has it then). */
  private async keep(t: TakenWill): Promise<[WillRecord, boolean]> {
    const due = t.will.due ?? this.broker.now() + (t.will.delay ?? 0) * 1000;
    const record: WillRecord = { ...t.will, incarnation: this.wills.incarnation(), due };
    try {
      await this.broker.store.putWill(t.clientId, t.epoch, this.wills.nodeId, record);
      return [record, true];
    } catch (err) {
      this.wills.onError("putWill", err as Error);
      return [record, false];
    }
  }

  /** Waits in `broker.delayedWills` until the will is due. */
  private hold(t: TakenWill, will: WillRecord, stored: boolean): void {
    const wait = Math.max(0, (will.due ?? 0) - this.broker.now());
    const release = (why: WillRelease): void => {
      void this.release(t.clientId, t.epoch, will, stored, why).catch((err: unknown) => this.wills.onError("delayed will", err as Error));
    };
    const cancel = (): void => {
      // The client is back on this node (or this node lost its lease: then the store keeps it for whoever takes it).
      if (!stored || this.wills.isAbandoned) return;
      void this.broker.store.clearWill(t.clientId, t.epoch, this.wills.nodeId).catch((err: unknown) => this.wills.onError("clearWill", err as Error));
    };
    this.broker.delayedWills.schedule(t.clientId, wait, release, cancel);
  }

  private async release(clientId: string, epoch: number, will: WillRecord, stored: boolean, why: WillRelease): Promise<void> {
    // Left in the store, for a survivor or this node's next incarnation (lease lost), or for the survivors that
    // take this node's wills once it has left (a graceful stop): none of them publishes it before it is due.
    if (stored && (this.wills.isAbandoned || why === "stopping")) return;
    if (stored) {
      const taken = await this.wills.take(clientId, epoch);
      if (taken === null || taken === undefined) return; // someone else took it, or it stays for a survivor
    }
    // Due: unless the client came back meanwhile, on another node. A Clean Start here ended the session: publish.
    if (why === "due" && (await this.clientState({ clientId, epoch, will })) === "back") return;
    await this.publish(clientId, will);
  }

  /** Whether the client claimed its session again since the will's connection did, or the session is gone. */
  private async clientState(t: TakenWill): Promise<ClientState> {
    let session;
    try {
      session = await this.broker.store.getSession(t.clientId);
    } catch (err) {
      // Unknown: a will still waits (and is checked again when due); a due one is published.
      this.wills.onError("getSession", err as Error);
      return "away";
    }
    if (session === null) return "ended";
    // Every claim records its `now` as `connectedAt`; adoption by a survivor keeps it. A record without the claim
    // time (none is written so) cannot tell: it waits out its delay.
    return t.will.claimedAt !== undefined && session.connectedAt !== t.will.claimedAt ? "back" : "away";
  }

  private async publish(clientId: string, w: WillRecord): Promise<void> {
    const msg: Message =
      w.props === undefined && w.publishedAt === undefined
        ? { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain }
        : { topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, props: w.props, publishedAt: w.publishedAt };
    const info: ClientInfo = { clientId, username: w.username ?? undefined, protocolVersion: 4 };
    let policy: ClientPolicy | null = null;
    try {
      policy = (await this.broker.auth.resolvePolicy?.(info)) ?? this.broker.auth.policyFor?.(info) ?? null;
    } catch {
      policy = null;
    }
    const allowed = !w.topic.startsWith("$SYS") && (policy !== null ? policy.canPublish(w.topic) : w.allowed);
    if (!allowed) {
      this.broker.onDrop(null, msg, "not-authorized");
      return;
    }
    await this.broker.publishExternal(msg);
    this.published++;
  }
}
