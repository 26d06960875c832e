import type { AuthPacket } from "./handlers/auth5.js";
import type { Properties } from "./properties.js";

/**
 * What a connection keeps from accepting its socket until CONNACK: the connect timeout, the signal that drops the
 * authentication when the connection closes first, the MQTT 5 enhanced authentication waiting for the client's next
 * AUTH, and the properties of the CONNACK that will accept it. The connection lets go of it once connected.
 */
export class Handshake {
  /** Aborted when the connection closes during authentication, so queued password checks are dropped. */
  private abort: AbortController | null = null;
  /** Waiting for the client's AUTH in an enhanced authentication, or null. */
  private answer: ((packet: AuthPacket) => void) | null = null;
  /** The CONNACK properties of an MQTT 5 connection, sent with the CONNACK that accepts it. */
  private connack: Properties | undefined = undefined;

  constructor(
    /** The connect timeout, until CONNACK (keepalive is the broker's sweep, decision 033). */
    private readonly timer: NodeJS.Timeout,
  ) {}

  /** CONNECT is being authenticated: the signal fires if the connection closes before that ends (`cancel`). */
  beginAuth(): AbortSignal {
    this.abort = new AbortController();
    return this.abort.signal;
  }

  /** An enhanced authentication waits for the client's next AUTH. */
  get awaitingAuth(): boolean {
    return this.answer !== null;
  }

  /** The client's next AUTH (`answerAuth`); rejects if the connection closes first. */
  nextAuth(): Promise<AuthPacket> {
    return new Promise((resolve, reject) => {
      this.answer = resolve;
      this.abort?.signal.addEventListener("abort", () => reject(new Error("closed during authentication")), { once: true });
    });
  }

  /** The client's AUTH, to the exchange waiting for it (`awaitingAuth`). */
  answerAuth(packet: AuthPacket): void {
    const answer = this.answer as (packet: AuthPacket) => void;
    this.answer = null;
    answer(packet);
  }

  /** Properties of the MQTT 5 CONNACK that will accept the connection (added to those given before). */
  acceptWith(connack: Properties): void {
    this.connack = this.connack === undefined ? connack : { ...this.connack, ...connack };
  }

  /** The accepting CONNACK's properties, handed over once. */
  takeConnack(): Properties | undefined {
    const connack = this.connack;
    this.connack = undefined;
    return connack;
  }

  /** CONNACK accepted the connection: the connect timeout stops. */
  end(): void {
    clearTimeout(this.timer);
  }

  /** The connection closed before CONNACK: the connect timeout stops, an authentication in progress is dropped. */
  cancel(): void {
    clearTimeout(this.timer);
    if (this.abort !== null) {
      this.abort.abort();
      this.abort = null;
    }
  }
}
