import { afterEach, describe, expect, it } from "vitest";
import { type DirectWriter, QUEUED, WRITTEN, writeDirect, writeError, writeHandleOf } from "../../broker/direct-writes.js";
import { pattern, received, socketPair } from "../helpers/socket-pair.js";
import { until } from "../helpers/wait.js";

// Plain TCP connections write straight to the socket's handle while the stream holds nothing
// (broker/direct-writes.ts): every byte arrives, in the order written, also when the kernel cannot take them at once
// and libuv queues them, and also when writes through the stream follow queued direct ones.

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


function recorder(): DirectWriter & { done: { bytes: number; status: number }[] } {
  const done: { bytes: number; status: number }[] = [];
  return { done, onDirectWritten: (bytes, status) => done.push({ bytes, status }) };
}

describe("direct writes", () => {
  it("takes a plain socket a server accepted on this Node (the fast path is active)", async () => {
    const { server } = await socketPair(cleanups);
    expect(writeHandleOf(server)).not.toBeNull();
  });

  it("a small write is taken at once and arrives", async () => {
    const { server, client } = await socketPair(cleanups);
    const got = received(client);
    const handle = writeHandleOf(server);
    if (handle === null) throw new Error("no handle");
    const w = recorder();
    expect(writeDirect(handle, Buffer.from("hello"), w)).toBe(WRITTEN);
    expect(writeDirect(handle, Buffer.from(" world"), w)).toBe(WRITTEN);
    await until(() => got().length === 11, "the bytes");
    expect(got().toString()).toBe("hello world");
    expect(w.done).toEqual([]);
  });

  it("writes the kernel cannot take are queued, reported when written, and arrive in order with stream writes after them", async () => {
    const { server, client } = await socketPair(cleanups);
    client.pause();
    const handle = writeHandleOf(server);
    if (handle === null) throw new Error("no handle");
    const w = recorder();
    const sent: Buffer[] = [];
    let queued = 0;
    // Enough to fill the kernel's buffers of a client that does not read.
    for (let i = 0; i < 64 && queued < 3; i++) {
      const chunk = pattern(256 * 1024, i);
      sent.push(chunk);
      if (writeDirect(handle, chunk, w) === QUEUED) queued++;
    }
    expect(queued).toBeGreaterThan(0);
    // A write through the stream after the queued ones goes behind them.
    const tail = pattern(1000, 77);
    sent.push(tail);
    server.write(tail);
    const got = received(client);
    client.resume();
    const total = sent.reduce((n, b) => n + b.length, 0);
    await until(() => got().length === total, "every byte", 10_000);
    expect(got().equals(Buffer.concat(sent))).toBe(true);
    await until(() => w.done.length === queued, "the queued writes reported");
    expect(w.done.every((d) => d.status === 0 && d.bytes === 256 * 1024)).toBe(true);
  });

  it("queued writes of a socket destroyed before they went out are reported as failed, once each", async () => {
    const { server, client } = await socketPair(cleanups);
    client.pause();
    const handle = writeHandleOf(server);
    if (handle === null) throw new Error("no handle");
    const w = recorder();
    let queued = 0;
    for (let i = 0; i < 64 && queued < 2; i++) if (writeDirect(handle, pattern(256 * 1024, i), w) === QUEUED) queued++;
    expect(queued).toBeGreaterThan(0);
    server.destroy();
    await until(() => w.done.length === queued, "the queued writes reported");
    expect(w.done.every((d) => d.status < 0)).toBe(true);
  });

  it("names a failed write as net does", () => {
    const err = writeError(-32);
    expect(err.message).toBe("write EPIPE");
    expect(err).toMatchObject({ code: "EPIPE", errno: -32, syscall: "write" });
  });
});
