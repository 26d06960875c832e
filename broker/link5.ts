import type { Reauthentication } from "./handlers/reauth5.js";
import type { Properties } from "./properties.js";

/** Topic aliases a client may use towards the server (CONNACK Topic Alias Maximum): the table costs one slot each. */
export const TOPIC_ALIAS_MAXIMUM = 64;
/**
 * QoS 1 and 2 publishes a client may have unacknowledged at once (CONNACK Receive Maximum, 3.2.2.3.3). It matches
 * the acknowledgements a connection holds while the store is slow before it stops reading (broker/durable-acks.ts).
 */
export const RECEIVE_MAXIMUM = 1024;

/** An MQTT 5 reason code to close with: raised by handlers, turned into a DISCONNECT by the connection. */
export class Disconnect5 extends Error {
  override readonly name = "Disconnect5";
  constructor(
    readonly reasonCode: number,
    message: string,
    readonly statement?: string,
  ) {
    super(statement ? `${message} [${statement}]` : message);
  }
}

/**
 * What an MQTT 5 client declared in its CONNECT (limits on what the server may send it), and the state MQTT 5 adds
 * to one network connection: the inbound topic alias table. A 3.1.1 connection has none of it (`Connection.v5` is
 * null), so the 3.1.1 path pays nothing.
 */
export class Link5 {
  /** QoS 1 and 2 PUBLISH packets the client accepts unacknowledged [MQTT-3.3.4-7]; 65,535 when not given. */
  readonly receiveMaximum: number;
  /** Largest packet the client accepts [MQTT-3.1.2-24]; 0 when it set no limit. */
  readonly maximumPacketSize: number;
  /** Request Problem Information: 0 means no Reason String or User Property except on CONNACK and DISCONNECT [MQTT-3.1.2-29]. */
  readonly problemInformation: boolean;
  /** Session Expiry Interval in seconds, as granted (see `sessionExpiry`). */
  private expiry: number;
  /** Set from CONNECT: a DISCONNECT may not raise an expiry of 0 [MQTT-3.14.2-2]. */
  readonly connectExpiry: number;
  /** The Authentication Method the client connected with (enhanced authentication, 4.12), or undefined. */
  readonly authMethod: string | undefined;
  /** Its re-authentications (4.12.1), from the first AUTH 0x19 on (broker/handlers/reauth5.ts). */
  private reauths: Reauthentication | null = null;
  /** Inbound topic aliases (index = alias), allocated on the first alias a client sets. */
  private aliases: string[] | null = null;

  constructor(props: Properties | undefined, sessionExpiry: number) {
    this.receiveMaximum = props?.receiveMaximum ?? 65_535;
    this.maximumPacketSize = props?.maximumPacketSize ?? 0;
    this.problemInformation = props?.requestProblemInformation !== 0;
    this.expiry = sessionExpiry;
    this.connectExpiry = sessionExpiry;
    this.authMethod = props?.authenticationMethod;
  }

  /**
   * Session Expiry Interval in seconds, as granted (capped by `limits.sessionExpirySeconds`); 0 ends the session
   * with the connection. A DISCONNECT may change a non-zero one (3.14.2.2.2).
   */
  get sessionExpiry(): number {
    return this.expiry;
  }

  /** A DISCONNECT set the Session Expiry Interval to `seconds` (already capped; 3.14.2.2.2). */
  changeExpiry(seconds: number): void {
    this.expiry = seconds;
  }

  /** Its re-authentications, or null before the first AUTH 0x19. */
  get reauth(): Reauthentication | null {
    return this.reauths;
  }

  /** The first AUTH 0x19 starts the connection's re-authentications (4.12.1): `reauth` from then on. */
  startReauth(reauth: Reauthentication): Reauthentication {
    this.reauths = reauth;
    return reauth;
  }

  /**
   * The topic of an inbound PUBLISH with its Topic Alias (3.3.2.3.4): a topic with an alias sets the alias; an
   * empty topic uses it. An alias of 0 or above the maximum closes with 0x94 [MQTT-3.3.2-8] [MQTT-3.3.2-9]; an
   * unknown one, or an empty topic without an alias, is a Protocol Error (0x82).
   */
  resolveTopic(topic: string, alias: number | undefined): string {
    if (alias === undefined) {
      if (topic.length === 0) throw new Disconnect5(0x82, "empty topic name without a topic alias", "MQTT-3.3.2-1");
      return topic;
    }
    if (alias === 0 || alias > TOPIC_ALIAS_MAXIMUM) {
      throw new Disconnect5(0x94, `topic alias ${alias} outside 1..${TOPIC_ALIAS_MAXIMUM}`, "MQTT-3.3.2-9");
    }
    if (topic.length > 0) {
      (this.aliases ??= [])[alias] = topic;
      return topic;
    }
    const known = this.aliases?.[alias];
    if (known === undefined) throw new Disconnect5(0x82, `topic alias ${alias} used before it was set (3.3.2.3.4)`);
    return known;
  }

  /** Whether a packet of `size` bytes may be sent to this client [MQTT-3.1.2-24]. */
  fits(size: number): boolean {
    return this.maximumPacketSize === 0 || size <= this.maximumPacketSize;
  }
}
