/**
 * What a connection needs of the stream it talks to a client over: a Node Duplex (TLS, WebSocket, and plain TCP when
 * Node lacks what broker/handle-stream.ts needs) or a `HandleStream` (plain TCP, decision 053). Node's Duplex has
 * this shape, so a socket is one as it is.
 */
export interface ClientStream {
  /** False once `end` or `destroy` was called (or the stream failed). */
  readonly writable: boolean;
  /** Bytes written through `write` that the kernel has not taken yet. */
  readonly writableLength: number;
  readonly destroyed: boolean;
  /** What a paused connection keeps of what still arrives before the stream itself stops (broker/borrowed-reads.ts). */
  readonly readableHighWaterMark: number;
  pause(): unknown;
  resume(): unknown;
  write(buf: Uint8Array, cb?: (err?: Error | null) => void): boolean;
  /** Sends what was written, then ends our side; the stream closes once the client's side ends too. */
  end(): unknown;
  destroy(err?: Error): unknown;
}
