import { afterEach, describe, expect, it } from "vitest";
import type { NodeMessage } from "../../core/communicator/types.js";
import { LinkServer } from "../../broker/link/server.js";
import { LinkTransport } from "../../broker/link/transport.js";
import { LinkCounters } from "../../broker/link/types.js";
import { until } from "../helpers/wait.js";

/**
 * The sending side of node links at its limits (decision 018): every batch it cannot carry goes to the fallback
 * (the node queue) with its reason, and nothing is acknowledged by a listener that is not the node meant.
 */

const SECRET = "t".repeat(40);
const servers: LinkServer[] = [];
const transports: LinkTransport[] = [];

afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});


const deliver = (i: number, payload = "aGk="): NodeMessage & { type: "deliver" } => ({
  type: "deliver",
  id: `node-a:${i}`,
  origin: "node-a",
  seq: i,
  msg: { topic: "t", payload, qos: 1, retain: false },
  targets: [{ clientId: "c", qos: 1 }],
});

/** A listener for `nodeId` whose handler runs `handle`; a transport from node-a that finds `peer` at it. */
async function setup(opts: { nodeId?: string; peer?: string; secret?: string; handle?: (m: NodeMessage[]) => Promise<void>; maxUnackedBatches?: number; maxFrameBytes?: number } = {}) {
  const serverCounters = new LinkCounters();
  const server = new LinkServer({ nodeId: opts.nodeId ?? "node-b", secret: opts.secret ?? SECRET, host: "127.0.0.1", port: 0, counters: serverCounters, onError: () => {} });
  servers.push(server);
  const { port } = await server.listen();
  const handled: NodeMessage[][] = [];
  server.setHandler(async (m) => {
    handled.push(m);
    await (opts.handle ?? (async () => {}))(m);
  });
  const bySqs: NodeMessage[][] = [];
  const counters = new LinkCounters();
  const peer = opts.peer ?? "node-b";
  const transport = new LinkTransport({
    nodeId: "node-a",
    secret: SECRET,
    fallback: { send: async (_node, messages) => void bySqs.push(messages) },
    lookup: async () => new Map([[peer, `127.0.0.1:${port}`]]),
    ackTimeoutMs: 2000,
    handshakeTimeoutMs: 1000,
    sqsHoldMs: 0,
    maxFrameBytes: opts.maxFrameBytes ?? 1 << 20,
    maxUnackedBytes: 1 << 20,
    maxUnackedBatches: opts.maxUnackedBatches ?? 100,
    counters,
    onError: () => {},
  });
  transports.push(transport);
  /** Sends probes until one goes over the link (the link is open), or gives up. */
  const open = async () => {
    const deadline = Date.now() + 3000;
    for (let i = 1000; Date.now() < deadline; i++) {
      await transport.send(peer, [deliver(i)]);
      if (counters.ackedBatches > 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  };
  return { transport, counters, serverCounters, handled, bySqs, open, peer };
}

describe("link transport: what goes by the node queue instead", () => {
  it("nothing waits for a link: the first batches go by SQS while it opens, later ones over it", async () => {
    const t = await setup();
    await t.transport.send("node-b", [deliver(1)]);
    expect(t.bySqs).toEqual([[deliver(1)]]);
    expect(await t.open()).toBe(true);
    const before = t.bySqs.length;
    await t.transport.send("node-b", [deliver(2), deliver(3)]);
    expect(t.bySqs.length).toBe(before);
    expect(t.handled.at(-1)).toEqual([deliver(2), deliver(3)]);
    expect(t.counters.fallbackBy.down).toBeGreaterThanOrEqual(1);
  });

  it("saturated: beyond maxUnackedBatches a batch goes by SQS at once, while the earlier ones wait for their acks", async () => {
    let blocking = false;
    const gates: (() => void)[] = [];
    const t = await setup({ maxUnackedBatches: 2, handle: () => (blocking ? new Promise<void>((r) => gates.push(r)) : Promise.resolve()) });
    expect(await t.open()).toBe(true);
    blocking = true;
    const first = t.transport.send("node-b", [deliver(1)]);
    const second = t.transport.send("node-b", [deliver(2)]);
    await until(() => gates.length === 2, "two batches in the handler");
    const sqsBefore = t.bySqs.length;
    await t.transport.send("node-b", [deliver(3)]);
    expect(t.bySqs.slice(sqsBefore)).toEqual([[deliver(3)]]);
    expect(t.counters.fallbackBy.saturated).toBe(1);
    blocking = false;
    for (const g of gates) g();
    await Promise.all([first, second]);
    expect(t.bySqs.slice(sqsBefore)).toEqual([[deliver(3)]]);
  });

  it("a message over the frame limit goes by SQS alone; the rest of its batch goes over the link", async () => {
    const t = await setup({ maxFrameBytes: 2048 });
    expect(await t.open()).toBe(true);
    const big = deliver(2, Buffer.alloc(4096).toString("base64"));
    const sqsBefore = t.bySqs.length;
    await t.transport.send("node-b", [deliver(1), big, deliver(3)]);
    expect(t.bySqs.slice(sqsBefore)).toEqual([[big]]);
    expect(t.handled.at(-1)).toEqual([deliver(1), deliver(3)]);
    expect(t.counters.fallbackBy["too-large"]).toBe(1);
  });

  it("a NACK (the receiver's handler failed) sends the batch by SQS", async () => {
    let fail = false;
    const t = await setup({ handle: async () => { if (fail) throw new Error("store down"); } });
    expect(await t.open()).toBe(true);
    fail = true;
    const sqsBefore = t.bySqs.length;
    await t.transport.send("node-b", [deliver(7)]);
    expect(t.bySqs.slice(sqsBefore)).toEqual([[deliver(7)]]);
    expect(t.counters.fallbackBy.nack).toBe(1);
  });

  it("a listener that is another node (a stale address) never gets a batch: the link is refused, everything goes by SQS", async () => {
    const t = await setup({ nodeId: "node-c", peer: "node-b" });
    expect(await t.open()).toBe(false);
    expect(t.handled).toEqual([]);
    expect(t.serverCounters.acceptedLinks).toBe(0);
    expect(t.bySqs.length).toBeGreaterThan(0);
  });

  it("a listener with another secret refuses the sender, which sends everything by SQS", async () => {
    const t = await setup({ secret: "o".repeat(40) });
    expect(await t.open()).toBe(false);
    expect(t.handled).toEqual([]);
    expect(t.serverCounters.rejectedBy["bad-auth"]).toBeGreaterThan(0);
  });
});
