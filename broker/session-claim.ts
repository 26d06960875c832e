import type { MqgateConfig } from "../core/config/types.js";
import { ClaimRefused } from "../core/store/errors.js";
import type { ClaimResult, Store } from "../core/store/types.js";
import { ClaimIds, claimRepeating } from "./claim-repeats.js";
import type { Cluster } from "./cluster.js";
import type { Connection } from "./connection.js";
import type { SessionTerms } from "./handlers/connect5.js";
import type { Journal } from "./journal.js";
import { claimedFrom, earlierHolders, previousHolders } from "./move-settle.js";
import type { Session } from "./session.js";
import type { WillKeeper } from "./will-keeper.js";

/** What claiming needs from the broker. */
export interface ClaimDeps {
  readonly store: Store;
  readonly journal: Journal;
  readonly config: MqgateConfig;
  readonly wills: WillKeeper;
  now(): number;
  /** The cluster this node is a member of, or null (a single node); read at each use. */
  cluster(): Cluster | null;
  onStoreError(operation: string, err: Error, attempt: number): void;
}

/** A CONNECT's claim: the store's answer (null: nothing was claimed), or the store's refusal. */
export interface ClaimOutcome {
  claim: ClaimResult | null;
  refused: ClaimRefused | null;
}

/**
 * A CONNECT's session claim in the store and, in a cluster, the take-over kicks around it (decisions 017, 031,
 * 034, 040). It changes no session: the broker applies the outcome (SessionLifecycle.connect).
 */
export class SessionClaims {
  /** Ids of claims the store has not answered yet, to repeat them (claim-repeats.ts, decision 034). */
  private readonly ids = new ClaimIds();

  constructor(private readonly deps: ClaimDeps) {}

  /**
   * Claims `session` for `conn` in the store, and keeps the connection's will there before CONNACK. Writes issued
   * for this session so far must land before the claim reads its state. While the store is unreachable (the
   * journal's writes fail) that would wait for its return: nothing is claimed instead, so a persistent session is
   * refused with 0x03 at once and a clean one goes on in memory. A store failure is reported, not thrown.
   */
  async claim(conn: Connection, session: Session, clientId: string, terms: SessionTerms, identity: string): Promise<ClaimOutcome> {
    const { store, journal, config } = this.deps;
    let claim: ClaimResult | null = null;
    try {
      // Applied, not durable: a batch holding a delivery for this very session waits for the claim (decision 020).
      if (await journal.appliedAll()) {
        const now = this.deps.now();
        // Repeated under one id when it fails: a claim whose reply was lost still names the node to take over from.
        claim = await claimRepeating(store, clientId, {
          node: config.nodeId,
          clean: terms.clean,
          discard: terms.discard,
          username: conn.client?.username ?? null,
          now,
          identity,
          expiryMs: terms.expiryMs,
          maxSessions: config.limits.maxSessions,
        }, this.ids, () => session.claimant === conn, (err, attempt) => this.deps.onStoreError("claimSession", err, attempt));
        if (conn.will !== null) await this.deps.wills.connected(conn, conn.will, clientId, claim.epoch, now);
      }
    } catch (err) {
      if (err instanceof ClaimRefused) return { claim, refused: err };
      this.deps.onStoreError("claimSession", err as Error, 1);
    }
    return { claim, refused: null };
  }

  /**
   * After a claim in a cluster: the node that held the client closes its connection (take-over across nodes,
   * [MQTT-3.1.4-2]), and the node that kept the session offline drops its copy and its routes (decision 017).
   * `sessionEnded`: the claim was a Clean Start (a delayed will waiting there is published at once).
   */
  kickPreviousHolders(clientId: string, claim: ClaimResult, sessionEnded: boolean): void {
    const cluster = this.deps.cluster();
    if (cluster === null) return;
    for (const node of previousHolders(cluster.nodeId, claim.previousNode, claim.previousCustodian ?? null)) cluster.takeover(node, clientId, claim.epoch, sessionEnded);
  }

  /** The holders before the previous one, kicked when no settle wait will (decision 040). */
  kickEarlierHolders(clientId: string, claim: ClaimResult, discard: boolean): void {
    const from = claimedFrom(claim, discard);
    const epoch = claim.epoch;
    const cluster = this.deps.cluster();
    if (cluster === null) return;
    for (const node of earlierHolders(cluster.nodeId, from)) cluster.takeover(node, clientId, epoch, from.sessionEnded === true);
  }

  /** Whether the session a claim took was last served by this node (its connection's node, or its custodian). */
  servedHere(claim: ClaimResult): boolean {
    return (claim.previousNode ?? claim.previousCustodian ?? null) === this.deps.config.nodeId;
  }

  /**
   * Whether the session just attached waits for its previous holders (decision 031): what those nodes pass on
   * goes first, so its held deliveries are released once they answered (in a cluster, after a claim).
   */
  settles(session: Session, claim: ClaimResult | null, discard: boolean): boolean {
    const cluster = this.deps.cluster();
    return cluster !== null && claim !== null && cluster.claimedHere(session, claim.epoch, claimedFrom(claim, discard));
  }
}
