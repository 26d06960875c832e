import type { RedisTransport } from "../../core/store/transport.js";

/** A real Redis transport that records what goes through it: its round trips and every command sent. */
export class RecordingTransport implements RedisTransport {
  readonly kind = "redis" as const;
  /** Round trips: one per command, one per pipeline. */
  trips = 0;
  /** Every command, a pipeline's one by one. */
  sent: (readonly string[])[] = [];
  constructor(private readonly inner: RedisTransport) {}
  command(args: readonly string[]): Promise<unknown> {
    this.trips++;
    this.sent.push(args);
    return this.inner.command(args);
  }
  pipeline(cmds: readonly (readonly string[])[]): Promise<unknown[]> {
    this.trips++;
    this.sent.push(...cmds);
    return this.inner.pipeline(cmds);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
