import type { Duplex } from "node:stream";
import { readInto } from "./borrowed-reads.js";
import type { ClientStream } from "./client-stream.js";
import type { Connection } from "./connection.js";
import { type WriteHandle, writeHandleOf } from "./direct-writes.js";
import { type HandleEvents, HandleStream } from "./handle-stream.js";
import { beginRead, endRead } from "./write-batches.js";

/**
 * The events of a connection's stream. A `HandleStream` (plain TCP, decision 053) reports to a `HandleListener`; a
 * Duplex's listeners are shared functions that find the connection on the stream: no closures per connection. Each
 * read's callback is counted for the turn's write batches (broker/write-batches.ts).
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
export function listen(stream: ClientStream, conn: Connection, tcp: boolean): boolean {
  if (stream instanceof HandleStream) {
    stream.attach(new HandleListener(conn));
    return true;
  }
  return listenToDuplex(stream as Duplex, conn, tcp);
}

/** Where a connection with shared-buffer reads writes directly (broker/direct-writes.ts), or null. */
export function writeHandleFor(stream: ClientStream): WriteHandle | null {
  return stream instanceof HandleStream ? stream.writeHandle : writeHandleOf(stream);
}

/** A HandleStream's reports, as the listeners below handle a Duplex's events. */
class HandleListener implements HandleEvents {
  constructor(private readonly conn: Connection) {}

  read(buf: Buffer, length: number): void {
    beginRead();
    try {
      this.conn.onBorrowedData(buf, length);
    } finally {
      endRead();
    }
  }

  end(): void {
    this.conn.onEnd();
  }

  error(err: Error): void {
    this.conn.close("socket-error", err);
  }

  close(): void {
    this.conn.releaseAddress();
    this.conn.close("socket-closed");
  }
}

function listenToDuplex(stream: Duplex, conn: Connection, tcp: boolean): boolean {
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
