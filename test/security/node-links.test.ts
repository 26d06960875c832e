import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeMessage } from "../../core/communicator/types.js";
import {
  decodeHello,
  decodeWelcome,
  encodeAuth,
  encodeBatch,
  FrameDecoder,
  type Frame,
  handshakeMac,
  NONCE_BYTES,
} from "../../broker/link/frame.js";
import { LinkServer, type LinkServerOptions } from "../../broker/link/server.js";
import { LinkCounters } from "../../broker/link/types.js";

/**
 * The node link listener against hostile peers (decision 018): no secret, a wrong secret, silence, a flood of
 * half-open handshakes, oversize frames, and an authenticated peer that sends faster than the node handles.
 */

const SECRET = "s".repeat(40);
const servers: LinkServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function server(opts: Partial<LinkServerOptions> = {}, handler = async (_m: NodeMessage[]) => {}) {
  const counters = new LinkCounters();
  const errors: string[] = [];
  const s = new LinkServer({ nodeId: "node-b", secret: SECRET, host: "127.0.0.1", port: 0, counters, onError: (_op, err) => errors.push(err.message), ...opts });
  servers.push(s);
  const { port } = await s.listen();
  const batches: NodeMessage[][] = [];
  s.setHandler(async (m) => {
    batches.push(m);
    await handler(m);
  });
  return { s, port, counters, batches, errors };
}

/** A raw peer: its socket, the frames it received, and whether the server closed it. */
async function peer(port: number) {
  const socket = connect({ host: "127.0.0.1", port });
  sockets.push(socket);
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(1 << 20);
  const state = { closed: false };
  socket.on("data", (d: Buffer) => frames.push(...decoder.push(d)));
  socket.on("error", () => {});
  socket.on("close", () => (state.closed = true));
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return { socket, frames, state };
}

/** Runs the handshake as node-a with `secret`; resolves once HELLO was answered. */
async function authenticate(port: number, secret = SECRET) {
  const p = await peer(port);
  await until(() => p.frames.length >= 1, "HELLO");
  const hello = decodeHello(p.frames[0]!);
  const nonce = randomBytes(NONCE_BYTES);
  p.socket.write(encodeAuth(nonce, handshakeMac(secret, "client", nonce, hello.nonce, "node-a", hello.nodeId), "node-a"));
  return { ...p, hello, nonce };
}

const deliver = (i: number, payload = "aGk="): NodeMessage => ({
  type: "deliver",
  id: `node-a:${i}`,
  origin: "node-a",
  seq: i,
  msg: { topic: "t", payload, qos: 1, retain: false },
  targets: [{ clientId: "c", qos: 1 }],
});

describe("node links: authentication", () => {
  it("a peer with the secret is welcomed (and the listener proves it holds the secret too); its batches are handled and acked", async () => {
    const { port, counters, batches } = await server();
    const p = await authenticate(port);
    await until(() => p.frames.length >= 2, "WELCOME");
    expect(decodeWelcome(p.frames[1]!)).toEqual(handshakeMac(SECRET, "server", p.hello.nonce, p.nonce, "node-b", "node-a"));
    p.socket.write(encodeBatch(7, JSON.stringify([deliver(1)])));
    await until(() => p.frames.length >= 3, "ACK");
    expect(p.frames[2]!.type).toBe(5);
    expect(p.frames[2]!.body.readUInt32BE(0)).toBe(7);
    expect(batches).toEqual([[deliver(1)]]);
    expect(counters.acceptedLinks).toBe(1);
  });

  it("a wrong secret is cut at once and counted; nothing it sends reaches the handler", async () => {
    const { port, counters, batches, errors } = await server();
    const p = await authenticate(port, "w".repeat(40));
    p.socket.write(encodeBatch(1, JSON.stringify([deliver(1)])));
    await until(() => p.state.closed, "the cut");
    expect(p.frames.map((f) => f.type)).toEqual([1]); // HELLO only, no WELCOME
    expect(counters.rejectedBy["bad-auth"]).toBe(1);
    expect(errors.join()).toContain("wrong secret");
    expect(batches).toEqual([]);
  });

  it("a peer that sends a batch without authenticating is cut (it is not an AUTH frame)", async () => {
    const { port, counters, batches } = await server();
    const p = await peer(port);
    p.socket.write(encodeBatch(1, JSON.stringify([deliver(1)])));
    await until(() => p.state.closed, "the cut");
    expect(counters.rejectedBy.malformed).toBe(1);
    expect(batches).toEqual([]);
  });

  it("a silent peer is cut after the handshake timeout and counted", async () => {
    const { port, counters } = await server({ handshakeTimeoutMs: 150 });
    const p = await peer(port);
    await until(() => p.state.closed, "the handshake timeout");
    expect(counters.rejectedBy["handshake-timeout"]).toBe(1);
  });

  it("pending handshakes are bounded: beyond the limit a connection is closed at accept; room again once they end", async () => {
    const { port, counters, s } = await server({ maxPendingHandshakes: 3, handshakeTimeoutMs: 60_000 });
    const silent = await Promise.all(Array.from({ length: 3 }, () => peer(port)));
    await until(() => s.connections === 3, "3 pending handshakes");
    const extra = await Promise.all(Array.from({ length: 4 }, () => peer(port)));
    await until(() => extra.every((p) => p.state.closed), "the extra connections closed");
    expect(counters.rejectedBy["handshake-limit"]).toBe(4);
    expect(silent.some((p) => p.state.closed)).toBe(false);
    silent[0]!.socket.destroy();
    await until(() => s.connections === 2, "one pending handshake gone");
    const p = await authenticate(port);
    await until(() => p.frames.length >= 2, "WELCOME for a new peer");
    expect(counters.acceptedLinks).toBe(1);
  });
});

