import type { StoredMessage } from "./types.js";

/**
 * Wills in the store (decision 019): a client's will is stored when its CONNECT is accepted and taken (atomically
 * deleted and returned) by whoever publishes it, so each will is published at most once, by the node that held the
 * connection or by a survivor after that node's lease expired. Keyed by the node holding the connection and, per
 * will, the client id and the session epoch of the connection (a client's next connection has a newer epoch: its
 * will is another entry).
 */

/** The largest Will Delay Interval (a Four Byte Integer, seconds; the session expiry limit caps it further). */
export const MAX_WILL_DELAY = 0xffff_ffff;

/** A stored will: the message, plus what a survivor needs to publish it on the client's behalf. */
export interface WillRecord extends StoredMessage {
  /** The incarnation of the node holding the connection (its record's `startedAt`). */
  incarnation: number;
  /** The client's user name at CONNECT (a survivor authorizes the will against that user's current rules). */
  username: string | null;
  /** Whether the client's rules allowed the will topic at CONNECT: used when its rules cannot be read later. */
  allowed: boolean;
  /**
   * MQTT 5 Will Delay Interval in effect, in seconds: min(Will Delay Interval, Session Expiry Interval of the
   * CONNECT) (3.1.3.2.2). Absent or 0: published as soon as the connection is known to be gone (3.1.1, a session
   * that ends with its connection, and every record written before delays were stored). Decision 028.
   */
  delay?: number | undefined;
  /**
   * With a delay: the `now` of the session claim the connection made (the session's `connectedAt` then). A later
   * claim of the client id (a reconnection, on any node) records another `connectedAt`; adopting a dead node's
   * sessions does not change it (it does bump the epoch). Decision 028.
   */
  claimedAt?: number | undefined;
  /** With a delay: when it is due (epoch ms), once the connection is gone and someone started the wait. */
  due?: number | undefined;
}

/** A will taken for publication, with whose it was. */
export interface TakenWill {
  clientId: string;
  epoch: number;
  will: WillRecord;
}

export interface WillOps {
  /** Stores the will of the connection of `clientId` under `epoch` held by `node` (replaces an equal entry). */
  putWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<void>;
  /**
   * Replaces the stored will with `will` while it is there (the node records when a delayed will is due, decision
   * 028); false when it is gone (taken or cleared), and then nothing is written. It stays indexed under the
   * incarnation it was stored with: `will.incarnation` must be that one.
   */
  replaceWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<boolean>;
  /** Deletes it without returning it (a normal DISCONNECT); true when it was there. */
  clearWill(clientId: string, epoch: number, node: string): Promise<boolean>;
  /** Deletes and returns it, or null when it is gone (already taken or cleared): the caller publishes it. */
  takeWill(clientId: string, epoch: number, node: string): Promise<WillRecord | null>;
  /**
   * Takes (deletes and returns) up to `limit` wills held by `node` from incarnations up to `upTo` (inclusive; all
   * when absent), oldest incarnation first. A node's expired incarnation is passed, so the wills of a newer
   * incarnation (the node came back) are never taken.
   */
  takeWillsOf(node: string, limit: number, upTo?: number): Promise<TakenWill[]>;
}
