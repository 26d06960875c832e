import { connect, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HandleAccepts } from "../../broker/handle-listener.js";
import { type HandleEvents, HandleStream } from "../../broker/handle-stream.js";
import { startTestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { pattern, received } from "../helpers/socket-pair.js";
import { until } from "../helpers/wait.js";

// Plain TCP connections are libuv handles without a net.Socket (broker/handle-stream.ts, decision 053): what the
// broker relied on the socket for (reads in order, pausing, the client's end, our end after what we wrote, errors
// and the close, in that order) is checked here against real loopback sockets.

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What a stream reported, in order. */
interface Recorder extends HandleEvents {
  log: string[];
  bytes: () => Buffer;
}

function recorder(): Recorder {
  const log: string[] = [];
  const chunks: Buffer[] = [];
  return {
    log,
    bytes: () => Buffer.concat(chunks),
    read(buf, length) {
      // The buffer is shared and overwritten by the next read: copied here, as the decoder copies what it keeps.
      chunks.push(Buffer.from(buf.subarray(0, length)));
      if (log.at(-1) !== "read") log.push("read");
    },
    end: () => log.push("end"),
    error: (err) => log.push(`error ${(err as NodeJS.ErrnoException).code}`),
    close: () => log.push("close"),
  };
}

/** A listening server whose accepts are taken over, and one client connected to it. */
async function pair(): Promise<{ stream: HandleStream; client: Socket; accepts: HandleAccepts; events: Recorder }> {
  const server = createServer({ allowHalfOpen: true }, () => {
    throw new Error("accepted as a net.Socket: the take-over did not happen");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  let accepted: (s: HandleStream) => void = () => {};
  const got = new Promise<HandleStream>((r) => (accepted = r));
  const accepts = HandleAccepts.takeOver(server, (s) => accepted(s), (err) => {
    throw err;
  });
  expect(accepts, "this Node has what HandleStream needs").not.toBeNull();
  const port = (server.address() as { port: number }).port;
  const client = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  client.on("error", () => {});
  const stream = await got;
  const events = recorder();
  stream.attach(events);
  cleanups.push(async () => {
    client.destroy();
    stream.destroy();
    await (accepts as HandleAccepts).whenDrained();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { stream, client, accepts: accepts as HandleAccepts, events };
}

describe("HandleStream", () => {
  it("the broker's plain TCP listener takes this path on this Node (no net.Socket per connection)", async () => {
    const b = await startTestBroker();
    cleanups.push(() => b.close());
    const c = await RawClient.connected(b.mqttPort, { clientId: "h1" });
    cleanups.push(() => void c.socket.destroy());
    const [conn] = [...b.broker.connections];
    expect(conn?.stream).toBeInstanceOf(HandleStream);
    expect((conn?.stream as HandleStream).remote).toBe(`127.0.0.1:${c.socket.localPort}`);
  });

  it("reports reads in order, reads nothing while paused, and what waited in the kernel after resume", async () => {
    const { stream, client, events } = await pair();
    expect(stream.remote).toBe(`127.0.0.1:${client.localPort}`);
    client.write("hello ");
    await until(() => events.bytes().length === 6, "first read");
    stream.pause();
    client.write("world");
    // Nothing is read while paused: the bytes wait in the kernel.
    await new Promise((r) => setTimeout(r, 100));
    expect(events.bytes().toString()).toBe("hello ");
    stream.resume();
    await until(() => events.bytes().toString() === "hello world", "the rest after resume");
  });

  it("reports the client's end once; ended on our side too after what was written, it closes and is counted", async () => {
    const { stream, client, accepts, events } = await pair();
    const got = received(client);
    let clientEnded = false;
    client.on("end", () => (clientEnded = true));
    client.end("bye");
    await until(() => events.log.includes("end"), "the end");
    expect(events.log).toEqual(["read", "end"]);
    expect(events.bytes().toString()).toBe("bye");
    expect(accepts.openHandles).toBe(1);
    // A half-open client still gets what we write, then our end.
    stream.write(Buffer.from("last words"));
    stream.end();
    expect(stream.writable).toBe(false);
    await accepts.whenDrained();
    expect(events.log).toEqual(["read", "end", "close"]);
    await until(() => clientEnded, "the client sees our end");
    expect(got().toString()).toBe("last words");
  });

  it("ending first: what was written arrives before the FIN, and the stream closes when the client ends its side", async () => {
    const { stream, client, accepts, events } = await pair();
    const got = received(client);
    client.on("end", () => client.end());
    const big = pattern(4 * 1024 * 1024, 7);
    // More than the kernel takes at once: queued by libuv, reported when written.
    let written = false;
    stream.write(big, (err) => {
      expect(err).toBeFalsy();
      written = true;
    });
    expect(stream.writableLength).toBeGreaterThan(0);
    stream.end();
    await accepts.whenDrained();
    expect(written).toBe(true);
    expect(stream.writableLength).toBe(0);
    expect(got().equals(big)).toBe(true);
    // Our side ended first: the client's end closes the stream, it is not reported as the client's own end.
    expect(events.log).toEqual(["close"]);
  });

  it("a reset by the client is an error, reported before the close, once", async () => {
    const { client, accepts, events } = await pair();
    client.write("x");
    await until(() => events.log.includes("read"), "a read");
    client.resetAndDestroy();
    await accepts.whenDrained();
    await until(() => events.log.length >= 3, "error and close");
    expect(events.log).toEqual(["read", "error ECONNRESET", "close"]);
  });

  it("destroy with an error reports it in a later tick, then the close; writes after it are refused", async () => {
    const { stream, accepts, events } = await pair();
    stream.destroy(Object.assign(new Error("boom"), { code: "EBOOM" }));
    expect(events.log).toEqual([]);
    expect(stream.destroyed).toBe(true);
    let refused: Error | null | undefined;
    expect(stream.write(Buffer.from("late"), (err) => (refused = err))).toBe(false);
    await accepts.whenDrained();
    expect(events.log).toEqual(["error EBOOM", "close"]);
    expect(refused?.message).toBe("write after end");
    // Once only.
    stream.destroy();
    stream.end();
    await new Promise((r) => setTimeout(r, 50));
    expect(events.log).toEqual(["error EBOOM", "close"]);
  });

  it("an accept libuv could not complete goes to onError as net names it, and the listener goes on accepting", async () => {
    const server = createServer(() => {
      throw new Error("accepted as a net.Socket");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const errors: NodeJS.ErrnoException[] = [];
    const streams: HandleStream[] = [];
    const accepts = HandleAccepts.takeOver(server, (s) => streams.push(s), (err) => errors.push(err));
    expect(accepts).not.toBeNull();
    // What libuv passes when accept(2) fails and its descriptor trick did not absorb it: EMFILE (-24).
    const handle = (server as unknown as { _handle: { onconnection(status: number, client?: unknown): void } })._handle;
    handle.onconnection(-24);
    expect(errors.map((e) => [e.message, e.code, e.syscall])).toEqual([["accept EMFILE", "EMFILE", "accept"]]);
    const client = connect({ port: (server.address() as { port: number }).port, host: "127.0.0.1" });
    cleanups.push(() => void client.destroy());
    await until(() => streams.length === 1, "the next accept");
    streams[0]?.destroy();
    await accepts?.whenDrained();
  });

  it("a listener's close waits for its open handles", async () => {
    const { stream, accepts } = await pair();
    let drained = false;
    const waiting = accepts.whenDrained().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(drained).toBe(false);
    stream.destroy();
    await waiting;
    expect(accepts.openHandles).toBe(0);
  });
});