describe("node links: frame bounds", () => {
  it("an oversize frame before authentication is cut from its header (nothing buffered)", async () => {
    const { port, counters } = await server();
    const p = await peer(port);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(100 * 1024 * 1024, 0);
    header.writeUInt8(2, 4);
    p.socket.write(header);
    await until(() => p.state.closed, "the cut");
    expect(counters.rejectedBy.oversize).toBe(1);
  });

  it("an authenticated peer's frame over maxFrameBytes is cut and counted; smaller ones pass", async () => {
    const { port, counters, batches } = await server({ maxFrameBytes: 4096 });
    const p = await authenticate(port);
    await until(() => p.frames.length >= 2, "WELCOME");
    p.socket.write(encodeBatch(1, JSON.stringify([deliver(1, Buffer.alloc(1000).toString("base64"))])));
    await until(() => batches.length === 1, "the small batch");
    p.socket.write(encodeBatch(2, JSON.stringify([deliver(2, Buffer.alloc(8000).toString("base64"))])));
    await until(() => p.state.closed, "the cut");
    expect(counters.rejectedBy.oversize).toBe(1);
    expect(batches).toHaveLength(1);
  });

  it("a batch that is not a list of node messages cuts the link", async () => {
    const { port, counters, batches } = await server();
    const p = await authenticate(port);
    p.socket.write(encodeBatch(1, JSON.stringify([{ type: "deliver", id: "x" }])));
    await until(() => p.state.closed, "the cut");
    expect(counters.rejectedBy.malformed).toBe(1);
    expect(batches).toEqual([]);
  });
});

describe("node links: back-pressure", () => {
  it("a peer sending faster than the node handles cannot make it buffer: at most maxInflight batches are in the handler, then reading stops", async () => {
    const gates: (() => void)[] = [];
    let blocking = true;
    const { port, batches } = await server({ maxInflight: 4 }, () => (blocking ? new Promise<void>((resolve) => gates.push(resolve)) : Promise.resolve()));
    const p = await authenticate(port);
    await until(() => p.frames.length >= 2, "WELCOME");
    const frame = encodeBatch(1, JSON.stringify([deliver(1, Buffer.alloc(16 * 1024).toString("base64"))]));
    // Write ~64 MB without waiting: the node must stop reading, so the bytes stay in the peer's own buffers.
    for (let i = 0; i < 3000; i++) p.socket.write(frame);
    await until(() => batches.length === 4, "4 batches in the handler");
    await new Promise((r) => setTimeout(r, 300));
    expect(batches).toHaveLength(4);
    expect(p.socket.writableLength).toBeGreaterThan(32 * 1024 * 1024); // the peer holds what it could not send
    // Handling resumes as batches complete.
    for (const g of gates.splice(0)) g();
    await until(() => batches.length === 8, "4 more batches");
    expect(batches.length).toBe(8);
    blocking = false;
    for (const g of gates.splice(0)) g();
  });
});
