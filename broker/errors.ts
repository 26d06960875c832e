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
