import type { Server } from "node:net";
import { type HandleCount, HandleStream, handleStreamsSupported, type TcpHandle } from "./handle-stream.js";
import { uvError } from "./stream-binding.js";

/** The listening handle of a net.Server: Node calls `onconnection(status, clientHandle)` for each accept. */
interface ServerHandle extends Partial<TcpHandle> {
  onconnection?: (status: number, client?: TcpHandle) => void;
}

/**
 * A plain TCP listener's accepts as `HandleStream`s (decision 053). net.Server still binds, listens and closes (its
 * address handling and errors are the ones users know); only what it does with each accepted handle is replaced:
 * where it wraps the handle in a net.Socket, `onStream` gets a HandleStream. Node's `onconnection` field of the
 * listening handle is an internal, looked up and checked; `takeOver` returns null and changes nothing when it, or
 * anything a HandleStream needs, is missing, and the listener then accepts sockets as before.
 *
 * It counts the handles it accepted that are not closed yet, so that closing the listener can wait for them, as
 * `net.Server.close` waits for its sockets.
 */
export class HandleAccepts implements HandleCount {
  private open = 0;
  private drained: (() => void) | null = null;

  private constructor() {}

  /**
   * Takes over the accepts of `server`, which must be listening. `onError` gets an accept that failed (libuv reports
   * an accept it could not complete, say out of file descriptors, and goes on listening).
   */
  static takeOver(server: Server, onStream: (stream: HandleStream) => void, onError: (err: Error) => void): HandleAccepts | null {
    const handle = (server as unknown as { _handle?: ServerHandle | null })._handle;
    if (handle === null || handle === undefined || typeof handle.onconnection !== "function" || !handleStreamsSupported(handle)) return null;
    const accepts = new HandleAccepts();
    handle.onconnection = (status, client) => {
      if (status !== 0 || client === undefined) {
        onError(uvError(status, "accept"));
        return;
      }
      accepts.open++;
      onStream(new HandleStream(client, accepts));
    };
    return accepts;
  }

  /** Handles accepted and not yet closed. */
  get openHandles(): number {
    return this.open;
  }

  /** HandleCount: one of the accepted handles closed. */
  closed(): void {
    this.open--;
    if (this.open === 0 && this.drained !== null) {
      const drained = this.drained;
      this.drained = null;
      drained();
    }
  }

  /** Resolves once every handle accepted so far is closed. */
  whenDrained(): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.drained;
      this.drained = before === null ? resolve : () => (before(), resolve());
    });
  }
}
