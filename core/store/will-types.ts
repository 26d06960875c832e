import type { StoredMessage } from "./types.js";

/**
 * Wills in the store (decision 019): a client's will is stored when its CONNECT is accepted and taken (atomically
 * deleted and returned) by whoever publishes it, so each will is published at most once, by the node that held the
 * connection or by a survivor after that node's lease expired. Keyed by the node holding the connection and, per
 * will, the client id and the session epoch of the connection (a client's next connection has a newer epoch: its
 * will is another entry).
 */

/** A stored will: the message, plus what a survivor needs to publish it on the client's behalf. */
export interface WillRecord extends StoredMessage {
  /** The incarnation of the node holding the connection (its record's `startedAt`). */
  incarnation: number;
  /** The client's user name at CONNECT (a survivor authorizes the will against that user's current rules). */
  username: string | null;
  /** Whether the client's rules allowed the will topic at CONNECT: used when its rules cannot be read later. */
  allowed: boolean;
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
