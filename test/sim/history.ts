import type { QoS } from "mqtt-packet";

/** What the clients of a run observed: the checker's only input (it never looks inside the brokers). */

export interface Published {
  /** `<publisher>:<n>`, also the payload. */
  key: string;
  publisher: string;
  n: number;
  topic: string;
  qos: QoS;
  /** Virtual time of the first PUBLISH on the wire. */
  sentAt: number;
  /** Virtual time of the PUBACK (QoS 1) or PUBREC (QoS 2), or null: never acknowledged. */
  ackedAt: number | null;
}

export interface Receipt {
  subscriber: string;
  key: string;
  /** QoS of the PUBLISH the subscriber got. */
  qos: QoS;
  at: number;
  node: string;
  dup: boolean;
}

export interface Subscription {
  filter: string;
  granted: QoS;
  /** Virtual time of the SUBACK. */
  since: number;
}

export interface Overlap {
  clientId: string;
  nodes: string[];
  from: number;
  to: number;
}

export interface Stop {
  node: string;
  kind: "crash" | "pause" | "partition";
  from: number;
  to: number;
}

/** A node wrote a QoS 1/2 PUBLISH to a subscriber's connection at `at`. */
export interface Write {
  node: string;
  at: number;
}

export class History {
  readonly published = new Map<string, Published>();
  readonly receipts: Receipt[] = [];
  /** Subscriber -> its subscriptions (persistent: made once, kept across reconnects). */
  readonly subscriptions = new Map<string, Subscription[]>();
  /** A persistent session found missing at reconnect (CONNACK sessionPresent = 0 after a session existed). */
  readonly sessionsLost: { clientId: string; at: number; node: string }[] = [];
  /** Times two live nodes both had a connection for one client id (see Checker). */
  readonly overlaps: Overlap[] = [];
  /**
   * Nodes SIGKILLed, with the clients connected to them at that moment (for the wills check of slice "lease": each
   * of those clients that has a will should have it published exactly once, by a survivor).
   */
  readonly crashes: { node: string; at: number; clients: string[] }[] = [];
  /**
   * Times a node could not serve: SIGKILLed (`to` Infinity), SIGSTOPped, or cut off from the store and SQS. For
   * the order rule of decision 038's window (test/sim/window.ts).
   */
  readonly stops: Stop[] = [];
  /**
   * Every QoS 1/2 PUBLISH a node wrote to a subscriber's connection, whether it arrived or not (the client may have
   * abandoned that connection): `<subscriber> <key>` -> writes in time order. For the order rule of decision 038's
   * window (test/sim/window.ts): a node that wrote the newer message first delivered it first, in the broker's view.
   */
  readonly writes = new Map<string, Write[]>();
  /**
   * When a publisher sent a QoS 1/2 PUBLISH again after a reconnect (DUP): key -> times. For the order rule of
   * decision 038's window (test/sim/window.ts, rule 5).
   */
  readonly resends = new Map<string, number[]>();
  /**
   * The order keys (decision 038) the brokers gave a QoS 1/2 message each time a client's PUBLISH of it was
   * published (its first copy, then re-sends): key -> keys. Read from the brokers' `message.published` events: rule 5
   * excuses a re-send only when it kept its first copy's key (decision 045).
   */
  readonly orders = new Map<string, string[]>();
  /** Each client's CONNACKs: the node and when, in time order (where a session was, for rule 5). */
  readonly connects = new Map<string, { node: string; at: number }[]>();
  /** Protocol errors seen by clients (unexpected packets), each a violation. */
  readonly protocolErrors: string[] = [];
  /** What happened, for a reproduction: one line per fault and client move. */
  readonly log: string[] = [];

  wrote(subscriber: string, key: string, node: string): void {
    append(this.writes, `${subscriber} ${key}`, { node, at: Date.now() });
  }

  connected(clientId: string, node: string): void {
    append(this.connects, clientId, { node, at: Date.now() });
  }

  /** A broker published the client message `key` under the order key `order`. */
  keyed(key: string, order: string): void {
    append(this.orders, key, order);
  }

  resent(key: string): void {
    append(this.resends, key, Date.now());
  }

  note(line: string): void {
    this.log.push(`${new Date(Date.now()).toISOString().slice(14, 23)} ${line}`);
    if (this.log.length > 5000) this.log.shift();
  }
}

/** Adds `value` to the list of `key` in `map`, making the list on first use. */
function append<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
