import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The wire format of node links (docs/decisions/018-node-links.md): frames of `u32 length | u8 type | body`, the
 * length counting type and body. A decoder refuses a frame longer than its limit before buffering it, so a peer
 * cannot make a node hold more than one frame's worth of its bytes.
 *
 * Handshake (sender dials receiver; both prove they hold `cluster.linkSecret`, and the receiver proves it is the
 * node the sender meant to reach):
 *   receiver → HELLO   version, 32-byte nonce Nr, receiver node id
 *   sender   → AUTH    32-byte nonce Ns, HMAC(secret, "client" Nr Ns sender receiver), sender node id
 *   receiver → WELCOME HMAC(secret, "server" Ns Nr receiver sender)
 * Then BATCH (sender → receiver: u32 batch id, JSON array of node messages) and ACK / NACK (u32 batch id).
 */

export const LINK_VERSION = 1;
export const NONCE_BYTES = 32;
const MAC_BYTES = 32;
const HEADER_BYTES = 5;

export const FrameType = { hello: 1, auth: 2, welcome: 3, batch: 4, ack: 5, nack: 6 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface Frame {
  type: number;
  body: Buffer;
}

/** A peer broke the protocol (oversize or unknown frame, bad handshake): the connection is cut. */
export class LinkProtocolError extends Error {
  constructor(
    readonly reason: "oversize" | "malformed" | "bad-auth",
    message: string,
  ) {
    super(message);
    this.name = "LinkProtocolError";
  }
}

export function encodeFrame(type: FrameType, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length + 1, 0);
  out.writeUInt8(type, 4);
  body.copy(out, HEADER_BYTES);
  return out;
}

/** A BATCH frame: id and the JSON text of the messages. */
export function encodeBatch(id: number, json: string): Buffer {
  const bytes = Buffer.byteLength(json, "utf8");
  const out = Buffer.allocUnsafe(HEADER_BYTES + 4 + bytes);
  out.writeUInt32BE(bytes + 5, 0);
  out.writeUInt8(FrameType.batch, 4);
  out.writeUInt32BE(id, 5);
  out.write(json, 9, "utf8");
  return out;
}

/** Bytes a BATCH frame of this JSON text takes on the wire. */
export function batchFrameBytes(json: string): number {
  return HEADER_BYTES + 4 + Buffer.byteLength(json, "utf8");
}

export function encodeId(type: typeof FrameType.ack | typeof FrameType.nack, id: number): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + 4);
  out.writeUInt32BE(5, 0);
  out.writeUInt8(type, 4);
  out.writeUInt32BE(id, 5);
  return out;
}

/** Splits a byte stream into frames; at most `maxFrameBytes` (type + body) per frame, checked from the header. */
export class FrameDecoder {
  private buffered: Buffer[] = [];
  private bytes = 0;

  constructor(private maxFrameBytes: number) {}

  /** The peer authenticated: frames up to `maxFrameBytes` from now on (the handshake's are tiny). */
  allowFramesUpTo(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** The frames completed by `chunk`. Throws LinkProtocolError on a frame over the limit or an empty one. */
  push(chunk: Buffer): Frame[] {
    this.buffered.push(chunk);
    this.bytes += chunk.length;
    const frames: Frame[] = [];
    let buf = this.buffered.length === 1 ? chunk : Buffer.concat(this.buffered, this.bytes);
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (length === 0) throw new LinkProtocolError("malformed", "empty frame");
      if (length > this.maxFrameBytes) throw new LinkProtocolError("oversize", `frame of ${length} bytes over the limit of ${this.maxFrameBytes}`);
      if (buf.length - at - 4 < length) break;
      frames.push({ type: buf.readUInt8(at + 4), body: buf.subarray(at + HEADER_BYTES, at + 4 + length) });
      at += 4 + length;
    }
    buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
    this.buffered = buf.length === 0 ? [] : [buf];
    this.bytes = buf.length;
    return frames;
  }
}

export function readId(frame: Frame): number {
  if (frame.body.length < 4) throw new LinkProtocolError("malformed", "frame without an id");
  return frame.body.readUInt32BE(0);
}

// --- handshake ---------------------------------------------------------------------------------------------------

export function encodeHello(nonce: Buffer, nodeId: string): Buffer {
  return encodeFrame(FrameType.hello, Buffer.concat([Buffer.from([LINK_VERSION]), nonce, Buffer.from(nodeId, "utf8")]));
}

export function decodeHello(frame: Frame): { nonce: Buffer; nodeId: string } {
  const b = frame.body;
  if (frame.type !== FrameType.hello || b.length < 1 + NONCE_BYTES + 1) throw new LinkProtocolError("malformed", "expected HELLO");
  if (b[0] !== LINK_VERSION) throw new LinkProtocolError("malformed", `link version ${b[0]} not supported`);
  return { nonce: b.subarray(1, 1 + NONCE_BYTES), nodeId: b.subarray(1 + NONCE_BYTES).toString("utf8") };
}

export function encodeAuth(nonce: Buffer, mac: Buffer, nodeId: string): Buffer {
  return encodeFrame(FrameType.auth, Buffer.concat([nonce, mac, Buffer.from(nodeId, "utf8")]));
}

export function decodeAuth(frame: Frame): { nonce: Buffer; mac: Buffer; nodeId: string } {
  const b = frame.body;
  if (frame.type !== FrameType.auth || b.length < NONCE_BYTES + MAC_BYTES + 1) throw new LinkProtocolError("malformed", "expected AUTH");
  return { nonce: b.subarray(0, NONCE_BYTES), mac: b.subarray(NONCE_BYTES, NONCE_BYTES + MAC_BYTES), nodeId: b.subarray(NONCE_BYTES + MAC_BYTES).toString("utf8") };
}

export function decodeWelcome(frame: Frame): Buffer {
  if (frame.type !== FrameType.welcome || frame.body.length !== MAC_BYTES) throw new LinkProtocolError("malformed", "expected WELCOME");
  return frame.body;
}

/** The MAC one side sends: over both nonces and both node ids, in the sender's order, tagged by role. */
export function handshakeMac(secret: string, role: "client" | "server", mine: Buffer, theirs: Buffer, me: string, peer: string): Buffer {
  return createHmac("sha256", secret)
    .update(`mqgate-link-${LINK_VERSION} ${role}\n`)
    .update(theirs)
    .update(mine)
    .update(`${me}\n${peer}`)
    .digest();
}

export function sameMac(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
