/**
 * A listener's port could not be bound (the MQTT, WebSocket and TLS listeners, the metrics endpoint, the local REST
 * gateway). The message names the setting that picks another port, so `npm start` beside another broker says what
 * to change instead of printing a stack.
 */
export class PortListenError extends Error {
  constructor(
    /** What listens: "tcp", "http", "metrics", … */
    what: string,
    /** The environment variable that sets its port. */
    setting: string,
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    /** Said after "already in use": a likely cause. */
    inUseHint = "",
  ) {
    super(
      code === "EADDRINUSE"
        ? `${what} port ${port} on ${host} is already in use${inUseHint}. Set ${setting} to a free port, or 'off'.`
        : `cannot listen for ${what} on ${host}:${port}: ${code ?? "unknown error"}`,
    );
  }
}
