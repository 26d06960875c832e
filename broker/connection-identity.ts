import type { ClientInfo, ClientPolicy } from "../core/auth/types.js";
import type { Session } from "./session.js";
import type { Message } from "./types.js";

/**
 * Who a connection's client is and what it leaves behind: its CONNECT's names, the policy it is held to, the session
 * it serves and its will. Each is set by the CONNECT flow through a method, once or on a change of identity; the
 * broker reads them through the getters.
 *
 * The base of `Connection` (broker/connection.ts), not a part it holds: every connection has this state, so a
 * separate object would cost one more allocation and hop per connection.
 */
export class ConnectionIdentity {
  /** The session this connection serves (`serve`), or null. */
  private served: Session | null = null;
  /** The client as its CONNECT named it (`identify`), or null before. */
  private clientInfo: ClientInfo | null = null;
  /** The rules the client is held to (`usePolicy`), or null before authentication. */
  private clientPolicy: ClientPolicy | null = null;
  /** The will message, published if the connection closes without DISCONNECT [MQTT-3.1.2-8]. */
  private willMessage: Message | null = null;
  /** MQTT 5 Will Delay Interval in seconds (0: published at once). */
  private willDelaySeconds = 0;

  get clientId(): string | undefined {
    return this.clientInfo?.clientId;
  }

  /** The session this connection serves, from CONNACK on; null before (and for a refused CONNECT). */
  get session(): Session | null {
    return this.served;
  }

  get client(): ClientInfo | null {
    return this.clientInfo;
  }

  /** The rules the client is held to (publish, subscribe, deliveries), or null before authentication. */
  get policy(): ClientPolicy | null {
    return this.clientPolicy;
  }

  /** The will message, published if the connection closes without DISCONNECT [MQTT-3.1.2-8], or null. */
  get will(): Message | null {
    return this.willMessage;
  }

  /** MQTT 5 Will Delay Interval in seconds (0: published at once). */
  get willDelay(): number {
    return this.willDelaySeconds;
  }

  /** CONNECT named the client (its id, user name, protocol level), before authentication; once per connection. */
  identify(client: ClientInfo): void {
    this.clientInfo = client;
  }

  /** CONNECT carried a will: kept until the connection closes, published after `delaySeconds` (MQTT 5) or at once. */
  keepWill(will: Message, delaySeconds: number): void {
    this.willMessage = will;
    this.willDelaySeconds = delaySeconds;
  }

  /** The will is not to be published (DISCONNECT [MQTT-3.14.4-3], revoked credentials). */
  discardWill(): void {
    this.willMessage = null;
  }

  /** The connection closed: its will, handed over once to be published or discarded, then forgotten [MQTT-3.1.2-10]. */
  takeWill(): Message | null {
    const will = this.willMessage;
    this.willMessage = null;
    return will;
  }

  /** The client is held to `policy` from now on: at CONNECT, and when its identity changes or it re-authenticates. */
  usePolicy(policy: ClientPolicy): void {
    this.clientPolicy = policy;
  }

  /** The claim of `session` succeeded: this connection serves it from now on (CONNACK follows). */
  serve(session: Session): void {
    this.served = session;
  }
}
