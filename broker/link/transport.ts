import { encodeNodeMessage } from "../../core/communicator/schema.js";
import type { NodeMessage } from "../../core/communicator/types.js";
import { LinkClient } from "./client.js";
import { batchFrameBytes } from "./frame.js";
import type { LinkCounters } from "./types.js";

/** Where a node's forwards go: a link when one is up and keeps up, else its SQS queue. */
export interface NodeTransport {
  /** Resolves once the receiver acknowledged the messages (they are durable there) or SQS accepted them. */
  send(node: string, messages: NodeMessage[]): Promise<void>;
}

export interface LinkTransportOptions {
  nodeId: string;
  secret: string;
  /** The durable path (the node queues). */
  fallback: NodeTransport;
  /** node id -> its link address (host:port), from the store's node records. */
  lookup(): Promise<Map<string, string>>;
  ackTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** After a forward to a node went by SQS, its link stays unused this long, so later forwards cannot overtake it. */
  sqsHoldMs: number;
  /** Largest BATCH frame; a message that does not fit alone goes by SQS. */
  maxFrameBytes: number;
  maxUnackedBytes: number;
  maxUnackedBatches: number;
  counters: LinkCounters;
  onError(operation: string, err: Error): void;
}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;
/** Node records are read again at most this often when a link address is missing. */
const LOOKUP_EVERY_MS = 1000;

interface Peer {
  client: LinkClient | null;
  /**
   * No forward over the link before this: one that went by SQS may still be in the node queue, and a later
   * forward over the link would overtake it (per-publisher order). Set at every fallback, not extended by the
   * forwards sent by SQS during the hold: what is sent by SQS just before it ends can still be overtaken
   * (docs/cluster.md, "Fast lane").
   */
  sqsUntil: number;
  /** No new connection before this (after a failed one; doubled per failure). */
  retryAt: number;
  retryMs: number;
}

/**
 * Sends forwards over node links, opening them on demand. Nothing waits for a link to open: a batch for a node
 * without a usable link goes by SQS, and the link is dialed in the background for the next ones.
 */
export class LinkTransport implements NodeTransport {
  private readonly peers = new Map<string, Peer>();
  private addresses = new Map<string, string>();
  private lookedUpAt = 0;
  private lookingUp = false;
  private closed = false;

  constructor(private readonly opts: LinkTransportOptions) {}

  async send(node: string, messages: NodeMessage[]): Promise<void> {
    const client = this.linkTo(node);
    if (client === null) {
      this.opts.counters.fallback("down");
      // Held after a fallback (see Peer.sqsUntil): not a new fallback, the hold is not extended.
      if (this.peers.get(node)?.client?.usable === true) return this.opts.fallback.send(node, messages);
      return this.bySqs(node, messages);
    }
    const failed: NodeMessage[] = [];
    const sends: Promise<void>[] = [];
    for (const chunk of this.chunks(messages, failed)) {
      sends.push(
        client.send(chunk.json, chunk.bytes).then((reason) => {
          if (reason === null) return;
          this.opts.counters.fallback(reason);
          return this.bySqs(node, chunk.messages);
        }),
      );
    }
    if (failed.length > 0) {
      this.opts.counters.fallback("too-large");
      sends.push(this.bySqs(node, failed));
    }
    await Promise.all(sends);
  }

  /** The durable path; the link to `node` stays unused for `sqsHoldMs` after it (see Peer.sqsUntil). */
  private bySqs(node: string, messages: NodeMessage[]): Promise<void> {
    const peer = this.peers.get(node);
    if (peer !== undefined) peer.sqsUntil = Date.now() + this.opts.sqsHoldMs;
    return this.opts.fallback.send(node, messages);
  }

  /** Cuts every link (their unacked batches go by SQS); later sends go by SQS. */
  close(): void {
    this.closed = true;
    for (const p of this.peers.values()) p.client?.close();
    this.peers.clear();
  }

  /** Sends over links again after `close()` (the node registered again after a lost lease). */
  reopen(): void {
    this.closed = false;
  }

  /** A usable link to `node`, or null (and one is dialed when it may be). */
  private linkTo(node: string): LinkClient | null {
    if (this.closed) return null;
    let peer = this.peers.get(node);
    if (peer === undefined) {
      peer = { client: null, sqsUntil: 0, retryAt: 0, retryMs: RETRY_MIN_MS };
      this.peers.set(node, peer);
    }
    if (peer.client !== null) return peer.client.usable && Date.now() >= peer.sqsUntil ? peer.client : null;
    if (Date.now() < peer.retryAt) return null;
    const address = this.addresses.get(node);
    if (address === undefined) {
      this.refreshAddresses();
      return null;
    }
    const p = peer;
    const client = new LinkClient({
      nodeId: this.opts.nodeId,
      peer: node,
      address,
      secret: this.opts.secret,
      ackTimeoutMs: this.opts.ackTimeoutMs,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      maxUnackedBytes: this.opts.maxUnackedBytes,
      maxUnackedBatches: this.opts.maxUnackedBatches,
      counters: this.opts.counters,
      onError: this.opts.onError,
      onClose: (opened) => {
        if (p.client === client) p.client = null;
        // Reconnect soon after a link that worked, later and later after one that never opened; the address is
        // read again (the node may have restarted elsewhere).
        p.retryMs = opened ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, p.retryMs * 2);
        p.retryAt = Date.now() + p.retryMs;
        this.addresses.delete(node);
      },
    });
    peer.client = client;
    return null;
  }

  private refreshAddresses(): void {
    const now = Date.now();
    if (this.lookingUp || now - this.lookedUpAt < LOOKUP_EVERY_MS) return;
    this.lookingUp = true;
    this.lookedUpAt = now;
    this.opts.lookup().then(
      (addresses) => {
        this.addresses = addresses;
        this.lookingUp = false;
      },
      (err: unknown) => {
        this.lookingUp = false;
        this.opts.onError("node link addresses", err as Error);
      },
    );
  }

  /** Messages in BATCH-sized chunks, in order; one that does not fit a frame alone goes to `tooLarge`. */
  private chunks(messages: NodeMessage[], tooLarge: NodeMessage[]): { messages: NodeMessage[]; json: string; bytes: number }[] {
    const max = this.opts.maxFrameBytes;
    const out: { messages: NodeMessage[]; json: string; bytes: number }[] = [];
    let current: NodeMessage[] = [];
    let parts: string[] = [];
    let size = 0;
    const flush = () => {
      if (current.length === 0) return;
      const json = `[${parts.join(",")}]`;
      out.push({ messages: current, json, bytes: batchFrameBytes(json) });
      current = [];
      parts = [];
      size = 0;
    };
    for (const m of messages) {
      const text = encodeNodeMessage(m);
      const bytes = Buffer.byteLength(text, "utf8") + 1;
      if (bytes + 16 > max) {
        tooLarge.push(m);
        continue;
      }
      if (size + bytes + 16 > max) flush();
      current.push(m);
      parts.push(text);
      size += bytes;
    }
    flush();
    return out;
  }
}
