import type { Duplex } from "node:stream";
import { readInto } from "./borrowed-reads.js";
import type { Connection } from "./connection.js";
import { beginRead, endRead } from "./write-batches.js";

/**
 * The events of a connection's stream. The listeners are shared functions that find the connection on the stream:
 * no closures per connection. Each read's callback is counted for the turn's write batches (broker/write-batches.ts).
 */

/** The connection a stream belongs to, kept on the stream so that its listeners can be shared functions. */
const kConnection = Symbol("mqgate.connection");
interface ConnectionStream extends Duplex {
  [kConnection]: Connection;
}

/**
 * Hands `stream`'s events to `conn`. A plain TCP stream (`tcp`) reads into the buffer all connections share
 * (decision 039) when Node allows it: true then, and the connection decodes those reads in place
 * (`Connection.onBorrowedData`); TLS and WebSocket streams emit "data".
 */
export function listen(stream: Duplex, conn: Connection, tcp: boolean): boolean {
  (stream as ConnectionStream)[kConnection] = conn;
  const borrowed = tcp && readInto(stream, onBorrowedRead);
  if (!borrowed) stream.on("data", onStreamData);
  stream.on("error", onStreamError);
  stream.on("end", onStreamEnd);
  // One "close" listener for both the connection and the address slot: no second listener and array per socket.
  stream.on("close", onStreamClose);
  stream.on("drain", onStreamDrain);
  return borrowed;
}

function onStreamData(this: ConnectionStream, chunk: Buffer): void {
  beginRead();
  try {
    this[kConnection].onData(chunk);
  } finally {
    endRead();
  }
}

function onBorrowedRead(this: Duplex, length: number, buf: Buffer): boolean {
  beginRead();
  try {
    (this as ConnectionStream)[kConnection].onBorrowedData(buf, length);
  } finally {
    endRead();
  }
  // Reading is paused by the connection's SharedBufferReads (or, at its bound, by `stream.pause()`), never here.
  return true;
}

function onStreamError(this: ConnectionStream, err: Error): void {
  this[kConnection].close("socket-error", err);
}

function onStreamEnd(this: ConnectionStream): void {
  this[kConnection].onEnd();
}

function onStreamClose(this: ConnectionStream): void {
  const conn = this[kConnection];
  conn.releaseAddress();
  conn.close("socket-closed");
}

function onStreamDrain(this: ConnectionStream): void {
  this[kConnection].onDrain();
}
