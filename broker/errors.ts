/** A violation of the MQTT protocol by a client. The connection is closed ([MQTT-4.8.0-1]); the process keeps running. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    message: string,
    /** The normative statement the client violated, when there is one. */
    readonly statement?: string,
  ) {
    super(statement ? `${message} [${statement}]` : message);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** The per-client limits whose breach closes a connection (counted per name in `mqgate_limit_hits_total`). */
export type LimitName = "filters-per-packet" | "pre-auth-bytes" | "connect-packet-size" | "events-backlog" | "reauth-rate";

/** A client went over a configured bound on the work it may cause. The connection is closed ("limit-exceeded"). */
export class LimitExceeded extends Error {
  override readonly name = "LimitExceeded";
  constructor(
    readonly limit: LimitName,
    message: string,
  ) {
    super(message);
  }
}
